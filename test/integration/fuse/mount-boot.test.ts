// Mounting at boot: the mount.cryptfs helper as mount(8)/fstab call it, and
// systemd's readiness protocol (Type=notify) spoken to a socket the test owns.
// Real FUSE mounts of a crypt remote over a local directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cryptfsMain, repoRoot, scrubbedEnv } from '../../helpers/cli.js';
import { requireTool } from '../../helpers/require-tool.js';
import { CryptFixture, fuseSkipReason, isMounted, sh } from './mount-helpers.js';

const skip = fuseSkipReason() ?? requireTool('python3', existsSync('/usr/bin/python3'), 'the notify socket is made with python3');
let fx: CryptFixture;
before(async () => {
  fx = await CryptFixture.create('boot');
  chmodSync(cryptfsMain(), 0o755);
});
const started: string[] = [];
after(async () => {
  for (const m of started) if (await isMounted(m)) await sh(`fusermount3 -u -z "${m}"`);
  await fx?.cleanup();
});

function cryptfs(args: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return sh(`"${process.execPath}" "${cryptfsMain()}" --config "${fx.config}" ${args}`);
}

test('mount.cryptfs REMOTE DIR -o …: translates mount(8) options, returns once the mount answers', { skip }, async () => {
  const bin = join(fx.root, 'sbin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(cryptfsMain(), join(bin, 'mount.cryptfs'));
  const mnt = join(fx.root, 'fstab-mnt');
  mkdirSync(mnt);
  expectOk(await cryptfs(`mkdir secret:docs`));
  writeFileSync(join(fx.root, 'note.txt'), 'mounted at boot\n');
  expectOk(await cryptfs(`copy "${join(fx.root, 'note.txt')}" secret:docs`));
  // What fstab's `secret: /mnt cryptfs config=…,vfs_cache_mode=full,_netdev,x-systemd.automount,nofail 0 0` runs.
  const options = `config=${fx.config},cache_dir=${fx.cacheRoot},vfs_cache_mode=full,allow_other,_netdev,x-systemd.automount,nofail,rw,nosuid,nodev`;
  started.push(mnt);
  const r = await sh(`"${join(bin, 'mount.cryptfs')}" secret: "${mnt}" -o "${options}"`, { PATH: process.env.PATH ?? '' });
  expectOk(r);
  // Ready when it returned: no waiting here.
  const cat = await sh(`cat "${mnt}/docs/note.txt"; findmnt -no FSTYPE,OPTIONS "${mnt}"`);
  assert.equal(cat.code, 0, cat.stderr);
  assert.match(cat.stdout, /^mounted at boot\nfuse\.cryptfs /);
  assert.match(cat.stdout, /allow_other/, 'allow_other reached the mount');
  assert.match(cat.stdout, /default_permissions/, 'allow_other implies default_permissions');
  const ps = await sh(`ps -eo args | grep -F -- "mount-daemon ${mnt}" | grep -v grep`);
  assert.match(ps.stdout, /mount-daemon/, 'the daemon runs in the background');
  // Unmounted by `cryptfs umount`, which waits for the uploads.
  writeFileSync(join(mnt, 'docs', 'after.txt'), 'written on the mount\n');
  expectOk(await cryptfs(`umount "${mnt}"`));
  assert.equal(await isMounted(mnt), false);
  assert.equal((await cryptfs('cat secret:docs/after.txt')).stdout, 'written on the mount\n');
  // -f (fake): mount(8)'s dry run does nothing and succeeds; a bad command line is a usage error.
  expectOk(await sh(`"${join(bin, 'mount.cryptfs')}" secret: "${mnt}" -f -o config=${fx.config}`));
  assert.equal(await isMounted(mnt), false);
  const bad = await sh(`"${join(bin, 'mount.cryptfs')}" secret:`);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /usage: mount\.cryptfs REMOTE:path MOUNTPOINT/);
});

/** A datagram socket like systemd's $NOTIFY_SOCKET; each message arrives as one JSON line. */
function notifySocket(path: string) {
  const py = spawn('python3', [
    '-u',
    '-c',
    [
      'import json, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1].replace("@", "\\0", 1) if sys.argv[1].startswith("@") else sys.argv[1])',
      'print(json.dumps("bound"))',
      'while True:',
      '    print(json.dumps(s.recv(4096).decode()))',
    ].join('\n'),
    path,
  ]);
  const messages: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: py.stdout }).on('line', (l) => {
    messages.push(JSON.parse(l) as string);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (match: RegExp, timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find((m) => match.test(m));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${match} on the notify socket; got ${JSON.stringify(messages)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  return { next, messages, stop: () => py.kill() };
}

for (const abstract of [false, true]) {
  test(`Type=notify: READY=1 once the mount answers, STOPPING=1 at unmount (${abstract ? 'abstract' : 'path'} socket)`, { skip }, async () => {
    const socketPath = abstract ? `@cryptfs-test-${process.pid}-${Date.now()}` : join(fx.root, `notify-${Date.now()}.sock`);
    const sock = notifySocket(socketPath);
    try {
      await sock.next(/^bound$/);
      const mnt = join(fx.root, `unit-mnt-${abstract ? 'a' : 'p'}`);
      mkdirSync(mnt);
      started.push(mnt);
      // As the unit's ExecStart runs it: foreground, no --daemon.
      const daemon = spawn(
        process.execPath,
        [cryptfsMain(), '--config', fx.config, 'mount', 'secret:', mnt, '--cache-dir', fx.cacheRoot],
        { stdio: 'ignore', env: { ...scrubbedEnv(), NOTIFY_SOCKET: socketPath } },
      );
      const exited = new Promise<number | null>((r) => daemon.on('exit', (code) => r(code)));
      const ready = await sock.next(/READY=1/);
      assert.match(ready, new RegExp(`MAINPID=${daemon.pid}`));
      assert.match(ready, /STATUS=Mounted secret: on /);
      // At READY the mount already answers.
      const ls = await sh(`ls "${mnt}" && findmnt -no FSTYPE "${mnt}"`);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /fuse\.cryptfs/);
      assert.ok(!sock.messages.some((m) => /STOPPING=1/.test(m)));
      // ExecStop=cryptfs umount DIR
      expectOk(await cryptfs(`umount "${mnt}"`));
      assert.match(await sock.next(/STOPPING=1/), /STATUS=Unmounted/);
      assert.equal(await exited, 0);
    } finally {
      sock.stop();
    }
  });
}

test('contrib/cryptfs@.service is a Type=notify unit stopped by cryptfs umount', { skip }, async () => {
  const unit = await sh(`cat "${join(repoRoot(), 'contrib', 'systemd', 'cryptfs@.service')}"`);
  assert.equal(unit.code, 0, unit.stderr);
  assert.match(unit.stdout, /^Type=notify$/m);
  assert.match(unit.stdout, /^ExecStart=.*cryptfs.* mount /m);
  assert.match(unit.stdout, /^ExecStop=.*cryptfs.* umount /m);
  assert.ok(!/^ExecStart=.*--daemon/m.test(unit.stdout), 'a notify unit runs the mount in the foreground');
});

function expectOk(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}
