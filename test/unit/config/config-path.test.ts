import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultConfigPath, resolveConfigPath } from '../../../src/config/config-path.js';
import { withTempDir } from './helpers.js';

test('precedence: --config, then CRYPTFS_CONFIG, then RCLONE_CONFIG, then the default', async () => {
  await withTempDir(async (home) => {
    const f = join(home, 'flag.conf');
    const c = join(home, 'cryptfs-env.conf');
    const r = join(home, 'rclone-env.conf');
    await writeFile(c, '');
    const env = { CRYPTFS_CONFIG: c, RCLONE_CONFIG: r };
    assert.deepEqual(resolveConfigPath({ flag: f, env, home }), { path: f, exists: false, source: 'flag' });
    assert.deepEqual(resolveConfigPath({ env, home }), { path: c, exists: true, source: 'CRYPTFS_CONFIG' });
    assert.deepEqual(resolveConfigPath({ env: { RCLONE_CONFIG: r }, home }), {
      path: r,
      exists: false,
      source: 'RCLONE_CONFIG',
    });
    // Empty values count as unset.
    assert.equal(resolveConfigPath({ flag: '', env: { CRYPTFS_CONFIG: '', RCLONE_CONFIG: r }, home }).source, 'RCLONE_CONFIG');
    const def = resolveConfigPath({ env: {}, home });
    assert.deepEqual(def, { path: join(home, '.config', 'cryptfs', 'cryptfs.conf'), exists: false, source: 'default' });
  });
});

test('relative paths are made absolute; a directory does not count as an existing file', async () => {
  await withTempDir(async (home) => {
    const choice = resolveConfigPath({ flag: 'some/rel.conf', env: {}, home });
    assert.equal(choice.path, resolve('some/rel.conf'));
    assert.equal(resolveConfigPath({ flag: home, env: {}, home }).exists, false);
  });
});

test('XDG_CONFIG_HOME is respected when absolute, ignored when relative', async () => {
  await withTempDir(async (home) => {
    const xdg = join(home, 'xdg');
    assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: xdg }, home), join(xdg, 'cryptfs', 'cryptfs.conf'));
    assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: 'rel' }, home), join(home, '.config', 'cryptfs', 'cryptfs.conf'));
    await mkdir(join(xdg, 'cryptfs'), { recursive: true });
    await writeFile(join(xdg, 'cryptfs', 'cryptfs.conf'), '[a]\ntype = local\n');
    const choice = resolveConfigPath({ env: { XDG_CONFIG_HOME: xdg }, home });
    assert.deepEqual(choice, { path: join(xdg, 'cryptfs', 'cryptfs.conf'), exists: true, source: 'default' });
  });
});

test('an existing rclone.conf is only hinted at, never used implicitly', async () => {
  await withTempDir(async (home) => {
    const rclonePath = join(home, '.config', 'rclone', 'rclone.conf');
    assert.equal(resolveConfigPath({ env: {}, home }).hint, undefined);
    await mkdir(join(home, '.config', 'rclone'), { recursive: true });
    await writeFile(rclonePath, '[a]\ntype = local\n');
    const choice = resolveConfigPath({ env: {}, home });
    assert.equal(choice.path, join(home, '.config', 'cryptfs', 'cryptfs.conf'));
    assert.equal(choice.exists, false);
    assert.ok(choice.hint?.includes(rclonePath), choice.hint);
    assert.match(choice.hint!, /--config/);
    // Pointed at explicitly, it is used.
    assert.deepEqual(resolveConfigPath({ env: { RCLONE_CONFIG: rclonePath }, home }), {
      path: rclonePath,
      exists: true,
      source: 'RCLONE_CONFIG',
    });
    // Once our own default exists there is nothing to hint.
    await mkdir(join(home, '.config', 'cryptfs'), { recursive: true });
    await writeFile(join(home, '.config', 'cryptfs', 'cryptfs.conf'), '');
    assert.equal(resolveConfigPath({ env: {}, home }).hint, undefined);
  });
});
