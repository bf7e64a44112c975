// size, tree, rcat, touch and about: outputs compared with the real rclone's
// (required) on the same trees, over local disk and a crypt remote.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { parseTouchTime } from '../../../src/cli/commands/misc.js';
import { runMain } from '../../helpers/run-main.js';
import { rcloneBinary, rcloneSkipReason } from '../../helpers/cli.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-misc-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const conf = join(root, 'rclone.conf');
const encDir = join(root, 'enc');
fs.writeFileSync(conf, `[sec]\ntype = crypt\nremote = ${encDir}\npassword = ${obscure('misc one')}\npassword2 = ${obscure('misc two')}\n`);
const skip = rcloneSkipReason(); // rclone is required: fails without it, unless --allow-skip

interface Result {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], stdin?: NodeJS.ReadableStream): Promise<Result> {
  return runMain(['--config', conf, ...argv], stdin);
}

function runRclone(argv: string[], input?: Buffer): Result {
  const r = spawnSync(rcloneBinary(), ['--config', conf, ...argv], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const tree = join(root, 'tree');
const files: Record<string, number> = {
  'a.txt': 5,
  'b/c.bin': 1_048_576,
  'b/d/e.dat': 1023,
  'b/d/f.dat': 0,
  'g h/ünï.txt': 70_000,
  'z.bin': 1_294_336,
};
for (const [p, n] of Object.entries(files)) {
  fs.mkdirSync(dirname(join(tree, p)), { recursive: true });
  fs.writeFileSync(join(tree, p), Buffer.alloc(n, 0x61));
}

test('size: rclone\'s two lines (and --json), on local and crypt, with filters', { skip }, async () => {
  const r = await cli(['size', tree]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Total objects: 6 (6)\nTotal size: 2.302 MiB (2413940 Byte)\n');
  const sync = await cli(['sync', tree, 'sec:']);
  assert.equal(sync.code, 0, sync.err);
  const c = await cli(['size', 'sec:']);
  assert.equal(c.out, r.out, 'crypt reports plaintext sizes');
  const j = await cli(['size', tree, '--json']);
  assert.deepEqual(JSON.parse(j.out), { count: 6, bytes: 2413940, sizeless: 0 });
  const one = await cli(['size', join(tree, 'z.bin')]);
  assert.equal(one.out, 'Total objects: 1 (1)\nTotal size: 1.234 MiB (1294336 Byte)\n');
  const filtered = await cli(['size', tree, '--include', '*.dat']);
  assert.equal(filtered.out, 'Total objects: 2 (2)\nTotal size: 1023 B (1023 Byte)\n');
  const missing = await cli(['size', join(root, 'nope')]);
  assert.equal(missing.code, 3);
  assert.match(missing.err, /ERROR : : error listing: directory not found/);
  for (const args of [[tree], ['sec:'], [tree, '--json'], [join(tree, 'z.bin')], [tree, '--include', '*.dat']]) {
    assert.equal((await cli(['size', ...args])).out, runRclone(['size', ...args]).out, `size ${args}`);
  }
  assert.equal(runRclone(['size', join(root, 'nope')]).code, 3);
});

test('tree: the same drawing as rclone', { skip }, async () => {
  for (const args of [[tree], ['sec:'], [tree, '-s', '--dirsfirst'], [tree, '--level', '1'], [join(root, 'empty-dir-for-tree')]]) {
    if (args[0].endsWith('empty-dir-for-tree')) fs.mkdirSync(args[0], { recursive: true });
    const ours = await cli(['tree', ...args]);
    const theirs = runRclone(['tree', ...args]);
    assert.equal(ours.code, theirs.code);
    assert.equal(ours.out, theirs.out, `tree ${args.join(' ')}`);
  }
});

test('rcat streams stdin to a file, also through crypt; rclone reads the result', { skip }, async () => {
  const small = await cli(['rcat', join(root, 'rcat/hello.txt'), '-v'], Readable.from([Buffer.from('hello\n')]));
  assert.equal(small.code, 0, small.err);
  assert.match(small.err, /INFO {2}: hello\.txt: Copied \(new\)/);
  assert.equal(fs.readFileSync(join(root, 'rcat/hello.txt'), 'utf8'), 'hello\n');
  const empty = await cli(['rcat', join(root, 'rcat/empty')], Readable.from([]));
  assert.equal(empty.code, 0);
  assert.equal(fs.statSync(join(root, 'rcat/empty')).size, 0);

  // 5 MiB in 64 KiB pieces from a generator: size unknown up front, never one buffer.
  const hash = createHash('md5');
  async function* pieces() {
    for (let i = 0; i < 80; i++) {
      const b = Buffer.alloc(65_536, i);
      hash.update(b);
      yield b;
    }
  }
  const big = await cli(['rcat', 'sec:streamed/big.bin'], Readable.from(pieces()));
  assert.equal(big.code, 0, big.err);
  const back = await cli(['cat', 'sec:streamed/big.bin']);
  assert.equal(createHash('md5').update(back.out, 'latin1').digest('hex'), hash.digest('hex'));
  const r = spawnSync(rcloneBinary(), ['--config', conf, 'cat', 'sec:streamed/big.bin'], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0);
  assert.equal(r.stdout.length, 80 * 65_536);
  assert.equal(createHash('md5').update(r.stdout).digest('hex'), createHash('md5').update(back.out, 'latin1').digest('hex'));
  const dir = await cli(['rcat', `${join(root, 'rcat')}/`], Readable.from([Buffer.from('x')]));
  assert.equal(dir.code, 1);
  assert.match(dir.err, /is a directory/);
});

test('touch: create, set a given time, --no-create, --dry-run, bad timestamps', { skip }, async () => {
  const d = join(root, 'touch');
  fs.mkdirSync(d);
  const create = await cli(['touch', join(d, 'new.txt')]);
  assert.equal(create.code, 0, create.err);
  assert.equal(fs.statSync(join(d, 'new.txt')).size, 0);
  assert.ok(Math.abs(fs.statSync(join(d, 'new.txt')).mtimeMs - Date.now()) < 10_000);

  assert.equal((await cli(['touch', join(d, 'new.txt'), '-t', '2020-01-02T03:04:05'])).code, 0);
  assert.equal(fs.statSync(join(d, 'new.txt')).mtime.toISOString(), '2020-01-02T03:04:05.000Z');
  assert.equal((await cli(['touch', join(d, 'short'), '--timestamp', '200102'])).code, 0);
  assert.equal(fs.statSync(join(d, 'short')).mtime.toISOString(), '2020-01-02T00:00:00.000Z');
  assert.equal(parseTouchTime('2006-01-02T15:04:05.123456789', false).toISOString(), '2006-01-02T15:04:05.123Z');
  assert.equal(parseTouchTime('691231', false).getUTCFullYear(), 1969);

  const noCreate = await cli(['touch', join(d, 'absent'), '-C']);
  assert.equal(noCreate.code, 0);
  assert.match(noCreate.err, /NOTICE: Local file system at .*: Not touching nonexistent file due to --no-create/);
  assert.equal(fs.existsSync(join(d, 'absent')), false);
  const dry = await cli(['touch', join(d, 'dry'), '--dry-run']);
  assert.match(dry.err, /Skipped touch \(create\) as --dry-run is set/);
  assert.equal(fs.existsSync(join(d, 'dry')), false);

  const bad = await cli(['touch', join(d, 'bad'), '-t', '2020-01-02 03:04:05', '--retries', '1']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /Failed to touch: failed to parse timestamp argument: parsing time "2020-01-02 03:04:05"/);
  assert.equal(runRclone(['touch', join(d, 'bad2'), '-t', '2020-01-02 03:04:05', '--retries', '1']).code, 1);
  // The same instant as rclone's for each format.
  for (const t of ['2021-06-07T08:09:10', '210607', '2021-06-07T08:09:10.5']) {
    assert.equal((await cli(['touch', join(d, 'ours'), '-t', t])).code, 0);
    assert.equal(runRclone(['touch', join(d, 'theirs'), '-t', t]).code, 0);
    assert.equal(fs.statSync(join(d, 'ours')).mtimeMs, fs.statSync(join(d, 'theirs')).mtimeMs, t);
  }

  // Through crypt: the ciphertext's mtime is what rclone shows as the file's time.
  assert.equal((await cli(['touch', 'sec:touched.txt', '-t', '2019-05-06T07:08:09'])).code, 0);
  const lsl = await cli(['lsl', 'sec:touched.txt']);
  assert.match(lsl.out, /^ +0 2019-05-06 \d\d:08:09\.000000000 touched\.txt\n$/);
  assert.match(runRclone(['lsl', 'sec:touched.txt']).out, / +0 2019-05-06 \d\d:08:09\.000000000 touched\.txt/);
});

test('about: Total/Used/Free where the backend can tell; a clear error where not', { skip }, async () => {
  const r = await cli(['about', root]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Total: {3}\d+(\.\d{3})? [KMGTP]iB\nUsed: {4}\d+(\.\d{3})? [KMGTP]?i?B\nFree: {4}\d+(\.\d{3})? [KMGTP]iB\n$/);
  const full = await cli(['about', root, '--full']);
  assert.match(full.out, /^Total: {3}\d+\nUsed: {4}\d+\nFree: {4}\d+\n$/);
  const json = JSON.parse((await cli(['about', root, '--json'])).out) as Record<string, number>;
  assert.deepEqual(Object.keys(json), ['total', 'used', 'free']);
  assert.ok(json.total >= json.free);
  const viaCrypt = JSON.parse((await cli(['about', 'sec:', '--json'])).out) as Record<string, number>;
  assert.equal(viaCrypt.total, json.total, 'crypt passes the underlying figures through');
  const theirs = JSON.parse(runRclone(['about', root, '--json']).out) as Record<string, number>;
  assert.equal(json.total, theirs.total);
  const none = await cli(['about', ':memory:']);
  assert.equal(none.code, 1);
  assert.match(none.err, /Failed to about: .* doesn't support about/);
});
