// Backend options as flags and environment, on-the-fly `:backend:` remotes,
// `help backend`, and secrets from commands — the same argv through cryptfs
// and the real rclone (1.60), which is the oracle: a missing rclone fails.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, expectSuccess, rcloneAvailable, rcloneBinary, runCryptfs, runRclone, type RunOptions } from '../../helpers/cli.js';
import { obscure } from '../../../src/crypt/obscure.js';

const work = mkdtempSync(join(tmpdir(), 'cryptfs-backend-flags-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
const store = join(work, 'store');
const src = join(work, 'src');
mkdirSync(store);
mkdirSync(join(src, 'sub'), { recursive: true });
writeFileSync(join(src, 'a.txt'), 'alpha\n');
writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n');
const PASSWORD = 'flag secret';
const OBSCURED = obscure(PASSWORD);
const OTHER = obscure('a different password');
const config = join(work, 'named.conf');
writeFileSync(config, `[named]\ntype = crypt\nremote = ${store}\npassword = ${OBSCURED}\n`);

before(async () => {
  if (!rcloneAvailable()) throw new Error(`rclone (${rcloneBinary()}) cannot be run: these tests need it as their oracle`);
  expectSuccess('rclone copy', await runRclone(['copy', src, 'named:'], { config }));
});

async function same(argv: string[], opts: RunOptions = {}): Promise<string> {
  const [ours, theirs] = await Promise.all([runCryptfs(argv, opts), runRclone(argv, opts)]);
  const what = `${argv.join(' ')}\n${describeRun('cryptfs', ours)}\n${describeRun('rclone', theirs)}`;
  assert.equal(ours.code, theirs.code, `exit codes: ${what}`);
  assert.equal(ours.stdout.toString(), theirs.stdout.toString(), `stdout: ${what}`);
  return ours.stdout.toString();
}

test('on-the-fly :crypt: configured by --crypt-* flags lists and reads what rclone wrote, as rclone does', async () => {
  const out = await same(['lsf', '-R', ':crypt:', '--crypt-remote', store, '--crypt-password', OBSCURED]);
  assert.equal(out, 'a.txt\nsub/\nsub/b.txt\n');
  assert.equal(await same(['--crypt-remote', store, '--crypt-password', OBSCURED, 'cat', ':crypt:sub/b.txt']), 'beta\n');
});

test('on-the-fly :crypt,remote=…,password=…: connection string, as rclone does', async () => {
  assert.equal(await same(['lsf', '-R', `:crypt,remote=${store},password=${OBSCURED}:`]), 'a.txt\nsub/\nsub/b.txt\n');
});

test('a flag beats the config file; an option inline in the spec beats the flag (rclone 1.60 precedence)', async () => {
  // A wrong password by flag: nothing decrypts (rclone lists nothing, exit 0).
  assert.equal(await same(['lsf', 'named:', '--crypt-password', OTHER], { config }), '');
  // The inline option wins over the flag again.
  assert.equal(await same(['lsf', `named,password=${OBSCURED}:`, '--crypt-password', OTHER], { config }), 'a.txt\nsub/\n');
  // A bool option as a flag: with file names unencrypted the encrypted names read as `.bin`-less garbage → skipped.
  await same(['lsf', 'named:', '--crypt-filename-encryption', 'off'], { config });
});

test('RCLONE_CRYPT_* environment configures an on-the-fly remote', async () => {
  const env = { RCLONE_CRYPT_REMOTE: store, RCLONE_CRYPT_PASSWORD: OBSCURED };
  assert.equal(await same(['lsf', ':crypt:'], { env }), 'a.txt\nsub/\n');
  const ours = expectSuccess('cryptfs lsf', await runCryptfs(['lsf', ':crypt:'], { env: { CRYPTFS_CRYPT_REMOTE: store, CRYPTFS_CRYPT_PASSWORD: OBSCURED } }));
  assert.equal(ours.stdout.toString(), 'a.txt\nsub/\n');
});

test('an unknown backend flag is an unknown flag, with a suggestion', async () => {
  const r = await runCryptfs(['lsf', ':crypt:', '--crypt-pasword', OBSCURED]);
  assert.equal(r.code, 1, describeRun('cryptfs', r));
  assert.match(r.stderr, /unknown flag: --crypt-pasword/);
  assert.match(r.stderr, /--crypt-password/);
});

test('help backend crypt lists every declared option as rclone does; help backend nosuch exits 1', async () => {
  const ours = expectSuccess('help backend crypt', await runCryptfs(['help', 'backend', 'crypt']));
  const theirs = expectSuccess('rclone help backend crypt', await runRclone(['help', 'backend', 'crypt']));
  const text = ours.stdout.toString();
  for (const flag of ['--crypt-remote', '--crypt-password', '--crypt-password2', '--crypt-filename-encryption', '--crypt-filename-encoding']) {
    assert.match(text, new RegExp(`^#### ${flag}$`, 'm'), flag);
    assert.match(theirs.stdout.toString(), new RegExp(`^#### ${flag}$`, 'm'), `rclone also has ${flag}`);
  }
  assert.match(text, /- Env Var: +RCLONE_CRYPT_PASSWORD\n/);
  assert.match(text, /^### Advanced options$/m);
  assert.match(text, /password_command/);
  const s3 = expectSuccess('help backend s3', await runCryptfs(['help', 'backend', 's3'])).stdout.toString();
  assert.match(s3, /^#### --s3-sse-customer-key$/m);
  assert.match(s3, /^#### --s3-secret-access-key-command$/m);
  const bad = await runCryptfs(['help', 'backend', 'nosuch']);
  const rbad = await runRclone(['help', 'backend', 'nosuch']);
  assert.equal(bad.code, rbad.code, `${describeRun('cryptfs', bad)}\n${describeRun('rclone', rbad)}`);
  assert.match(bad.stderr, /didn't find backend called "nosuch"/);
  const list = expectSuccess('help backends', await runCryptfs(['help', 'backends'])).stdout.toString();
  for (const t of ['crypt', 'local', 's3', 'swift']) assert.match(list, new RegExp(`^  ${t} `, 'm'));
  assert.ok(!/memory/.test(list), 'the test-only memory backend is not listed');
});

test('password_command: a key manager prints the password; rclone-written data reads, run once per process', async () => {
  const counter = join(work, 'runs');
  writeFileSync(counter, '');
  const cmd = `echo run >> '${counter}'; printf '  %s\\n\\n' '${PASSWORD}'`;
  const conf = join(work, 'command.conf');
  // Two remotes with the same command: `check` opens both, the key manager is asked once.
  const configText = `[km]\ntype = crypt\nremote = ${store}\npassword_command = ${cmd}\n\n[km2]\ntype = crypt\nremote = ${store}\npassword_command = ${cmd}\n`;
  writeFileSync(conf, configText);
  const r = expectSuccess('cryptfs lsf', await runCryptfs(['lsf', '-R', 'km:'], { config: conf }));
  assert.equal(r.stdout.toString(), 'a.txt\nsub/\nsub/b.txt\n');
  writeFileSync(counter, '');
  expectSuccess('cryptfs check', await runCryptfs(['check', 'km:', 'km2:'], { config: conf }));
  assert.equal(readFileSync(counter, 'utf8'), 'run\n', 'the command ran once for two remotes in one process');
  // What cryptfs writes with it, rclone reads with the stored password.
  const up = join(work, 'up.txt');
  writeFileSync(up, 'from a key manager\n');
  expectSuccess('cryptfs copy', await runCryptfs(['copy', up, 'km:'], { config: conf }));
  assert.equal(expectSuccess('rclone cat', await runRclone(['cat', 'named:up.txt'], { config })).stdout.toString(), 'from a key manager\n');
  // As a flag for an on-the-fly remote too.
  const f = expectSuccess('flag', await runCryptfs(['cat', ':crypt:a.txt', '--crypt-remote', store, '--crypt-password-command', `echo '${PASSWORD}'`]));
  assert.equal(f.stdout.toString(), 'alpha\n');
  // Nothing was written back to the config (no value cached there).
  assert.equal(readFileSync(conf, 'utf8'), configText);
});

test('password_command failures are errors naming the option; a command that prints nothing is not an empty password', async () => {
  const cases: Array<[string, RegExp]> = [
    ['echo nope >&2; exit 3', /km: password_command: command failed: exit status 3: nope/],
    ['printf "\\n  \\n"', /km: password_command: command printed nothing/],
    ['/nonexistent/key-manager get crypt', /km: password_command: command failed: exit status 127/],
  ];
  for (const [cmd, expected] of cases) {
    const conf = join(work, 'failing.conf');
    writeFileSync(conf, `[km]\ntype = crypt\nremote = ${store}\npassword_command = ${cmd}\n`);
    const r = await runCryptfs(['lsf', 'km:'], { config: conf });
    assert.notEqual(r.code, 0, describeRun('cryptfs', r));
    assert.match(r.stderr, expected, describeRun('cryptfs', r));
    assert.equal(r.stdout.toString(), '');
  }
  const conf = join(work, 'both.conf');
  writeFileSync(conf, `[km]\ntype = crypt\nremote = ${store}\npassword = ${OBSCURED}\npassword_command = echo x\n`);
  const both = await runCryptfs(['lsf', 'km:'], { config: conf });
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /both password and password_command are set/);
});

test('a plain password stored unobscured that reveals to non-UTF-8 bytes is an error, not a silently different key', async () => {
  const conf = join(work, 'raw.conf');
  writeFileSync(conf, `[raw]\ntype = crypt\nremote = ${join(work, 'raw-store')}\npassword = passwordpasswordpasswordpassword\n`);
  const r = await runCryptfs(['lsf', 'raw:'], { config: conf });
  assert.equal(r.code, 1, describeRun('cryptfs', r));
  assert.match(r.stderr, /raw: password does not reveal to text: it looks like a plain password stored without being obscured/);
  assert.match(r.stderr, /allow_binary_password/);
});

test('server_side_across_configs is accepted as rclone accepts it, with a notice that it has no effect here', async () => {
  const argv = ['lsf', '-R', 'named:', '--crypt-server-side-across-configs'];
  assert.match(await same(argv, { config }), /^sub\/b\.txt$/m);
  const r = await runCryptfs(argv, { config });
  assert.match(r.stderr, /NOTICE: named: server_side_across_configs has no effect in cryptfs/, describeRun('cryptfs', r));
});
