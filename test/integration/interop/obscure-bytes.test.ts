// obscure/reveal as bytes, checked against the real rclone binary: a raw password
// that happens to be base64url reveals to arbitrary bytes, both tools must print
// and derive keys from the same bytes, and obscure must take bytes that are not
// UTF-8 (on the command line and on stdin) as they are.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cryptfsMain,
  describeRun,
  expectSuccess,
  rcloneBinary,
  rcloneSkipReason,
  runCryptfs,
  runRclone,
  scrubbedEnv,
} from '../../helpers/cli.js';

// A missing rclone fails this file (skips it under --allow-skip): these vectors mean nothing without it.
const skip = rcloneSkipReason();

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-obscure-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

// Obscured values may start with '-': they are passed after '--'.

/** Values people paste unobscured that still reveal (base64url of 16+ bytes), real obscured values, and bad ones. */
const REVEAL_VECTORS = [
  'passwordpasswordpasswordpassword', // 24 bytes: 8 of payload, most not UTF-8
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'correct-horse_battery-staple-correct-horse',
  'hunter2hunter2hunter2hunter2hunt',
  'YmFzZTY0LWxvb2tpbmctcmF3LXZhbHVlLXRoYXQtcmV2ZWFscw', // no padding, length % 4 == 2
  'iG0NUOI-0Xt8xf9UkG4bzZkEoazCxuvv3l4', // an ordinary obscured text
  'hunter22', // too short
  'not/base64*at-all', // illegal characters
];

test('reveal prints the same bytes as `rclone reveal`, and fails where it fails', { skip }, async () => {
  for (const v of REVEAL_VECTORS) {
    const ours = await runCryptfs(['reveal', v]);
    const theirs = await runRclone(['reveal', v]);
    assert.equal(ours.code === 0, theirs.code === 0, `${v}: exit codes\n${describeRun('cryptfs', ours)}\n${describeRun('rclone', theirs)}`);
    assert.deepEqual(ours.stdout, theirs.stdout, `${v}: revealed bytes`);
  }
});

/** Runs `<cmd...> "$(printf OCTAL)"` through sh, so the argument reaches the program as raw bytes. */
function runWithRawArg(command: string[], bytes: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const octal = [...bytes].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  const r = spawnSync('sh', ['-c', `exec "$@" "$(printf '${octal}')"`, 'sh', ...command], { env: scrubbedEnv() });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

const RAW_VALUES = [
  Buffer.from([0x3d, 0xed, 0xbc, 0xbd, 0x28, 0x54, 0x86, 0xbd]), // not UTF-8
  Buffer.from('p\xe4ssw\xf6rd', 'latin1'), // Latin-1, as an old terminal would send it
  Buffer.from('pässwörd', 'utf8'),
];

test('obscure takes a command-line argument that is not UTF-8 as its bytes, as rclone does', { skip }, () => {
  const conf = join(root, 'empty.conf');
  fs.writeFileSync(conf, '');
  for (const raw of RAW_VALUES) {
    const ours = runWithRawArg([process.execPath, cryptfsMain(), '--config', conf, 'obscure'], raw);
    assert.equal(ours.code, 0, ours.stderr);
    const back = runWithRawArg([rcloneBinary(), '--config', conf, 'reveal', '--'], Buffer.from(ours.stdout.toString().trim()));
    assert.deepEqual(back.stdout, Buffer.concat([raw, Buffer.from('\n')]), `rclone reveals cryptfs's obscure of ${raw.toString('hex')}`);
    const theirs = runWithRawArg([rcloneBinary(), '--config', conf, 'obscure'], raw);
    const mine = runWithRawArg([process.execPath, cryptfsMain(), '--config', conf, 'reveal', '--'], Buffer.from(theirs.stdout.toString().trim()));
    assert.deepEqual(mine.stdout, Buffer.concat([raw, Buffer.from('\n')]), `cryptfs reveals rclone's obscure of ${raw.toString('hex')}`);
  }
});

test('obscure - reads the first line of stdin as bytes (an empty pipe is the empty password), as rclone does', { skip }, async () => {
  const inputs = [
    Buffer.concat([RAW_VALUES[0], Buffer.from('\r\nsecond line\n')]),
    Buffer.from('plain words\n'),
    Buffer.from('no newline at all'),
    Buffer.alloc(0),
  ];
  for (const input of inputs) {
    const ours = expectSuccess('cryptfs obscure -', await runCryptfs(['obscure', '-'], { input }));
    const theirs = expectSuccess('rclone obscure -', await runRclone(['obscure', '-'], { input }));
    const ourPlain = expectSuccess('rclone reveal', await runRclone(['reveal', '--', ours.stdout.toString().trim()])).stdout;
    const theirPlain = expectSuccess('rclone reveal', await runRclone(['reveal', '--', theirs.stdout.toString().trim()])).stdout;
    assert.deepEqual(ourPlain, theirPlain, `obscure - of ${JSON.stringify(input.toString('latin1'))}`);
  }
});

test('a crypt password stored unobscured that reveals to non-UTF-8 bytes: refused by default, and with allow_binary_password the same keys in both tools', { skip }, async () => {
  const store = join(root, 'store');
  const conf = join(root, 'raw-password.conf');
  // A user's mistake rclone accepts: a plain password that happens to be base64url.
  fs.writeFileSync(conf, `[raw]\ntype = crypt\nremote = ${store}\npassword = passwordpasswordpasswordpassword\n`);
  const refused = await runCryptfs(['lsf', 'raw:'], { config: conf });
  assert.equal(refused.code, 1, describeRun('cryptfs', refused));
  assert.match(refused.stderr, /password does not reveal to text/);
  // The escape hatch for data rclone already wrote that way (rclone ignores the key).
  fs.appendFileSync(conf, 'allow_binary_password = true\n');
  const src = join(root, 'src');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(join(src, 'written by rclone.txt'), 'same keys\n');
  expectSuccess('rclone copy', await runRclone(['copy', src, 'raw:'], { config: conf }));
  const ls = expectSuccess('cryptfs lsf', await runCryptfs(['lsf', 'raw:'], { config: conf }));
  assert.equal(ls.stdout.toString(), 'written by rclone.txt\n', ls.stderr);
  const cat = expectSuccess('cryptfs cat', await runCryptfs(['cat', 'raw:written by rclone.txt'], { config: conf }));
  assert.equal(cat.stdout.toString(), 'same keys\n');
  fs.writeFileSync(join(src, 'written by cryptfs.txt'), 'both ways\n');
  expectSuccess('cryptfs copy', await runCryptfs(['copy', join(src, 'written by cryptfs.txt'), 'raw:'], { config: conf }));
  const back = expectSuccess('rclone cat', await runRclone(['cat', 'raw:written by cryptfs.txt'], { config: conf }));
  assert.equal(back.stdout.toString(), 'both ways\n');
});
