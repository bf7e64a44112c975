#!/usr/bin/env node
// Builds cryptfs:
//  1. tsc: type checks, and emits dist/ (the modules the tests import, the worker threads, and the
//     bin dist/src/cli/cryptfs.cjs, src/cli/cryptfs.cts).
//  2. The CLI bundled into one CommonJS file, dist/src/cli/cryptfs-bundle.cjs: Node's ES module
//     loader resolves, reads and compiles the ~70 modules an `lsf` needs one by one (~30 ms of a
//     cold start). CommonJS because only a script, not an ES module, can be compiled from V8's code
//     cache in Node 20. Dependencies stay in node_modules; the hash worker threads are started from
//     dist/src/remote/.
//     Beside it, dist/src/cli/cryptfs-prefetch.cjs: key-prefetch.ts and what it imports, which the
//     bin runs first so that scrypt overlaps with reading and compiling the program's bundle.
//     And dist/src/s3-sdk.cjs: what the S3 driver uses of the S3 SDK (src/remote/s3-sdk-entry.ts,
//     tree-shaken from the package's ES modules), loaded when an S3 remote is first used, with V8's
//     code cache of it from scripts/s3-sdk-cache.mjs (src/remote/s3-sdk.ts).
//  3. V8's code cache of the bundle, dist/src/cli/cryptfs-bundle.v8cache, made by running one
//     command (`lsf` of a new local crypt remote): it then holds that command's functions compiled.
//     The run is also a smoke test of the bundle: the build fails if it fails.
// Usage: node scripts/build.mjs [--no-tsc]
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);
const BIN = 'dist/src/cli/cryptfs.cjs';
const BUNDLE = 'dist/src/cli/cryptfs-bundle.cjs';
const CODE_CACHE = 'dist/src/cli/cryptfs-bundle.v8cache';
const PREFETCH_BUNDLE = 'dist/src/cli/cryptfs-prefetch.cjs';
const SDK_BUNDLE = 'dist/src/s3-sdk.cjs';
const SDK_CODE_CACHE = 'dist/src/s3-sdk.v8cache';

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

if (!process.argv.includes('--no-tsc')) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

const { build } = await import('esbuild');
try {
  const common = {
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // import.meta.url, which the modules use to find package.json, the addons and the workers.
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: ['scripts/bundle-import-meta.js'],
    // No comments or indentation: a third less to read and hash at every start. Names are kept
    // (stack traces name functions; the .map file maps lines back to src/).
    minifyWhitespace: true,
    logLevel: 'warning',
  };
  // The key prefetch on its own, which the bin runs before it reads the program's bundle: scrypt
  // then overlaps with loading the program (key-prefetch.ts).
  await build({ ...common, entryPoints: ['src/cli/key-prefetch.ts'], outfile: PREFETCH_BUNDLE });
  await build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: BUNDLE,
    // import() of a package (the S3 SDK, loaded when an S3 remote is first used) becomes require():
    // a script compiled by vm, as the bin runs the bundle, has no module loader for import().
    supported: { 'dynamic-import': false },
    sourcemap: 'linked',
    sourcesContent: false, // the map points into src/ of a checkout; the package stays small
  });
  await build({
    ...common,
    entryPoints: ['src/remote/s3-sdk-entry.ts'],
    outfile: SDK_BUNDLE,
    packages: undefined, // the SDK goes in
    // The package's ES modules, which esbuild can tree-shake to the commands the entry names.
    mainFields: ['module', 'main'],
    // A script run by vm has no module loader for import() (the SDK's lazily loaded credential providers).
    supported: { 'dynamic-import': false },
  });
} catch {
  fail('esbuild failed (its errors are above)');
}
// The bin reads the bundle as Latin-1 (faster than UTF-8 decoding); that is the same text only if
// it is ASCII, which esbuild's output is (non-ASCII escaped) once comments are gone.
for (const file of [BUNDLE, SDK_BUNDLE]) {
  if (/[^\x00-\x7f]/.test(readFileSync(file, 'latin1'))) fail(`${file} is not ASCII: it is read as Latin-1`);
}
chmodSync(BIN, 0o755);
rmSync(CODE_CACHE, { force: true });
rmSync(SDK_CODE_CACHE, { force: true });
const sdkCache = spawnSync(process.execPath, ['scripts/s3-sdk-cache.mjs'], {
  encoding: 'utf8',
  env: { ...process.env, CRYPTFS_WRITE_SDK_CODE_CACHE: '1' },
});
if (sdkCache.status !== 0 || !existsSync(SDK_CODE_CACHE)) fail(`making the S3 SDK's code cache failed: ${sdkCache.stderr}`);

// The code cache, from one real command.
const work = mkdtempSync(join(tmpdir(), 'cryptfs-build-'));
try {
  const store = join(work, 'store');
  mkdirSync(store);
  const run = (args, env = {}) =>
    spawnSync(process.execPath, [BIN, '--config', join(work, 'cryptfs.conf'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
  const obscured = run(['obscure', 'code-cache']);
  if (obscured.status !== 0) fail(`the bundle does not run: ${obscured.stderr}`);
  writeFileSync(
    join(work, 'cryptfs.conf'),
    `[cache]\ntype = crypt\nremote = ${store}\npassword = ${obscured.stdout.trim()}\n`,
  );
  const lsf = run(['lsf', 'cache:'], { CRYPTFS_WRITE_CODE_CACHE: '1' });
  if (lsf.status !== 0 || !existsSync(CODE_CACHE)) fail(`making the code cache failed: ${lsf.stderr}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
