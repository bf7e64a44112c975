// Damaged ciphertext through the CLI: flipped bytes (header, first chunk,
// a middle chunk, last chunk), truncations and wrong passwords must each give a
// non-zero exit with a message naming the problem, and never one byte of an
// unauthenticated chunk on stdout; a copy of a damaged file must not leave a
// complete-looking destination file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, expectSuccess, rcloneSkipReason, runCryptfs, runRclone, type RunResult } from '../../helpers/cli.js';

const CHUNK = 65536;
const SEALED = CHUNK + 16;
const HEADER = 32;
/** Six chunks, the last one partial. */
const PLAIN_SIZE = 5 * CHUNK + 1000;
const ENC_SIZE = HEADER + 5 * SEALED + 1000 + 16;

type Damage = { flip: number } | { truncate: number };

interface Case {
  name: string;
  damage: Damage;
  /** Index of the first chunk that cannot be authenticated: nothing from it on may be output. */
  badChunk: number;
  message: RegExp;
}

const AUTH = /failed to authenticate/i;
const CASES: Case[] = [
  { name: 'magic', damage: { flip: 3 }, badChunk: 0, message: /bad magic/i },
  { name: 'nonce', damage: { flip: 8 + 11 }, badChunk: 0, message: AUTH },
  { name: 'chunk0-tag', damage: { flip: HEADER + 5 }, badChunk: 0, message: AUTH },
  { name: 'chunk0-data', damage: { flip: HEADER + 16 + 4321 }, badChunk: 0, message: AUTH },
  { name: 'chunk3-data', damage: { flip: HEADER + 3 * SEALED + 16 + 999 }, badChunk: 3, message: AUTH },
  { name: 'last-chunk', damage: { flip: ENC_SIZE - 1 }, badChunk: 5, message: AUTH },
  // Cut inside chunk 2: what is left of it looks like a short final chunk that fails authentication.
  { name: 'truncated-mid-chunk', damage: { truncate: HEADER + 2 * SEALED + 700 }, badChunk: 2, message: /failed to authenticate|truncated|unexpected EOF/i },
  // 10 bytes after the header cannot even hold a tag.
  { name: 'truncated-header+10', damage: { truncate: HEADER + 10 }, badChunk: 0, message: /truncated/i },
  { name: 'truncated-too-short', damage: { truncate: 20 }, badChunk: 0, message: /too short/i },
];

interface Setup {
  tmp: string;
  config: string;
  plain: Buffer;
  enc: string;
}

async function obscure(password: string): Promise<string> {
  const r = expectSuccess('cryptfs obscure', await runCryptfs(['obscure', '-'], { input: password + '\n' }));
  return r.stdout.toString('utf8').trim();
}

async function setUp(): Promise<Setup> {
  const tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-damage-'));
  const enc = join(tmp, 'enc');
  const encStd = join(tmp, 'enc-std');
  await fsp.mkdir(enc);
  await fsp.mkdir(encStd);
  const [pw, pw2, other, other2] = await Promise.all(
    [0, 1, 2, 3].map(() => obscure(randomBytes(18).toString('base64'))),
  );
  // File names in clear (off) so the content check is reached even with the wrong password.
  const section = (name: string, remote: string, p: string, p2: string, extra = '') =>
    `[${name}]\ntype = crypt\nremote = ${remote}\npassword = ${p}\npassword2 = ${p2}\n${extra}`;
  const config = join(tmp, 'rclone.conf');
  await fsp.writeFile(
    config,
    [
      section('dmg', enc, pw, pw2, 'filename_encryption = off\n'),
      section('wrongpw', enc, other, pw2, 'filename_encryption = off\n'),
      section('wrongsalt', enc, pw, other2, 'filename_encryption = off\n'),
      section('std', encStd, pw, pw2),
      section('stdwrong', encStd, other, pw2),
    ].join('\n'),
    { mode: 0o600 },
  );
  const plain = randomBytes(PLAIN_SIZE);
  const src = join(tmp, 'src');
  await fsp.mkdir(src);
  for (const c of [...CASES.map((c) => c.name), 'pristine']) await fsp.writeFile(join(src, c), plain);
  expectSuccess('cryptfs copy', await runCryptfs(['copy', src, 'dmg:'], { config }));
  expectSuccess('cryptfs copy', await runCryptfs(['copy', join(src, 'pristine'), 'std:'], { config }));
  await fsp.rm(src, { recursive: true });
  for (const c of CASES) {
    const file = join(enc, `${c.name}.bin`);
    assert.equal((await fsp.stat(file)).size, ENC_SIZE, `encrypted size of ${c.name}`);
    if ('flip' in c.damage) {
      const fh = await fsp.open(file, 'r+');
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, c.damage.flip);
      b[0] ^= 0x20;
      await fh.write(b, 0, 1, c.damage.flip);
      await fh.close();
    } else {
      await fsp.truncate(file, c.damage.truncate);
    }
  }
  return { tmp, config, plain, enc };
}

/**
 * The output of a failed read: a prefix of `expected` (the plaintext from the read's
 * offset), ending on a chunk boundary of the file no later than the start of `badChunk`.
 */
function assertSafePrefix(r: RunResult, expected: Buffer, offset: number, badChunk: number, what: string): void {
  const out = r.stdout;
  assert.ok(out.length <= expected.length, `${what}: more output than plaintext`);
  assert.ok(out.equals(expected.subarray(0, out.length)), `${what}: output is not a prefix of the plaintext`);
  const end = offset + out.length;
  if (out.length > 0) assert.equal(end % CHUNK, 0, `${what}: output stops at ${end}, inside a chunk`);
  assert.ok(end <= Math.max(offset, badChunk * CHUNK), `${what}: output reaches ${end}, past the damaged chunk ${badChunk}`);
}

async function listDir(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir).catch(() => [] as string[])).sort();
}

describe('damaged ciphertext through the CLI', { concurrency: 2 }, () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    if (s) await fsp.rm(s.tmp, { recursive: true, force: true });
  });
  const cfg = () => ({ config: s.config });

  it('the undamaged file reads back exactly (control)', async () => {
    const r = expectSuccess('cat pristine', await runCryptfs(['cat', 'dmg:pristine'], cfg()));
    assert.ok(r.stdout.equals(s.plain));
    const std = expectSuccess('cat std:pristine', await runCryptfs(['cat', 'std:pristine'], cfg()));
    assert.ok(std.stdout.equals(s.plain));
  });

  for (const c of CASES) {
    it(`${c.name}: cat fails clearly and outputs no unauthenticated byte; rclone refuses it too`, async (t) => {
      const r = await runCryptfs(['cat', `dmg:${c.name}`], cfg());
      const what = describeRun(`cat ${c.name}`, r);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, c.message, what);
      assertSafePrefix(r, s.plain, 0, c.badChunk, what);
      // The damage is real: rclone refuses the file too (rclone is required).
      const noRclone = rcloneSkipReason();
      if (noRclone) return t.skip(noRclone);
      const theirs = await runRclone(['cat', `dmg:${c.name}`], cfg());
      assert.notEqual(theirs.code, 0, describeRun(`rclone cat ${c.name}`, theirs));
    });

    it(`${c.name}: ranged cat fails too when the range covers the damage`, async () => {
      // From inside chunk 0 to the end: always covers the damaged chunk.
      const offset = 100;
      const r = await runCryptfs(['cat', '--offset', String(offset), `dmg:${c.name}`], cfg());
      const what = describeRun(`cat --offset ${offset} ${c.name}`, r);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, c.message, what);
      assertSafePrefix(r, s.plain.subarray(offset), offset, c.badChunk, what);
    });

    it(`${c.name}: copy fails and leaves no destination file`, async () => {
      const out = join(s.tmp, 'out', c.name);
      await fsp.mkdir(out, { recursive: true });
      const r = await runCryptfs(['copy', `dmg:${c.name}`, out], cfg());
      const what = describeRun(`copy ${c.name}`, r);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, c.message, what);
      assert.deepEqual(await listDir(out), [], `${what}\nleft behind: ${(await listDir(out)).join(', ')}`);
      // The whole remote, too: the damaged file fails, every other file arrives.
      const all = join(s.tmp, 'out-all', c.name);
      const r2 = await runCryptfs(['copy', 'dmg:', all], cfg());
      assert.notEqual(r2.code, 0, describeRun('copy dmg:', r2));
      const left = await listDir(all);
      assert.ok(!left.includes(c.name), `copy of the whole remote created ${c.name}`);
      assert.ok(!left.some((n) => n.startsWith('.cryptfs-partial')), `partial files left: ${left.join(', ')}`);
      assert.ok(left.includes('pristine'), 'the undamaged file was not copied');
    });
  }

  it('a range that avoids the damaged chunk still reads (random access reads only what it needs)', async () => {
    // chunk3-data is damaged only in chunk 3; chunks 0-2 and 4-5 authenticate on their own.
    for (const [offset, count] of [
      [4 * CHUNK + 10, 2000],
      [CHUNK - 5, CHUNK + 10],
    ]) {
      const r = expectSuccess(
        `cat --offset ${offset} --count ${count}`,
        await runCryptfs(['cat', '--offset', String(offset), '--count', String(count), 'dmg:chunk3-data'], cfg()),
      );
      assert.ok(r.stdout.equals(s.plain.subarray(offset, offset + count)), `range ${offset}+${count}`);
    }
    // Starting in chunk 1 and running into chunk 3: stops at the end of chunk 2 at the latest.
    const offset = CHUNK + 7;
    const r = await runCryptfs(['cat', '--offset', String(offset), 'dmg:chunk3-data'], cfg());
    assert.notEqual(r.code, 0, describeRun('cat into chunk 3', r));
    assertSafePrefix(r, s.plain.subarray(offset), offset, 3, describeRun('cat into chunk 3', r));
  });

  for (const remote of ['wrongpw', 'wrongsalt']) {
    it(`${remote}: a wrong password fails authentication, outputs nothing and copies nothing`, async () => {
      const r = await runCryptfs(['cat', `${remote}:pristine`], cfg());
      const what = describeRun(`cat ${remote}:pristine`, r);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, AUTH, what);
      assert.equal(r.stdout.length, 0, `${what}: output with a wrong password`);
      const out = join(s.tmp, 'out', remote);
      await fsp.mkdir(out, { recursive: true });
      const c = await runCryptfs(['copy', `${remote}:pristine`, out], cfg());
      assert.notEqual(c.code, 0, describeRun(`copy ${remote}:pristine`, c));
      assert.deepEqual(await listDir(out), []);
    });
  }

  it('wrong password with encrypted names: the file is not found, nothing is output', async () => {
    const r = await runCryptfs(['cat', 'stdwrong:pristine'], cfg());
    assert.notEqual(r.code, 0, describeRun('cat stdwrong:pristine', r));
    assert.match(r.stderr, /not found/i, describeRun('cat stdwrong:pristine', r));
    assert.equal(r.stdout.length, 0);
  });
});
