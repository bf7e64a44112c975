import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  checkPassword,
  configKeyFromPassword,
  decryptConfig,
  encryptConfig,
  ENCRYPT_V0_HEADER,
  isEncryptedConfig,
  WrongConfigPasswordError,
} from '../../../src/config/encrypted-config.js';
import { ConfigFile } from '../../../src/config/config-file.js';
import { ConfigError } from '../../../src/errors.js';
import { fixturePath } from './helpers.js';

const FIXTURE_PASSWORD = 'fixture pass ü';

test('the config key is SHA-256 of "[password][rclone-config]"', () => {
  const expected = createHash('sha256').update('[potato][rclone-config]').digest();
  assert.deepEqual(configKeyFromPassword('potato'), expected);
  assert.equal(configKeyFromPassword('potato').length, 32);
});

test('a config encrypted by rclone 1.60.1 decrypts to the plain fixture', () => {
  const enc = readFileSync(fixturePath('config', 'rclone-encrypted.conf'), 'utf8');
  const plain = readFileSync(fixturePath('config', 'rclone-encrypted.plain.conf'), 'utf8');
  assert.equal(isEncryptedConfig(enc), true);
  assert.equal(isEncryptedConfig(plain), false);
  const text = decryptConfig(enc, configKeyFromPassword(FIXTURE_PASSWORD));
  assert.equal(text, plain);
  const file = ConfigFile.parse(text);
  assert.deepEqual(file.sections(), ['local-files', 'secret', 's3 store']);
  assert.equal(file.getValue('s3 store', 'secret_access_key'), 'abc=def/ghi+jkl');
});

test('passwords are NFKC-normalised as rclone does: the typed full-width form opens the fixture too', () => {
  const enc = readFileSync(fixturePath('config', 'rclone-encrypted.conf'), 'utf8');
  // As typed into rclone (full-width letters), and with a decomposed ü.
  for (const pw of ['fixture ｐａｓｓ ü', 'fixture pass u\u0308']) {
    assert.match(decryptConfig(enc, configKeyFromPassword(pw)), /^\[local-files\]/, pw);
  }
});

test('encrypt/decrypt round trip, rclone layout, fresh nonce each time', () => {
  const key = configKeyFromPassword('correct horse');
  const plain = '[a]\ntype = local\n\n[b]\ntype = crypt\npassword = abc=def\n\n';
  const one = encryptConfig(plain, key);
  const two = encryptConfig(plain, key);
  assert.match(one, /^# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n[A-Za-z0-9+/]+={0,2}\n$/);
  assert.notEqual(one, two);
  assert.equal(decryptConfig(one, key), plain);
  assert.equal(decryptConfig(two, key), plain);
  // nonce(24) + tag(16) + plaintext
  const body = one.split('\n')[3];
  assert.equal(Buffer.from(body, 'base64').length, 24 + 16 + Buffer.byteLength(plain));
  assert.equal(decryptConfig(encryptConfig('', key), key), '');
});

test('wrong password is a ConfigError with rclone wording', () => {
  const enc = encryptConfig('[a]\ntype = local\n', configKeyFromPassword('right'));
  assert.throws(
    () => decryptConfig(enc, configKeyFromPassword('wrong')),
    (err: unknown) =>
      err instanceof WrongConfigPasswordError &&
      err instanceof ConfigError &&
      err.message === "couldn't decrypt configuration, most likely wrong password",
  );
});

test('a tampered body fails authentication, never yields altered text', () => {
  const key = configKeyFromPassword('right');
  const enc = encryptConfig('[a]\ntype = local\n', key);
  const lines = enc.split('\n');
  const raw = Buffer.from(lines[3], 'base64');
  raw[raw.length - 1] ^= 1;
  lines[3] = raw.toString('base64');
  assert.throws(() => decryptConfig(lines.join('\n'), key), WrongConfigPasswordError);
});

test('detection: leading comments and blanks are skipped; other versions and damaged bodies are errors', () => {
  const key = configKeyFromPassword('pw');
  const enc = encryptConfig('[a]\ntype = local\n', key);
  const body = enc.split('\n')[3];
  // Leading blank/comment lines, CRLF and a body split over lines are all accepted (Go's decoder skips CR/LF).
  const variant = `\n; note\n  # another\r\n${ENCRYPT_V0_HEADER}\r\n${body.slice(0, 10)}\r\n${body.slice(10)}\r\n`;
  assert.equal(isEncryptedConfig(variant), true);
  assert.equal(decryptConfig(variant, key), '[a]\ntype = local\n');
  assert.equal(isEncryptedConfig('# RCLONE_ENCRYPT_V0:\n[a]\n'), false);
  assert.equal(isEncryptedConfig(''), false);
  assert.throws(() => isEncryptedConfig('RCLONE_ENCRYPT_V1:\nxxxx\n'), /unsupported configuration encryption/);
  assert.throws(() => decryptConfig(`${ENCRYPT_V0_HEADER}\nAAAA\n`, key), /configuration data too short/);
  assert.throws(() => decryptConfig(`${ENCRYPT_V0_HEADER}\n${body} trailing\n`, key), /failed to load base64 encoded data/);
  assert.throws(() => decryptConfig('[a]\ntype = local\n', key), /not an encrypted rclone config/);
  assert.throws(() => decryptConfig(enc, Buffer.alloc(16)), RangeError);
});

test('checkPassword: NFKC, empty and whitespace-only rejected, edge whitespace kept with a warning', () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.equal(checkPassword('ｐａｓｓ', warn), 'pass');
  assert.equal(checkPassword('ﬁ', warn), 'fi');
  assert.deepEqual(warnings, []);
  assert.equal(checkPassword(' pw ', warn), ' pw ');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /leading\/trailing whitespace/);
  assert.throws(() => checkPassword(''), /no characters in password/);
  assert.throws(() => checkPassword(' \t '), /no characters in password/);
  assert.throws(() => checkPassword('bad\ud800'), /invalid utf8/);
  assert.throws(() => checkPassword(Buffer.from([0x61, 0xff])), /invalid utf8/);
  assert.equal(checkPassword(Buffer.from('päss', 'utf8')), 'päss');
  // Leading whitespace changes the key: it is not stripped.
  assert.notDeepEqual(configKeyFromPassword(' pw', () => {}), configKeyFromPassword('pw'));
});
