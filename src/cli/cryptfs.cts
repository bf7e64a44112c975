#!/usr/bin/env node
// The `cryptfs` program (package.json's bin): runs the CLI bundled into one file
// (cryptfs-bundle.cjs, made by scripts/build.mjs) from V8's code cache of it (cached-script.cts).
// Resolving, reading and compiling ~70 separate ES modules was ~30 ms of every cold start, and
// compiling the bundle another ~30 ms; the cache, made at build time by this Node, skips the
// compiling.
import { join } from 'node:path';
import { loadCachedScript, type CachedScript } from '../cached-script.cjs';

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

let program: CachedScript;
try {
  program = loadCachedScript(bundle, cacheFile, writeCache);
} catch (err) {
  process.stderr.write(`cryptfs: the bundled program is missing (${(err as Error).message}): build it with \`npm run build\`\n`);
  process.exit(1);
}
if (process.env.CRYPTFS_DEBUG_CODE_CACHE === '1') process.stderr.write(`code cache: ${program.cache}\n`);
program.run();
