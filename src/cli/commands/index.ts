// Importing this module registers every command.
import './list.js';
import './files.js';
import './tools.js';
import './config.js';
import './sync.js';
import './check.js';
import './hashsum.js';
import './lsjson.js';
import './misc.js';
import './mount.js';
import './umount.js';
import './completion.js';
import './seal.js';
