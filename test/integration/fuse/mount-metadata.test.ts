// Modes, owner and times through a real FUSE mount, kept as rclone metadata on
// the underlying object (the ciphertext file's attributes over local, user
// metadata over Swift and S3): chmod +x and a compiled program run from the
// mount, chown as root, utimens, all across a remount; --allow-other makes the
// kernel enforce them; the real rclone 1.60 (`copy -M`) restores what the mount
// set and the mount shows what rclone wrote (local and S3: rclone keeps no
// metadata on Swift).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from './mount-helpers.js';
import { rcloneSkipReason } from '../../helpers/cli.js';
import { requireTool, commandRuns } from '../../helpers/require-tool.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  rcloneConfigText,
  type TestContainer,
} from '../../helpers/objstore.js';

const fuseSkip = fuseSkipReason() ?? rcloneSkipReason() ?? requireTool('cc', commandRuns('cc', ['--version']));
const store = fuseSkip ? undefined : await objectStoreAvailable();
const isRoot = process.geteuid?.() === 0;

const containers: TestContainer[] = [];
after(async () => {
  for (const c of containers) await c.remove().catch(() => undefined);
});

const suites = [
  { backend: 'local', cacheMode: 'writes' },
  { backend: 'local', cacheMode: 'full' },
  { backend: 'swift', cacheMode: 'writes' },
  { backend: 's3', cacheMode: 'writes' },
] as const;

for (const { backend, cacheMode } of suites) {
  const skip = fuseSkip || (backend === 'local' || store ? false : objectStoreSkipReason());
  describe(`mount metadata: crypt over ${backend}, --vfs-cache-mode ${cacheMode}`, { skip }, () => {
    let fx: CryptFixture;
    let m: Mounted | undefined;
    let M: string;
    const mountArgs = ['--vfs-cache-mode', cacheMode, '--vfs-write-back', '0s'];
    const ok = async (script: string) => {
      const r = await sh(script, { M, T: fx.root, TZ: 'UTC' });
      assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\n${r.stdout}\n${r.stderr}\nlog: ${(await m?.log())?.slice(-3000)}`);
      return r.stdout;
    };
    const remount = async (args = mountArgs) => {
      if (m) assert.equal(await m.unmount(), 0);
      m = await startMount(fx, M, args);
    };

    before(async () => {
      if (backend === 'local') fx = await CryptFixture.create(`metadata-local-${cacheMode}`);
      else {
        const container = freshContainer(store!, `metadata-${backend}`);
        containers.push(container);
        fx = await CryptFixture.create(`metadata-${backend}`, {
          configText: rcloneConfigText(store!),
          target: `${backend}:${container.name}/data`,
          cleanup: () => container.remove(),
        });
      }
      M = join(fx.root, `mnt-metadata-${randomBytes(3).toString('hex')}`);
    });
    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    it('chmod +x, a compiled program, utimens and chown persist across a remount', async () => {
      await remount();
      await ok(`
        set -e
        printf '#!/bin/sh\\necho script-ran\\n' > "$M/run.sh"
        chmod +x "$M/run.sh"
        printf '#include <stdio.h>\\nint main(void){puts("binary-ran");return 0;}\\n' > "$M/hello.c"
        cc -o "$M/hello" "$M/hello.c"
        umask 022; : > "$M/made-0640"; chmod 640 "$M/made-0640"
        touch -m -d '2001-02-03 04:05:06' "$M/hello.c"
        mkdir "$M/dir"
        : > "$M/dir/keeps-the-prefix"
        chmod 0711 "$M/dir"`);
      if (isRoot) await ok('chown 1234:5678 "$M/made-0640"');
      assert.equal(await ok('"$M/run.sh"; "$M/hello"'), 'script-ran\nbinary-ran\n');
      await remount();
      const modes = await ok('cd "$M" && stat -c "%n %a %Y" run.sh hello made-0640 hello.c');
      assert.match(modes, /^run\.sh 755 /m);
      assert.match(modes, /^hello 755 /m, 'the linker\'s mode');
      assert.match(modes, /^made-0640 640 /m);
      assert.match(modes, new RegExp(`^hello\\.c 644 ${Date.UTC(2001, 1, 3, 4, 5, 6) / 1000}$`, 'm'));
      // Directory modes are real on local; on an object store a directory is a prefix and keeps --dir-perms.
      const dirMode = (await ok('stat -c %a "$M/dir"')).trim();
      assert.equal(dirMode, backend === 'local' ? '711' : '755');
      if (isRoot) assert.equal((await ok('stat -c %u:%g "$M/made-0640"')).trim(), '1234:5678');
      assert.equal(await ok('"$M/run.sh"; "$M/hello"'), 'script-ran\nbinary-ran\n', 'still runs after the remount');
    });

    it('with --allow-other the kernel enforces the stored modes', { skip: requireTool('root', isRoot, 'acting as another user (setpriv) needs root') }, async () => {
      await remount([...mountArgs, '--allow-other', '--dir-perms', '0755']);
      // The fixture's directory (mkdtemp: 0700) must let the other user through to the mountpoint.
      await ok('chmod 711 "$T" && echo secret > "$M/private" && chmod 600 "$M/private" && echo open > "$M/public" && chmod 644 "$M/public"');
      const asNobody = (cmd: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '${cmd}'`, { M });
      const denied = await asNobody('cat "$M/private"');
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /Permission denied/);
      const allowed = await asNobody('cat "$M/public"');
      assert.equal(allowed.stdout, 'open\n', allowed.stderr);
      const chown = await asNobody('chmod 777 "$M/public"');
      assert.match(chown.stderr, /Operation not permitted/, 'only the owner may chmod');
    });

    if (backend !== 'swift') {
      it('rclone copy -M restores the modes the mount set, and the mount shows what rclone wrote', async () => {
        await remount();
        await ok('printf x > "$M/tool" && chmod 751 "$M/tool"');
        assert.equal(await m!.unmount(), 0);
        m = undefined;
        const out = join(fx.root, 'rclone-out');
        const r = await fx.rclone(`copy -M secret: "${out}"`);
        assert.equal(r.code, 0, r.stderr);
        assert.equal((await ok(`stat -c %a "${out}/tool"`)).trim(), '751');
        const src = join(fx.root, 'rclone-in');
        await ok(`mkdir -p "${src}" && printf y > "${src}/from-rclone" && chmod 705 "${src}/from-rclone"`);
        const w = await fx.rclone(`copy -M "${src}" secret:in`);
        assert.equal(w.code, 0, w.stderr);
        await remount();
        assert.equal((await ok('stat -c %a "$M/in/from-rclone"')).trim(), '705');
      });
    }

    it('unmounts cleanly', async () => {
      if (m) assert.equal(await m.unmount(), 0);
      m = undefined;
    });
  });
}
