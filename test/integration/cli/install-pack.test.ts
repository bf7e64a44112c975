// The package as a user installs it: `npm pack`, then `npm install -g` of the
// tarball into a temporary prefix, with the native addons prebuilt inside the
// package (npm 11 runs no install scripts for it). The installed `cryptfs` and
// `mount.cryptfs` (symlinks, as npm makes them) must run, encrypt, and mount.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';
import { fuseSkipReason, isMounted, sh } from '../fuse/mount-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'cryptfs-install-'));
const prefix = join(work, 'prefix');
const mnt = join(work, 'mnt');
let tarball = '';
after(async () => {
  if (await isMounted(mnt)) await sh(`fusermount3 -u -z "${mnt}"`);
  rmSync(work, { recursive: true, force: true });
});

before(async () => {
  // --ignore-scripts: the suite's dist/ is already built (prepack would rebuild it under running tests).
  const pack = await sh(`cd "${repoRoot()}" && npm pack --ignore-scripts --pack-destination "${work}" 2>&1`, {}, 300_000);
  assert.equal(pack.code, 0, pack.stdout + pack.stderr);
  tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  // Dependencies come from npm's cache where the set-up's `npm ci` left them.
  const install = await sh(
    `npm install -g --prefix "${prefix}" --prefer-offline --no-audit --no-fund --loglevel=error "${tarball}" 2>&1`,
    {},
    600_000,
  );
  assert.equal(install.code, 0, install.stdout + install.stderr);
});

function installed(cmd: string) {
  // A PATH without the repo: only what the package installed.
  return sh(`cd "${work}" && ${cmd}`, { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin` }, 120_000);
}

test('the tarball ships the built program and the prebuilt addons, not sources or tests', async () => {
  const list = await sh(`tar tzf "${tarball}"`);
  const files = list.stdout.trim().split('\n');
  for (const f of [
    'package/dist/src/cli/cryptfs.cjs',
    'package/dist/src/cli/main.js',
    'package/build/Release/cryptfs_fuse.node',
    'package/build/Release/cryptfs_fs.node',
    'package/build/Release/cryptfs_notify.node',
    'package/build/Release/cryptfs_scrypt.node',
    'package/contrib/systemd/cryptfs@.service',
  ]) {
    assert.ok(files.includes(f), `${f} in the package`);
  }
  assert.ok(!files.some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/src/') || f.endsWith('binding.gyp')), files.join('\n'));
});

test('installed cryptfs (an npm symlink) runs: version, obscure, a crypt round trip', async () => {
  const v = await installed('cryptfs version');
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^cryptfs v\d+\.\d+\.\d+/);
  const conf = join(work, 'cryptfs.conf');
  writeFileSync(conf, '');
  const store = join(work, 'store');
  mkdirSync(store);
  const create = await installed(`cryptfs --config "${conf}" config create vault crypt remote="${store}" password=installed-pw --obscure`);
  assert.equal(create.code, 0, create.stderr);
  writeFileSync(join(work, 'plain.txt'), 'installed from the tarball\n');
  const copy = await installed(`cryptfs --config "${conf}" copy plain.txt vault:dir && cryptfs --config "${conf}" cat vault:dir/plain.txt`);
  assert.equal(copy.code, 0, copy.stderr);
  assert.equal(copy.stdout, 'installed from the tarball\n');
  assert.ok(!readdirSync(store).includes('dir'), 'names are encrypted');
  const hardening = await installed(`cryptfs --config "${conf}" lsf vault: 2>&1`);
  assert.ok(!/native helper not built/.test(hardening.stdout), hardening.stdout);
});

test('installed mount.cryptfs mounts with the prebuilt FUSE addon; cryptfs umount unmounts', { skip: fuseSkipReason() }, async () => {
  const conf = join(work, 'cryptfs.conf');
  mkdirSync(mnt, { recursive: true });
  const m = await installed(`mount.cryptfs vault: "${mnt}" -o config=${conf},cache_dir=${join(work, 'cache')},_netdev`);
  assert.equal(m.code, 0, m.stdout + m.stderr);
  const cat = await sh(`cat "${mnt}/dir/plain.txt"`);
  assert.equal(cat.stdout, 'installed from the tarball\n', cat.stderr);
  const u = await installed(`cryptfs --config "${conf}" umount "${mnt}"`);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(await isMounted(mnt), false);
});
