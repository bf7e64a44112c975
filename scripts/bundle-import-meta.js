// Injected into the CommonJS bundle (scripts/build.mjs): what `import.meta.url` becomes there.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
