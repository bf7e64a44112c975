// cli/key-prefetch.ts: which crypt passwords a command line names, and when it must not guess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptPasswordsNamedIn } from '../../../src/cli/key-prefetch.js';
import { obscure } from '../../../src/crypt/obscure.js';
import { encryptConfig, configKeyFromPassword } from '../../../src/config/encrypted-config.js';

const CONF = '/conf/cryptfs.conf';
const text = [
  '[vault]',
  'type = crypt',
  'remote = /store',
  `password = ${obscure('pw-vault')}`,
  `password2 = ${obscure('salt-vault')}`,
  '',
  '[plain-salt]',
  'type = crypt',
  'remote = /store2',
  `password = ${obscure('pw-plain')}`,
  '',
  '[cmd]',
  'type = crypt',
  'remote = /store3',
  `password = ${obscure('pw-cmd')}`,
  'password2_command = echo salt',
  '',
  '[local]',
  'type = local',
  '',
].join('\n');

function named(args: string[], env: NodeJS.ProcessEnv = {}, files: Record<string, string> = { [CONF]: text }) {
  const found = cryptPasswordsNamedIn(['--config', CONF, ...args], env, (p) => files[p]);
  return found.map((f) => [f.password.toString(), f.password2.toString()]);
}

test('the crypt remotes named on the command line, with their revealed passwords', () => {
  assert.deepEqual(named(['lsf', 'vault:']), [['pw-vault', 'salt-vault']]);
  assert.deepEqual(named(['copy', '/src', 'vault:dir/sub']), [['pw-vault', 'salt-vault']]);
  assert.deepEqual(named(['copy', 'plain-salt:a', 'vault:b']), [
    ['pw-plain', ''],
    ['pw-vault', 'salt-vault'],
  ]);
  // The same remote twice is one; the first two remotes named are looked at, no more.
  assert.equal(named(['check', 'vault:a', 'vault:b']).length, 1);
  assert.deepEqual(named(['x', 'local:', 'vault:', 'plain-salt:']), [['pw-vault', 'salt-vault']]);
});

test('--config=FILE and the environment choose the file as the real load does', () => {
  const found = cryptPasswordsNamedIn(['--config=/other.conf', 'lsf', 'vault:'], {}, (p) => (p === '/other.conf' ? text : undefined));
  assert.equal(found.length, 1);
  const fromEnv = cryptPasswordsNamedIn(['lsf', 'vault:'], { RCLONE_CONFIG: '/env.conf' }, (p) => (p === '/env.conf' ? text : undefined));
  assert.equal(fromEnv.length, 1);
});

test('nothing is guessed where the real password could differ or is not in the file', () => {
  assert.deepEqual(named(['lsf', 'local:']), [], 'not a crypt remote');
  assert.deepEqual(named(['lsf', 'missing:']), [], 'no such section');
  assert.deepEqual(named(['lsf', '/some/dir']), [], 'a local path');
  assert.deepEqual(named(['lsf', 'cmd:']), [], 'a *_command option');
  assert.deepEqual(named(['lsf', 'vault,password2=x:']), [], 'inline options');
  assert.deepEqual(named(['lsf', ':crypt,remote=/s:']), [], 'a connection string');
  assert.deepEqual(named(['lsf', 'vault:', '--crypt-password', 'x']), [], 'a backend flag');
  assert.deepEqual(named(['lsf', 'vault:'], { RCLONE_CONFIG_VAULT_PASSWORD: obscure('other') }), [], 'per-remote variable');
  assert.deepEqual(named(['lsf', 'vault:'], { CRYPTFS_CRYPT_PASSWORD2: obscure('other') }), [], 'backend-wide variable');
  assert.deepEqual(named(['lsf', 'vault:'], {}, {}), [], 'no config file');
});

test('an encrypted config is not opened for a guess', () => {
  const sealed = encryptConfig(text, configKeyFromPassword('config-pw'));
  assert.deepEqual(named(['lsf', 'vault:'], {}, { [CONF]: sealed }), []);
});
