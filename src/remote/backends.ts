// Importing this module registers every backend with the registry.
// Adding a backend is one new file plus one line here.
import './local.js';
import './memory.js';
import './crypt.js';
import './s3.js';
import './swift.js';
