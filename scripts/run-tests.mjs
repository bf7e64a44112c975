#!/usr/bin/env node
// Builds the project, runs the unit and integration suites with Node's test
// runner, and ends with one line summing the whole run: "N passed, N failed[, N skipped]".
// Usage: node scripts/run-tests.mjs [unit|integration|all] [--filter substring] [--allow-skip]
//
// A test whose required tool (rclone, FUSE, the object store, util-linux `script`, ...) is
// missing FAILS, naming the tool. With --allow-skip (passed to the tests as
// CRYPTFS_ALLOW_SKIP=1) it skips instead, and the summary lists the skip reasons.
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync, statSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);
const args = process.argv.slice(2);
const which = args.find((a) => ['unit', 'integration', 'all'].includes(a)) ?? 'all';
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : undefined;
const allowSkip = args.includes('--allow-skip');
// Only the flag allows skips: a CRYPTFS_ALLOW_SKIP left in the caller's environment does not.
const testEnv = { ...process.env };
delete testEnv.CRYPTFS_ALLOW_SKIP;
if (allowSkip) testEnv.CRYPTFS_ALLOW_SKIP = '1';

// tsc, then the bundled CLI (dist/src/cli/cryptfs-bundle.cjs, run by the bin cryptfs.cjs) that the CLI and mount tests run.
const build = spawnSync(process.execPath, ['scripts/build.mjs'], {
  stdio: 'inherit',
});
if (build.status !== 0) {
  console.log('build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    // Only built files whose source still exists: a test moved or deleted in test/ leaves
    // its old .js in dist/, which must not run (or count) any more.
    else if (name.endsWith('.test.js') && existsSync(join(root, relative('dist', p)).replace(/\.js$/, '.ts'))) out.push(p);
  }
  return out;
}

const suites = which === 'all' ? ['unit', 'integration'] : [which];
const totals = { pass: 0, fail: 0, skip: 0 };
/** Skip reason -> how many tests skipped with it, over the whole run. */
const skipReasons = new Map();
mkdirSync('.tmp', { recursive: true });

// The integration suite needs the loopback object store (Swift + s3api). Start it
// once for the whole run, and stop it afterwards only if this run started it.
let startedObjectStore = false;
function objstore(cmd) {
  return spawnSync('bash', ['scripts/objstore-server.sh', cmd], { stdio: ['ignore', 'ignore', 'inherit'] }).status;
}
process.on('exit', () => {
  if (startedObjectStore) objstore('stop');
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

for (const suite of suites) {
  let files = findTests(join('dist', 'test', suite));
  if (filter) files = files.filter((f) => f.includes(filter));
  if (files.length === 0) continue;
  if (suite === 'integration' && existsSync('scripts/objstore-server.sh') && objstore('status') !== 0) {
    const t0 = Date.now();
    if (objstore('start') === 0) {
      startedObjectStore = true;
      console.log(`object store started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      // The tests that need it fail (skip with a message under --allow-skip); the rest still run.
      console.log('WARNING: the object store could not be started');
    }
  }
  console.log(`\n=== ${suite} tests (${files.length} files) ===`);
  const tap = join('.tmp', `${suite}.tap`);
  const code = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-concurrency=1',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...files,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...testEnv, CRYPTFS_TEST_SUITE: suite } },
    );
    child.on('exit', (c) => resolve(c ?? 1));
  });
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const num = (k) => {
    const m = text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  const pass = num('pass');
  const fail = num('fail') + num('cancelled');
  const skip = num('skipped') + num('todo');
  totals.pass += pass;
  totals.fail += fail;
  totals.skip += skip;
  for (const m of text.matchAll(/^\s*ok \d+ - .*# (?:SKIP|TODO)\b ?(.*)$/gm)) {
    const reason = m[1].trim() || '(no reason given)';
    skipReasons.set(reason, (skipReasons.get(reason) ?? 0) + 1);
  }
  if (code !== 0 && fail === 0) totals.fail += 1; // the runner itself failed
  console.log(`--- ${suite}: ${pass} passed, ${fail} failed, ${skip} skipped (${relative(root, tap)})`);
}

if (skipReasons.size) {
  console.log(`skipped${allowSkip ? ' (--allow-skip)' : ''}:`);
  for (const [reason, n] of skipReasons) console.log(`  ${n} × ${reason}`);
}
const line = `${totals.pass} passed, ${totals.fail} failed` + (totals.skip ? `, ${totals.skip} skipped` : '');
console.log(line);
process.exit(totals.fail > 0 || totals.pass === 0 ? 1 : 0);
