import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, lstat, readdir, readFile, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { backendEnvOverrides, ConfigStore } from '../../../src/config/config-store.js';
import { ConfigFile } from '../../../src/config/config-file.js';
import {
  configKeyFromPassword,
  decryptConfig,
  encryptConfig,
  isEncryptedConfig,
  WrongConfigPasswordError,
} from '../../../src/config/encrypted-config.js';
import { NOT_ALLOWED_TO_ASK } from '../../../src/config/password.js';
import type { OptionSpec } from '../../../src/remote/registry.js';
import { ConfigError } from '../../../src/errors.js';
import { fixturePath, withTempDir } from './helpers.js';

/** Sets process.env entries for the duration of fn, restoring what was there before. */
async function withProcessEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(vars)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const NO_PASSWORD_ENV = { CRYPTFS_CONFIG_PASS: undefined, RCLONE_CONFIG_PASS: undefined };

test('loads the rclone fixture config; a missing file is an empty config', async () => {
  const path = fixturePath('rclone-1.60.1', 'rclone.conf');
  const store = await ConfigStore.load({ path, env: {} });
  assert.equal(store.existed, true);
  assert.equal(store.encrypted, false);
  assert.equal(store.remoteNames().length, 16);
  assert.equal(store.remoteType('obf'), 'crypt');
  assert.equal(store.remoteOptions('obf')?.filename_encryption, 'obfuscate');
  assert.equal(store.remoteOptions('nope'), undefined);
  assert.equal(store.remoteType('nope'), undefined);
  await withTempDir(async (dir) => {
    const empty = await ConfigStore.load({ path: join(dir, 'missing.conf'), env: {} });
    assert.equal(empty.existed, false);
    assert.deepEqual(empty.remoteNames(), []);
  });
});

test('env overrides: CRYPTFS_CONFIG_ beats RCLONE_CONFIG_ beats the file', async () => {
  const text = '[my-remote]\ntype = crypt\nremote = /file/value\nfilename_encoding = base32\npassword = p\n\n';
  await withTempDir(async (dir) => {
    const path = join(dir, 'c.conf');
    await writeFile(path, text);
    await withProcessEnv(
      {
        ...NO_PASSWORD_ENV,
        RCLONE_CONFIG_MY_REMOTE_REMOTE: '/rclone/env',
        CRYPTFS_CONFIG_MY_REMOTE_REMOTE: '/cryptfs/env',
        'RCLONE_CONFIG_MY-REMOTE_FILENAME_ENCODING': 'base64', // rclone's own spelling
        RCLONE_CONFIG_MY_REMOTE_PASSWORD: '', // set but empty still overrides
        RCLONE_CONFIG_MY_REMOTE_SHOW_MAPPING: 'true', // not in the file at all
      },
      async () => {
        const store = await ConfigStore.load({ path });
        assert.deepEqual(store.remoteOptions('my-remote'), {
          type: 'crypt',
          remote: '/cryptfs/env',
          filename_encoding: 'base64',
          password: '',
          show_mapping: 'true',
        });
        // The file itself is untouched by overrides.
        assert.equal(store.file.getValue('my-remote', 'remote'), '/file/value');
        assert.equal(store.serialise(), text);
      },
    );
  });
});

test("our '-'→'_' spelling wins over rclone's exact spelling within one prefix", () => {
  const store = ConfigStore.fromFile('/nonexistent', ConfigFile.parse('[a-b]\ntype = local\n'), {
    'RCLONE_CONFIG_A-B_X': 'exact',
    RCLONE_CONFIG_A_B_X: 'underscored',
  });
  assert.equal(store.remoteOptions('a-b')?.x, 'underscored');
});

test('a remote can be defined by environment variables alone', async () => {
  await withProcessEnv(
    {
      RCLONE_CONFIG_ENVONLY_TYPE: 'local',
      RCLONE_CONFIG_ENVONLY_NOUNC: 'true',
      CRYPTFS_CONFIG_OURS_TYPE: 'memory',
      RCLONE_CONFIG_FILEREMOTE_TYPE: 's3', // overrides the file's remote, not a new one
    },
    async () => {
      const store = ConfigStore.fromFile('/nonexistent', ConfigFile.parse('[fileremote]\ntype = local\n'));
      const names = store.remoteNames();
      assert.equal(names[0], 'fileremote');
      assert.ok(names.includes('envonly'));
      assert.ok(names.includes('ours'));
      assert.equal(names.filter((n) => n.toLowerCase() === 'fileremote').length, 1);
      assert.deepEqual(store.remoteOptions('envonly'), { type: 'local', nounc: 'true' });
      assert.equal(store.remoteType('ours'), 'memory');
      assert.equal(store.remoteType('fileremote'), 's3');
      assert.equal(store.hasRemote('envonly'), true);
      assert.equal(store.hasRemote('other'), false);
    },
  );
});

test('backend-wide env values: CRYPTFS_<TYPE>_ beats RCLONE_<TYPE>_; with specs only declared options count', () => {
  const env = {
    RCLONE_CRYPT_PASSWORD: 'rclone-pw',
    CRYPTFS_CRYPT_PASSWORD: 'cryptfs-pw',
    RCLONE_CRYPT_FILENAME_ENCODING: 'base64',
    RCLONE_CRYPT_NOT_DECLARED: 'x',
    RCLONE_S3_REGION: 'other-type',
  };
  const specs: OptionSpec[] = [
    { name: 'password', help: '' },
    { name: 'filename_encoding', help: '' },
    { name: 'remote', help: '' },
  ];
  assert.deepEqual(backendEnvOverrides('crypt', specs, env), { password: 'cryptfs-pw', filename_encoding: 'base64' });
  assert.deepEqual(backendEnvOverrides('crypt', ['password'], env), { password: 'cryptfs-pw' });
  assert.deepEqual(backendEnvOverrides('crypt', undefined, env), {
    password: 'cryptfs-pw',
    filename_encoding: 'base64',
    not_declared: 'x',
  });
  const store = ConfigStore.fromFile('/nonexistent', new ConfigFile(), env);
  assert.deepEqual(store.backendDefaults('s3'), { region: 'other-type' });
});

test('save: atomic, mode 0600 for a new file, no temp files left, parent dirs created', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'sub', 'dir', 'cryptfs.conf');
    const store = await ConfigStore.load({ path, env: {} });
    store.file.set('r', 'type', 'local');
    store.file.set('r', 'note', ' spaced ');
    await store.save();
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, 'sub', 'dir')), ['cryptfs.conf']);
    assert.equal(await readFile(path, 'utf8'), '[r]\ntype = local\nnote = ` spaced `\n\n');
    // Save again over the existing file: still one file, content replaced.
    store.file.set('r2', 'type', 's3');
    await store.save();
    assert.deepEqual(await readdir(join(dir, 'sub', 'dir')), ['cryptfs.conf']);
    const reread = await ConfigStore.load({ path, env: {} });
    assert.deepEqual(reread.remoteNames(), ['r', 'r2']);
    assert.equal(reread.remoteOptions('r')?.note, ' spaced ');
  });
});

test('save keeps the mode of an existing file and writes through a symlink', async () => {
  await withTempDir(async (dir) => {
    const real = join(dir, 'real.conf');
    const link = join(dir, 'link.conf');
    await writeFile(real, '[a]\ntype = local\n');
    await chmod(real, 0o640);
    await symlink(real, link);
    const store = await ConfigStore.load({ path: link, env: {} });
    store.file.set('a', 'x', 'y');
    await store.save();
    assert.equal((await lstat(link)).isSymbolicLink(), true);
    assert.equal((await stat(real)).mode & 0o777, 0o640);
    assert.equal(await readFile(real, 'utf8'), '[a]\ntype = local\nx = y\n\n');
    assert.deepEqual((await readdir(dir)).sort(), ['link.conf', 'real.conf']);
  });
});

test('encrypted config: opened with RCLONE_CONFIG_PASS, saved re-encrypted with a new nonce', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'enc.conf');
    await copyFile(fixturePath('config', 'rclone-encrypted.conf'), path);
    await chmod(path, 0o600);
    const before = await readFile(path, 'utf8');
    await withProcessEnv({ CRYPTFS_CONFIG_PASS: undefined, RCLONE_CONFIG_PASS: 'fixture pass ü' }, async () => {
      const store = await ConfigStore.load({ path, askPassword: false });
      assert.equal(store.encrypted, true);
      assert.deepEqual(store.remoteNames(), ['local-files', 'secret', 's3 store']);
      assert.equal(store.remoteType('secret'), 'crypt');
      store.file.set('secret', 'filename_encoding', 'base64');
      await store.save();
    });
    const after = await readFile(path, 'utf8');
    assert.equal(isEncryptedConfig(after), true);
    assert.notEqual(after.split('\n')[3].slice(0, 32), before.split('\n')[3].slice(0, 32));
    assert.doesNotMatch(after, /\[secret\]|filename_encoding|type = /);
    const plain = decryptConfig(after, configKeyFromPassword('fixture pass ü'));
    assert.equal(ConfigFile.parse(plain).getValue('secret', 'filename_encoding'), 'base64');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['enc.conf']);
  });
});

test('encrypted config: CRYPTFS_CONFIG_PASS beats RCLONE_CONFIG_PASS; wrong or missing password errors', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'enc.conf');
    await writeFile(path, encryptConfig('[a]\ntype = local\n\n', configKeyFromPassword('right')));
    const ok = await ConfigStore.load({
      path,
      env: { CRYPTFS_CONFIG_PASS: 'right', RCLONE_CONFIG_PASS: 'wrong' },
      askPassword: false,
    });
    assert.deepEqual(ok.remoteNames(), ['a']);
    await assert.rejects(
      ConfigStore.load({ path, env: { RCLONE_CONFIG_PASS: 'wrong' }, askPassword: false }),
      (err: unknown) =>
        err instanceof WrongConfigPasswordError &&
        err.message === "couldn't decrypt configuration, most likely wrong password",
    );
    await assert.rejects(
      ConfigStore.load({ path, env: {}, askPassword: false }),
      (err: unknown) => err instanceof ConfigError && err.message === NOT_ALLOWED_TO_ASK,
    );
  });
});

test('encrypted config: the prompt is asked again after a wrong password, three times at most', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'enc.conf');
    await writeFile(path, encryptConfig('[a]\ntype = local\n\n', configKeyFromPassword('right')));
    const answers = ['wrong', ' ', 'right'];
    const warnings: string[] = [];
    const store = await ConfigStore.load({
      path,
      env: {},
      prompt: async () => answers.shift()!,
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(store.remoteNames(), ['a']);
    assert.deepEqual(warnings, [
      "Couldn't decrypt configuration, most likely wrong password.",
      'Your password contains leading/trailing whitespace - in previous versions of rclone this was stripped',
      'no characters in password',
    ]);
    let asked = 0;
    await assert.rejects(
      ConfigStore.load({ path, env: {}, prompt: async () => (asked++, 'nope'), warn: () => {} }),
      WrongConfigPasswordError,
    );
    assert.equal(asked, 3);
  });
});

test('encrypted config: --password-command is used, and beats the environment', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'enc.conf');
    await writeFile(path, encryptConfig('[a]\ntype = local\n\n', configKeyFromPassword('from command')));
    const store = await ConfigStore.load({
      path,
      env: { RCLONE_CONFIG_PASS: 'from env' },
      passwordCommand: "printf 'from command\\nsecond line\\n'",
      askPassword: false,
    });
    assert.equal(store.encrypted, true);
    await assert.rejects(
      ConfigStore.load({ path, env: {}, passwordCommand: 'exit 3', askPassword: false }),
      /password command failed: exit status 3/,
    );
  });
});

test('setPassword turns encryption on and off for the next save', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'c.conf');
    const store = await ConfigStore.load({ path, env: {} });
    store.file.set('a', 'type', 'local');
    store.setPassword('new pw');
    await store.save();
    const enc = await readFile(path, 'utf8');
    assert.equal(isEncryptedConfig(enc), true);
    assert.equal(decryptConfig(enc, configKeyFromPassword('new pw')), '[a]\ntype = local\n\n');
    store.setPassword(undefined);
    await store.save();
    assert.equal(await readFile(path, 'utf8'), '[a]\ntype = local\n\n');
    assert.throws(() => store.setPassword('  '), /no characters in password/);
  });
});
