// Symlinks through a real `cryptfs mount` (crypt over a local directory),
// stored as rclone stores them (NAME.rclonelink): ln -s, readlink, ls -l,
// rename, unlink, ln -sf, a relative link followed by cat, links that survive
// a remount, in cache modes off and writes; and the real rclone 1.60
// (`rclone copy -l`) and `cryptfs copy -l` reading what the mount made, and
// the other way round; links on crypt over Swift and S3 (renames there are
// copies plus deletes).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from './mount-helpers.js';
import { cryptfsMain, rcloneSkipReason } from '../../helpers/cli.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, rcloneConfigText } from '../../helpers/objstore.js';
import { pollUntil } from '../../helpers/poll.js';

const skip = fuseSkipReason() ?? rcloneSkipReason();
const store = skip ? undefined : await objectStoreAvailable();
const storeSkip = skip || (store ? false : objectStoreSkipReason());

for (const mode of ['writes', 'off'] as const) {
  describe(`cryptfs mount: symlinks (--vfs-cache-mode ${mode})`, { skip }, () => {
    let fx: CryptFixture;
    let m: Mounted | undefined;
    let M: string;
    const run = (script: string) => sh(script, { M, T: fx.root, CRYPTFS: cryptfsMain(), CONF: fx.config, NODE: process.execPath });
    const ok = async (script: string) => {
      const r = await run(script);
      assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\n${r.stderr}\nlog: ${(await m?.log())?.slice(-3000)}`);
      return r.stdout;
    };

    before(async () => {
      fx = await CryptFixture.create(`symlinks-${mode}`);
      M = join(fx.root, `mnt-symlinks-${randomBytes(4).toString('hex')}`);
      m = await startMount(fx, M, ['--vfs-cache-mode', mode, '--dir-cache-time', '1s']);
    });

    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    it('ln -s, readlink, ls -l, a relative link followed by cat, rename, unlink, ln -sf', async () => {
      const out = await ok(
        `mkdir "$M/dir" && printf 'hello through a link' > "$M/dir/file.txt"
         ln -s file.txt "$M/dir/rel"
         ln -s ../dir/file.txt "$M/dir/up"
         ln -s /etc/hostname "$M/abs"
         ln -s dir "$M/dirlink"
         echo "readlink=$(readlink "$M/dir/rel")"
         echo "cat=$(cat "$M/dir/rel")"
         echo "cat-up=$(cat "$M/dir/up")"
         echo "cat-dirlink=$(cat "$M/dirlink/file.txt")"
         echo "type=$(stat -c '%F %s' "$M/dir/rel")"
         echo "abs=$(readlink "$M/abs")"
         ls -l "$M/dir" | grep -c '^l'
         mv "$M/dir/rel" "$M/dir/renamed"
         test ! -e "$M/dir/rel" && echo "renamed=$(readlink "$M/dir/renamed")"
         ln -sf up "$M/dir/renamed" && echo "forced=$(readlink "$M/dir/renamed")"
         rm "$M/dir/up" && test ! -L "$M/dir/up" && echo unlinked
         ls "$M/dir" | sort | tr '\\n' ' '`,
      );
      assert.match(out, /^readlink=file\.txt$/m);
      assert.match(out, /^cat=hello through a link$/m);
      assert.match(out, /^cat-up=hello through a link$/m);
      assert.match(out, /^cat-dirlink=hello through a link$/m);
      assert.match(out, /^type=symbolic link 8$/m);
      assert.match(out, /^abs=\/etc\/hostname$/m);
      assert.match(out, /^2$/m);
      assert.match(out, /^renamed=file\.txt$/m);
      assert.match(out, /^forced=up$/m);
      assert.match(out, /^unlinked$/m);
      assert.match(out, /file\.txt renamed $/);
      // On the remote: the links as rclone stores them.
      // Links are on the remote when symlink() returns; the file is after its write-back delay.
      const lsf = await pollUntil(
        'dir/file.txt uploaded (rclone lsf -R secret:)',
        async () => {
          const r = await fx.rclone('lsf -R secret:');
          return r.code === 0 && r.stdout.includes('dir/file.txt') ? r : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.deepEqual(lsf.stdout.trim().split('\n').sort(), ['abs.rclonelink', 'dir/', 'dir/file.txt', 'dir/renamed.rclonelink', 'dirlink.rclonelink']);
      assert.equal((await fx.rclone('cat secret:dir/renamed.rclonelink')).stdout, 'up');
    });

    it('a regular file and a link of one name: ln -s over a file fails with EEXIST, the file stays', async () => {
      const r = await run('printf data > "$M/both" && ln -s x "$M/both"');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /File exists/);
      assert.equal(await ok('cat "$M/both"; rm "$M/both"'), 'data');
    });

    it('links survive a remount; rclone copy -l restores them as symlinks', async () => {
      assert.equal(await m!.unmount(), 0, await m!.log());
      m = await startMount(fx, M, ['--vfs-cache-mode', mode, '--dir-cache-time', '1s']);
      assert.equal(await ok('readlink "$M/dir/renamed"; cat "$M/dirlink/file.txt"'), 'up\nhello through a link');
      const out = await ok(
        `"${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" copy -l secret: "$T/restored"
         readlink "$T/restored/dir/renamed"; readlink "$T/restored/abs"; readlink "$T/restored/dirlink"
         cat "$T/restored/dir/file.txt"`,
      );
      assert.equal(out, 'up\n/etc/hostname\ndir\nhello through a link');
    });

    it('links made by rclone copy -l show on the mount and come back with cryptfs copy -l; without -l they are skipped', async () => {
      const out = await ok(
        `mkdir -p "$T/src/sub" && printf 'payload' > "$T/src/sub/real"
         ln -s sub/real "$T/src/to-real" && ln -s /nonexistent/target "$T/src/dangling"
         "${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" copy -l "$T/src" secret:from-rclone
         for i in $(seq 1 200); do [ -L "$M/from-rclone/to-real" ] && break; sleep 0.1; done # until the cached root listing (1 s) expires
         echo "mount=$(readlink "$M/from-rclone/to-real") $(cat "$M/from-rclone/to-real") $(readlink "$M/from-rclone/dangling")"
         "$NODE" "$CRYPTFS" --config "$CONF" copy -l secret:from-rclone "$T/back"
         echo "back=$(readlink "$T/back/to-real") $(readlink "$T/back/dangling") $(cat "$T/back/sub/real")"
         "$NODE" "$CRYPTFS" --config "$CONF" copy -l "$T/src" secret:from-cryptfs
         echo "rclone-sees=$("${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" lsf secret:from-cryptfs | sort | tr '\\n' ' ')"
         echo "content=$("${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" cat secret:from-cryptfs/dangling.rclonelink)"
         echo "again-rclone=$("${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" copy -l -v "$T/src" secret:from-cryptfs 2>&1 | grep -c 'Copied' || true)"
         echo "again-cryptfs=$("$NODE" "$CRYPTFS" --config "$CONF" copy -l -v "$T/src" secret:from-rclone 2>&1 | grep -c 'Copied' || true)"
         ln -s stale "$T/back/extra"
         "$NODE" "$CRYPTFS" --config "$CONF" sync -l secret:from-rclone "$T/back"
         test ! -L "$T/back/extra" && echo "sync-removed-stale-link"
         "$NODE" "$CRYPTFS" --config "$CONF" copy "$T/src" secret:no-links 2> "$T/no-links.err"
         echo "no-links=$("${process.env.RCLONE_BIN || 'rclone'}" --config "$CONF" lsf -R secret:no-links | sort | tr '\\n' ' ')"`,
      );
      // rclone wrote behind the mount's back: seen once --dir-cache-time (1s here) has passed.
      assert.match(out, /^mount=sub\/real payload \/nonexistent\/target$/m);
      assert.match(out, /^back=sub\/real \/nonexistent\/target payload$/m);
      assert.match(out, /^rclone-sees=dangling\.rclonelink sub\/ to-real\.rclonelink $/m);
      assert.match(out, /^content=\/nonexistent\/target$/m);
      assert.match(out, /^no-links=sub\/ sub\/real $/m);
      // Size and time of links match both ways: a second copy by either tool transfers nothing.
      assert.match(out, /^again-rclone=0$/m);
      assert.match(out, /^again-cryptfs=0$/m);
      assert.match(out, /^sync-removed-stale-link$/m);
      const err = (await run('cat "$T/no-links.err"')).stdout;
      assert.match(err, /NOTICE: to-real: Can't follow symlink without -L\/--copy-links/);
    });
  });
}

describe('cryptfs mount --links=false', { skip }, () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  it('shows NAME.rclonelink as a file and refuses symlink()', async () => {
    fx = await CryptFixture.create('symlinks-off');
    const M = join(fx.root, 'mnt-symlinks-off');
    await sh(`mkdir -p "${fx.root}/src" && ln -s target "${fx.root}/src/l"`);
    assert.equal((await fx.rclone(`copy -l "${fx.root}/src" secret:`)).code, 0);
    m = await startMount(fx, M, ['--links=false']);
    const r = await sh(`ls "${M}"; cat "${M}/l.rclonelink"; echo; ln -s x "${M}/new" 2>&1 || echo refused`);
    assert.equal(r.stdout, 'l.rclonelink\ntarget\nln: failed to create symbolic link \'' + M + '/new\': Operation not permitted\nrefused\n');
    assert.equal(await m.unmount(), 0);
    m = undefined;
  });
});

describe('cryptfs mount of a plain local directory', { skip }, () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  it("shows the directory's symlinks as links, and ln -s on the mount makes a real symlink", async () => {
    fx = await CryptFixture.create('symlinks-plain');
    const M = join(fx.root, 'mnt-symlinks-plain');
    const P = join(fx.root, 'plain');
    assert.equal((await sh('mkdir -p "$P/d" && printf hi > "$P/d/f" && ln -s d/f "$P/l"', { P })).code, 0);
    m = await startMount(fx, M, [], { source: P });
    const r = await sh('readlink "$M/l"; cat "$M/l"; echo; ln -s d "$M/dl"; readlink "$P/dl"; ls "$M/dl"; ls "$P" | tr "\\n" " "', { M, P });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'd/f\nhi\nd\nf\nd dl l ');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });
});

for (const backend of ['swift', 's3'] as const) {
  describe(`cryptfs mount: symlinks on crypt over ${backend}`, { skip: storeSkip }, () => {
    let fx: CryptFixture;
    let m: Mounted | undefined;
    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    it('ln -s, mv, readlink, cat through a link; rclone copy -l restores them', async () => {
      const container = freshContainer(store!, `links-${backend}`);
      fx = await CryptFixture.create(`symlinks-${backend}`, {
        configText: rcloneConfigText(store!),
        target: `${backend}:${container.name}/data`,
        cleanup: () => container.remove(),
      });
      const M = join(fx.root, 'mnt-symlinks');
      m = await startMount(fx, M, ['--vfs-cache-mode', 'writes']);
      const r = await sh(
        `mkdir "$M/d" && printf 'on the store' > "$M/d/f"
         ln -s d/f "$M/l" && mv "$M/l" "$M/d/../moved" && mv "$M/d" "$M/e"
         ln -sf e/f "$M/moved"
         readlink "$M/moved"; cat "$M/moved"; echo; ls "$M" | tr '\\n' ' '`,
        { M },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'e/f\non the store\ne moved ');
      assert.equal(await m.unmount(), 0, await m.log());
      m = undefined;
      const restored = join(fx.root, 'restored');
      assert.equal((await fx.rclone(`copy -l secret: "${restored}"`)).code, 0);
      assert.equal((await sh(`readlink "${restored}/moved"; cat "${restored}/e/f"`)).stdout, 'e/f\non the store');
    });
  });
}
