#!/usr/bin/env node
// The `cryptfs` program (package.json's bin): runs the CLI bundled into one file
// (cryptfs-bundle.cjs, made by scripts/build.mjs) from V8's code cache of it. Resolving, reading
// and compiling ~70 separate ES modules was ~30 ms of every cold start, and compiling the bundle
// another ~30 ms; the cache, made at build time by this Node, skips the compiling. A cache V8
// rejects (another Node or V8 flags, another bundle) is ignored and the bundle compiled as usual.
// The cache holds compiled program code only: no data, no keys.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

const bundle = join(__dirname, 'cryptfs-bundle.cjs');
const cacheFile = join(__dirname, 'cryptfs-bundle.v8cache');
/** Set by scripts/build.mjs: compile without the cache and write a new one at exit. */
const writeCache = process.env.CRYPTFS_WRITE_CODE_CACHE === '1';
delete process.env.CRYPTFS_WRITE_CODE_CACHE; // not for child processes (mount --daemon)

// First the key prefetch, bundled on its own (key-prefetch.ts): scrypt for the crypt remotes on the
// command line then runs on the thread pool while the program's bundle is read and compiled.
try {
  require('./cryptfs-prefetch.cjs');
} catch {
  // not built: the program's own copy of it starts the prefetch
}

let cachedData: Buffer | undefined;
if (!writeCache) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // not built: compile from source
  }
}
// ASCII (scripts/build.mjs checks), so Latin-1 gives the same text without UTF-8 decoding. The
// bundle starts with esbuild's copy of the #! line: a comment in the wrapper, same length.
let source: string;
try {
  source = readFileSync(bundle, 'latin1').replace(/^#!/, '//');
} catch (err) {
  process.stderr.write(`cryptfs: the bundled program is missing (${(err as Error).message}): build it with \`npm run build\`\n`);
  process.exit(1);
}
const script = new Script(wrap(source), { filename: bundle, cachedData });
if (process.env.CRYPTFS_DEBUG_CODE_CACHE === '1') {
  const state = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  process.stderr.write(`code cache: ${state}\n`);
}
const run = script.runInThisContext() as (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
) => void;
if (writeCache) {
  // At exit the cache also holds the functions this run compiled (a whole command's worth).
  process.on('exit', () => {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
    renameSync(`${cacheFile}.tmp`, cacheFile);
  });
}
const bundleModule = { exports: {} };
run.call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, __dirname);
