// What a mount exposes to other local users and to the files it writes:
// --allow-other against a second user (created here with useradd, removed
// after), the log file's mode, the daemon's /proc/PID/cmdline and environ, a
// --daemon config error on the terminal, and a marker used as a file NAME that
// must reach no local file name or content with --log-names encrypted.
// Runs as root (useradd, allow_other without /etc/fuse.conf). Every operation
// of the second user runs in a child process under setpriv.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, isMounted, sh, startMount, type Mounted, processAlive } from '../fuse/mount-helpers.js';
import { cryptfsMain } from '../../helpers/cli.js';
import { obscure } from '../../../src/crypt/obscure.js';
import { requireTool } from '../../helpers/require-tool.js';

const skip =
  fuseSkipReason() ?? requireTool('root', process.getuid?.() === 0, 'the mount exposure tests create a user with useradd');

/** A local user created for this test, removed by remove(). */
class OtherUser {
  private constructor(
    readonly name: string,
    readonly uid: number,
  ) {}

  static async create(): Promise<OtherUser> {
    const name = `cfx${randomBytes(4).toString('hex')}`;
    const made = await sh(`useradd --no-create-home --shell /usr/sbin/nologin --user-group "${name}" && id -u "${name}"`);
    if (made.code !== 0) throw new Error(`useradd failed: ${made.stderr}`);
    return new OtherUser(name, Number(made.stdout.trim()));
  }

  /** Runs a bash script as this user (own uid, gid and groups only). */
  run(script: string, env: Record<string, string> = {}) {
    return sh(
      `exec setpriv --reuid "${this.name}" --regid "${this.name}" --init-groups --reset-env bash -c ${shellQuote(
        `${Object.entries(env)
          .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
          .join('\n')}\n${script}`,
      )}`,
    );
  }

  async remove(): Promise<void> {
    await sh(`userdel "${this.name}"`);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function mountOptions(mountpoint: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const line = info.split('\n').find((l) => l.split(' ')[4] === mountpoint);
  if (!line) return [];
  const after = line.split(' - ')[1].split(' ');
  return [...line.split(' ')[5].split(','), ...after[2].split(',')];
}

describe('--allow-other: a second local user', { skip }, () => {
  let fx: CryptFixture;
  let other: OtherUser;
  let pub: string;
  let M: string;
  let m: Mounted | undefined;
  const owner = async (script: string) => {
    const r = await sh(script, { M });
    assert.equal(r.code, 0, `owner script failed:\n${script}\n${r.stderr}\nlog: ${(await m?.log())?.slice(-2000)}`);
    return r.stdout;
  };
  const asOther = (script: string) => other.run(script, { M });

  before(async () => {
    fx = await CryptFixture.create('exposure');
    other = await OtherUser.create();
    // The mount point must be reachable by the other user (the fixture root is 0700).
    pub = await mkdtemp(join(tmpdir(), 'cryptfs-exposure-pub-'));
    await chmod(pub, 0o755);
    M = join(pub, 'mnt');
    await mkdir(M, { mode: 0o755 });
  });

  after(async () => {
    await forceStop(m);
    await other?.remove();
    await rm(pub, { recursive: true, force: true });
    await fx?.cleanup();
  });

  it('by default can neither list, read, write, create nor delete', async () => {
    m = await startMount(fx, M, ['--allow-other']);
    assert.ok((await mountOptions(M)).includes('default_permissions'), 'the kernel checks modes');
    await owner('echo "owner data" > "$M/secret.txt" && mkdir "$M/dir" && echo inner > "$M/dir/inner.txt"');
    const tries: Record<string, string> = {
      list: 'ls "$M"',
      read: 'cat "$M/secret.txt"',
      'read in dir': 'cat "$M/dir/inner.txt"',
      overwrite: 'echo x > "$M/secret.txt"',
      create: 'echo x > "$M/new.txt"',
      delete: 'rm -f "$M/secret.txt"',
      'delete dir': 'rm -rf "$M/dir"',
    };
    for (const [what, script] of Object.entries(tries)) {
      const r = await asOther(script);
      assert.notEqual(r.code, 0, `the other user could ${what}: ${r.stdout}`);
      assert.match(r.stderr, /Permission denied/, what);
    }
    assert.equal(await owner('cat "$M/secret.txt" "$M/dir/inner.txt"; ls "$M"'), 'owner data\ninner\ndir\nsecret.txt\n');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });

  it('with --file-perms 0644 --dir-perms 0755: can list and read, not write or delete', async () => {
    m = await startMount(fx, M, ['--allow-other', '--file-perms', '0644', '--dir-perms', '0755', '--umask', '022']);
    assert.equal((await asOther('cat "$M/secret.txt"')).stdout, 'owner data\n');
    for (const script of ['echo x > "$M/secret.txt"', 'echo x > "$M/new.txt"', 'rm -f "$M/secret.txt"', 'rm -rf "$M/dir"']) {
      const r = await asOther(script);
      assert.notEqual(r.code, 0, `the other user could: ${script}`);
      assert.match(r.stderr, /Permission denied/);
    }
    assert.equal(await owner('cat "$M/secret.txt" "$M/dir/inner.txt"'), 'owner data\ninner\n');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });

  it('with --file-perms 0666 --dir-perms 0777 --umask 0: can read, write, create and delete', async () => {
    m = await startMount(fx, M, ['--allow-other', '--file-perms', '0666', '--dir-perms', '0777', '--umask', '0']);
    const r = await asOther(
      'cat "$M/secret.txt" && echo changed > "$M/secret.txt" && echo made > "$M/made.txt" && rm -r "$M/dir" && ls "$M"',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'owner data\nmade.txt\nsecret.txt\n');
    assert.equal(await owner('cat "$M/secret.txt" "$M/made.txt"'), 'changed\nmade\n');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });

  it('--no-default-permissions turns the kernel checks off (documented: every user may do everything)', async () => {
    m = await startMount(fx, M, ['--allow-other', '--no-default-permissions']);
    assert.ok(!(await mountOptions(M)).includes('default_permissions'));
    assert.equal((await asOther('cat "$M/made.txt"')).stdout, 'made\n');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });
});

describe('log files and --daemon', { skip }, () => {
  let fx: CryptFixture;
  let M: string;
  let m: Mounted | undefined;
  /** The pid of a --daemon mount this test started (stopped by unmounting its mount point). */
  let daemonPid: number | undefined;
  const cryptfs = (args: string, env: Record<string, string> = {}) =>
    sh(`umask 022\nexec "${process.execPath}" "${cryptfsMain()}" ${args}`, { M, T: fx.root, ...env });

  before(async () => {
    fx = await CryptFixture.create('daemon');
    M = join(fx.root, 'mnt');
    await mkdir(M);
  });

  after(async () => {
    await forceStop(m);
    if (await isMounted(M)) await sh(`fusermount3 -u -z "${M}"`);
    for (let i = 0; daemonPid && i < 100 && processAlive(daemonPid); i++) await new Promise((r) => setTimeout(r, 50));
    if (daemonPid && processAlive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    await fx?.cleanup();
  });

  it('log files are created 0600 (mount, --daemon and a CLI command, under umask 022)', async () => {
    m = await startMount(fx, M, []);
    assert.equal((await stat(m.logFile)).mode & 0o777, 0o600, 'mount --log-file');
    assert.equal(await m.unmount(), 0);
    m = undefined;
    await sh('echo data > "$T/src.txt"', { T: fx.root });
    const cli = await cryptfs(`--config "${fx.config}" copyto "$T/src.txt" secret:src.txt -v --log-file "$T/cli.log"`);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((await stat(join(fx.root, 'cli.log'))).mode & 0o777, 0o600, 'CLI --log-file');
    const daemon = await cryptfs(
      `--config "${fx.config}" mount secret: "$M" --daemon -v --log-file "$T/daemon.log" --cache-dir "$T/cache"`,
    );
    assert.equal(daemon.code, 0, daemon.stderr);
    daemonPid = Number(/mount daemon running as process (\d+)/.exec(await readFile(join(fx.root, 'daemon.log'), 'utf8'))?.[1]);
    assert.equal((await stat(join(fx.root, 'daemon.log'))).mode & 0o777, 0o600, '--daemon --log-file');
    await sh(`fusermount3 -u "$M"`, { M });
    for (let i = 0; i < 200 && processAlive(daemonPid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(processAlive(daemonPid), false);
    daemonPid = undefined;
  });

  it('--daemon of an inline remote: no secret in /proc/PID/cmdline or /proc/PID/environ', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const obscured = obscure(password);
    const configPass = `cfgpass-${randomBytes(8).toString('hex')}`;
    // A remote of its own: fx.remoteDir holds files of another password (the wrong-password guard would refuse).
    const inlineRemote = join(fx.root, 'inline-remote');
    await mkdir(inlineRemote, { recursive: true });
    const spec = `:crypt,remote=${inlineRemote},password=${obscured}:`;
    const started = await cryptfs(
      `--config "$T/none.conf" mount "$SPEC" "$M" --daemon -v --log-file "$T/inline.log" --cache-dir "$T/cache"`,
      { SPEC: spec, RCLONE_CONFIG_PASS: configPass, CRYPTFS_CONFIG_PASS: configPass },
    );
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(/mount daemon running as process (\d+)/.exec(await readFile(join(fx.root, 'inline.log'), 'utf8'))?.[1]);
    assert.ok(pid > 0);
    daemonPid = pid;
    const r = await sh('echo "through the daemon" > "$M/inline.txt" && cat "$M/inline.txt"', { M });
    assert.equal(r.stdout, 'through the daemon\n', r.stderr);
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1');
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    assert.match(cmdline, /mount/, 'read the right process');
    for (const secret of [obscured, password, configPass]) {
      assert.ok(!cmdline.includes(secret), `cmdline holds a secret: ${cmdline.replace(/\0/g, ' ')}`);
      assert.ok(!environ.includes(secret), `environ holds a secret: ${environ.replace(/\0/g, '\n')}`);
    }
    assert.ok(!cmdline.includes('crypt,'), 'nor the inline spec');
    await sh(`fusermount3 -u "$M"`, { M });
    for (let i = 0; i < 200 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(processAlive(pid), false);
    daemonPid = undefined;
  });

  it('--daemon with a config error reports it on the terminal and exits non-zero (also with --log-file)', async () => {
    // Found by the daemon: a remote missing from the config.
    const missing = await cryptfs(`--config "${fx.config}" mount nosuch: "$M" --daemon --log-file "$T/err1.log" --cache-dir "$T/cache"`);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /didn't find section in config file/);
    // Found before detaching: a config file that cannot be read.
    const unreadable = await cryptfs(`--config "$T" mount secret: "$M" --daemon --log-file "$T/err2.log" --cache-dir "$T/cache"`);
    assert.notEqual(unreadable.code, 0);
    assert.match(unreadable.stderr, /failed to read config file/);
    assert.equal(await isMounted(M), false);
  });
});

describe('--log-names encrypted: a marker used as a file name reaches no local file name or content', { skip }, () => {
  let fx: CryptFixture;
  let M: string;
  let m: Mounted | undefined;
  const marker = `NAMEMARK${randomBytes(12).toString('hex')}`;

  before(async () => {
    fx = await CryptFixture.create('names');
    M = join(fx.root, `mnt-${randomBytes(4).toString('hex')}`);
  });

  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  /** Local files whose name or content holds the marker: new files anywhere under /tmp, /var/tmp, ~/.cache, and all under `paths`. */
  const scan = async (paths: string[]) => {
    const r = await sh(
      `{ find /tmp /var/tmp "\${HOME:-/root}/.cache" -xdev -newer "$T/scan-start" -not -path "$M/*" -print0 2>/dev/null
         find ${paths.map((p) => `"${p}"`).join(' ')} -xdev -not -path "$M/*" -print0 2>/dev/null; } |
       while IFS= read -r -d '' f; do
         case "$f" in *"$MARKER"*) echo "name: $f"; continue;; esac
         if [ -f "$f" ] && grep -qF --binary-files=text -e "$MARKER" "$f" 2>/dev/null; then echo "content: $f"; fi
       done | sort -u`,
      { MARKER: marker, T: fx.root, M },
    );
    return r.stdout.split('\n').filter(Boolean);
  };

  it('in the cache dir, the journal and the log file at -vv, while dirty and after the upload', async () => {
    await sh('touch "$T/scan-start"', { T: fx.root });
    // Kept: real file times (find -newer): files written later need a later timestamp than the
    // marker's at the kernel's coarse clock granularity; there is no condition to poll for.
    await new Promise((r) => setTimeout(r, 20));
    m = await startMount(fx, M, ['--vfs-cache-mode', 'full', '--vfs-write-back', '1h', '-vv', '--log-names', 'encrypted']);
    const made = await sh(
      `mkdir "$M/dir-$MARKER"
       echo one > "$M/$MARKER.txt"
       echo two > "$M/dir-$MARKER/inner-$MARKER.bin"
       echo three > "$M/gone-$MARKER" && rm "$M/gone-$MARKER"
       mv "$M/$MARKER.txt" "$M/renamed-$MARKER.txt"
       ls "$M" "$M/dir-$MARKER"
       cat "$M/nonexistent-$MARKER" 2>/dev/null || true`,
      { M, MARKER: marker },
    );
    assert.equal(made.code, 0, made.stderr);
    // The scan finds the marker in a name where it is (a control file), and nowhere else.
    await sh('touch "$T/control-$MARKER"', { T: fx.root, MARKER: marker });
    assert.deepEqual(await scan([fx.cacheRoot, m.logFile]), [`name: ${join(fx.root, `control-${marker}`)}`]);
    await rm(join(fx.root, `control-${marker}`));
    assert.deepEqual(await scan([fx.cacheRoot, m.logFile]), [], 'while the files are dirty');
    assert.equal(await m.unmount(), 0, await m.log());
    assert.match(await m.log(), /Copied/, 'the log names the uploads (encrypted)');
    m = undefined;
    assert.deepEqual(await scan([fx.root]), [], 'nor after the unmount');
    const back = await fx.rclone(`cat "secret:dir-${marker}/inner-${marker}.bin"`);
    assert.equal(back.stdout, 'two\n');
  });
});

