// A proxy server of the real object store dies in the middle of a large upload and comes back:
// `cryptfs copy` of a 60 MiB file into crypt over S3 (5 MiB multipart parts) and over Swift
// (5 MiB segments) runs as a child process; once parts/segments have arrived, its proxy is killed,
// stays down 2 s and is started again the way scripts/objstore-server.sh starts it. The copy must
// either complete after retrying (and read back identical) or fail with a clear error and a
// non-zero exit; and a listing, polled all along, must never show the object partial.
//
// The proxy killed is a second swift-proxy-server of the same store (same config, rings, backend
// servers and memcached; another port) that only this test uses: other test processes keep the
// shared proxy while this one is down. The listing is polled through the shared proxy, so it is
// watched during the outage too.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, openSync, closeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { ContentCipher } from '../../../src/crypt/content-cipher.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { obscure } from '../../../src/crypt/obscure.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { cryptfsMain, runCryptfs, scrubbedEnv } from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';

const MiB = 1024 * 1024;
const FILE_SIZE = 60 * MiB + 4321;
const FILE_NAME = 'sixty MiB ü.bin';
/** Part size on S3 (also the upload cutoff) and segment size on Swift. */
const PART = 5 * MiB;
/** Slows the upload down (≈ 2.4 s for the file) so the proxy dies in the middle of it. */
const BWLIMIT = '25M';
const OUTAGE_MS = 2000;
const PROXY_BIN = '/usr/bin/swift-proxy-server';

const store = await objectStoreAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A swift-proxy-server of the test store on its own port, started as objstore-server.sh starts
 * the shared one (same config file but for the port, its own session, output appended to a log).
 */
class PrivateProxy {
  private child: ChildProcess | undefined;
  readonly log: string;
  private readonly conf: string;
  starts = 0;

  private constructor(
    readonly port: number,
    dir: string,
  ) {
    this.conf = join(dir, 'proxy-server.conf');
    this.log = join(dir, 'proxy.log');
  }

  static async create(s: ObjectStore, dir: string): Promise<PrivateProxy> {
    const port = await freePort();
    const shared = await fsp.readFile(join(s.stateDir, 'etc', 'proxy-server.conf'), 'utf8');
    assert.match(shared, /^bind_port = \d+$/m, 'the shared proxy config names its port');
    const p = new PrivateProxy(port, dir);
    await fsp.writeFile(p.conf, shared.replace(/^bind_port = \d+$/m, `bind_port = ${port}`).replace(/^log_name = .*$/m, 'log_name = cryptfs-fault-proxy'));
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  async start(): Promise<void> {
    assert.equal(this.pid, undefined, 'proxy already running');
    const fd = openSync(this.log, 'a');
    try {
      // detached: setsid() in the child, as the script's `setsid` does.
      this.child = spawn(PROXY_BIN, [this.conf, '-v'], { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.child.unref();
    this.starts++;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.pid === undefined) throw new Error(`private proxy exited during start; see ${this.log}:\n${await this.tail()}`);
      try {
        const res = await fetch(`${this.url}/healthcheck`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`private proxy not healthy after 30 s; see ${this.log}`);
      await sleep(100);
    }
  }

  /** Kills it (the pid this object started, nothing else) and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || this.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await Promise.race([exited, sleep(5000)]);
    if (alive(child.pid!)) throw new Error(`proxy pid ${child.pid} still alive after ${signal}`);
  }

  async tail(): Promise<string> {
    const text = await fsp.readFile(this.log, 'utf8').catch(() => '');
    return text.split('\n').slice(-20).join('\n');
  }
}

/** One observation of the destination container through the shared proxy. */
interface Snapshot {
  atMs: number;
  phase: string;
  objects: Array<{ name: string; size: number }>;
}

interface Target {
  label: string;
  /** Crypt remote in the config. */
  remote: string;
  /** Object names as listed now in the destination container, with their full sizes. */
  list(): Promise<Array<{ name: string; size: number }>>;
  /** Whether the upload is well under way (≥ 2 parts / segments stored). */
  uploading(): Promise<boolean>;
  /** Leftovers of the upload outside the listing: pending multipart uploads or segments. */
  leftovers(): Promise<number>;
}

async function swiftSession(s: ObjectStore): Promise<{ url: string; token: string }> {
  const res = await fetch(s.swift.authUrl, { headers: { 'X-Auth-User': s.swift.user, 'X-Auth-Key': s.swift.key } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`swift auth: HTTP ${res.status}`);
  return { url: res.headers.get('x-storage-url')!, token: res.headers.get('x-auth-token')! };
}

async function swiftNames(session: { url: string; token: string }, container: string): Promise<Array<{ name: string; bytes: number; content_type: string }>> {
  const res = await fetch(`${session.url}/${encodeURIComponent(container)}?format=json&limit=10000`, {
    headers: { 'X-Auth-Token': session.token },
  });
  if (res.status === 404) {
    await res.arrayBuffer();
    return [];
  }
  if (!res.ok) throw new Error(`listing ${container}: HTTP ${res.status}`);
  if (res.status === 204) return [];
  return (await res.json()) as Array<{ name: string; bytes: number; content_type: string }>;
}

function encPath(s: string): string {
  return s.split('/').map(encodeURIComponent).join('/');
}

if (!store) {
  describe('object store fault: proxy dies mid-upload', { skip: objectStoreSkipReason() }, () => {
    it('needs the object store', () => {});
  });
} else {
  const s = store;
  describe('object store fault: proxy dies mid-upload and comes back', () => {
    let tmp: string;
    let proxy: PrivateProxy;
    let config: string;
    let srcFile: string;
    let srcSha: string;
    let encName: string;
    let bucket: TestContainer;
    let container: TestContainer;
    let s3: S3Client;
    let swift: { url: string; token: string };
    const encSize = ContentCipher.encryptedSize(FILE_SIZE);

    before(async () => {
      tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-fault-'));
      proxy = await PrivateProxy.create(s, tmp);
      await proxy.start();
      bucket = freshContainer(s, 'fault-s3');
      container = freshContainer(s, 'fault-swift');
      const password = randomBytes(16).toString('hex');
      const password2 = randomBytes(16).toString('hex');
      config = join(tmp, 'cryptfs.conf');
      await fsp.writeFile(
        config,
        [
          '[s3]',
          'type = s3',
          'provider = Other',
          `access_key_id = ${s.s3.accessKeyId}`,
          `secret_access_key = ${s.s3.secretAccessKey}`,
          `endpoint = ${proxy.url}`,
          `region = ${s.s3.region}`,
          'force_path_style = true',
          'chunk_size = 5Mi',
          'upload_cutoff = 5Mi',
          '',
          '[swift]',
          'type = swift',
          `user = ${s.swift.user}`,
          `key = ${s.swift.key}`,
          `auth = ${proxy.url}/auth/v1.0`,
          'chunk_size = 5Mi',
          '',
          ...['s3', 'swift'].flatMap((u) => [
            `[c${u}]`,
            'type = crypt',
            `remote = ${u}:${u === 's3' ? bucket.name : container.name}`,
            `password = ${obscure(password)}`,
            `password2 = ${obscure(password2)}`,
            '',
          ]),
        ].join('\n'),
        { mode: 0o600 },
      );
      const keys = await deriveKeys(password, password2);
      const names = new CryptRemote(new MemoryRemote(), keys, {
        mode: 'standard',
        encoding: 'base32',
        directoryNameEncryption: true,
        noDataEncryption: false,
      });
      encName = names.encryptFilePath(`fault/${FILE_NAME}`);

      srcFile = join(tmp, FILE_NAME);
      const h = createHash('sha256');
      const out = createWriteStream(srcFile);
      for (let done = 0; done < FILE_SIZE; ) {
        const piece = randomBytes(Math.min(MiB, FILE_SIZE - done));
        h.update(piece);
        if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
        done += piece.length;
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      srcSha = h.digest('hex');

      // Observers go through the shared proxy, which stays up.
      s3 = new S3Client({
        endpoint: s.s3.endpoint,
        region: s.s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s.s3.accessKeyId, secretAccessKey: s.s3.secretAccessKey },
      });
      swift = await swiftSession(s);
    });

    after(async () => {
      await proxy?.stop('SIGTERM').catch(() => proxy?.stop('SIGKILL'));
      s3?.destroy();
      await bucket?.remove();
      await container?.remove();
      if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
    });

    const s3Target = (): Target => ({
      label: 'S3 multipart',
      remote: 'cs3',
      async list() {
        try {
          const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket.name }));
          return (out.Contents ?? []).map((o) => ({ name: o.Key!, size: o.Size ?? -1 }));
        } catch (err) {
          if ((err as { name?: string }).name === 'NoSuchBucket') return [];
          throw err;
        }
      },
      async uploading() {
        const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket.name })).catch(() => undefined);
        for (const u of ups?.Uploads ?? []) {
          const parts = await s3.send(new ListPartsCommand({ Bucket: bucket.name, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
          if ((parts?.Parts?.length ?? 0) >= 2) return true;
        }
        return false;
      },
      async leftovers() {
        const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket.name })).catch(() => undefined);
        return ups?.Uploads?.length ?? 0;
      },
    });

    const swiftTarget = (): Target => ({
      label: 'Swift segments',
      remote: 'cswift',
      async list() {
        const out: Array<{ name: string; size: number }> = [];
        for (const o of await swiftNames(swift, container.name)) {
          // A DLO manifest lists as 0 bytes: its size is what a HEAD says.
          const res = await fetch(`${swift.url}/${encodeURIComponent(container.name)}/${encPath(o.name)}`, {
            method: 'HEAD',
            headers: { 'X-Auth-Token': swift.token },
          });
          if (res.status === 404) continue; // removed between listing and HEAD
          if (!res.ok) throw new Error(`HEAD ${o.name}: HTTP ${res.status}`);
          out.push({ name: o.name, size: Number(res.headers.get('content-length')) });
        }
        return out;
      },
      async uploading() {
        return (await swiftNames(swift, `${container.name}_segments`)).length >= 2;
      },
      async leftovers() {
        const left = await swiftNames(swift, `${container.name}_segments`);
        const manifestPrefix = `${encName}/`;
        // Segments of the stored object are not leftovers.
        const listed = await this.list();
        return listed.length > 0 ? left.filter((o) => !o.name.startsWith(manifestPrefix)).length : left.length;
      },
    });

    async function runFault(t: Target): Promise<void> {
      const snapshots: Snapshot[] = [];
      const pollErrors: string[] = [];
      let phase = 'uploading';
      let polling = true;
      const t0 = Date.now();
      const poller = (async () => {
        while (polling) {
          try {
            snapshots.push({ atMs: Date.now() - t0, phase, objects: await t.list() });
          } catch (err) {
            pollErrors.push(`${phase}: ${(err as Error).message}`);
          }
          await sleep(100);
        }
      })();

      const child = spawn(
        process.execPath,
        [cryptfsMain(), '--config', config, '-vv', '--transfers', '1', '--bwlimit', BWLIMIT, 'copy', srcFile, `${t.remote}:fault`],
        // CRYPTFS_DEBUG: the S3 driver's retry messages.
        { env: scrubbedEnv({ TZ: 'UTC', CRYPTFS_DEBUG: '1' }), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
      let exitCode: number | undefined;
      void exited.then((c) => (exitCode = c));

      try {
        // Wait until parts/segments are being stored, then pull the plug.
        const deadline = Date.now() + 20_000;
        while (!(await t.uploading())) {
          assert.equal(exitCode, undefined, `the copy finished before the fault could be injected:\n${stderr.slice(-2000)}`);
          assert.ok(Date.now() < deadline, 'the upload did not start within 20 s');
          await sleep(50);
        }
        await proxy.stop('SIGKILL');
        const killedAt = Date.now() - t0;
        phase = 'outage';
        assert.equal(exitCode, undefined, 'the copy was still running when the proxy died');
        const atKill = await t.list();
        assert.deepEqual(atKill, [], 'nothing listed while the upload was cut off');
        await sleep(OUTAGE_MS);
        phase = 'restarting';
        const logBefore = (await fsp.stat(proxy.log)).size;
        await proxy.start();
        const restartedAt = Date.now() - t0;
        phase = 'recovery';

        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 40_000)))]);
        clearTimeout(timer);
        assert.notEqual(code, undefined, `cryptfs copy did not finish within 40 s of the restart:\n${stderr.slice(-3000)}`);
        const exitedAt = Date.now() - t0;
        phase = 'after';
        await sleep(200);
        polling = false;
        await poller;
        const final = await t.list();
        snapshots.push({ atMs: Date.now() - t0, phase: 'final', objects: final });

        const retries = stderr.split('\n').filter((l) => / retry |Attempt \d|ERROR\s*:/.test(l));
        // Uploads the restarted proxy stored: the copy carried on through it.
        const afterRestart = (await fsp.readFile(proxy.log)).subarray(logBefore).toString('utf8');
        const putsAfter = afterRestart.split('\n').filter((l) => / PUT \S+ HTTP\/1\.\d 20\d /.test(l)).length;
        console.log(
          `# ${t.label}: proxy killed at ${killedAt} ms, back at ${restartedAt} ms, copy exited ${code} at ${exitedAt} ms; ` +
            `${snapshots.length} listings (${snapshots.filter((x) => x.phase === 'outage').length} during the outage), ` +
            `${retries.length} retry/error log lines, ${putsAfter} PUTs after the restart, leftovers ${await t.leftovers()}`,
        );
        for (const l of retries.slice(0, 6)) console.log(`#   ${l.slice(0, 200)}`);

        // Never a partial object: each listing shows nothing, or the one object at its full size.
        for (const snap of snapshots) {
          for (const o of snap.objects) {
            assert.equal(o.name, encName, `unexpected object listed at ${snap.atMs} ms (${snap.phase})`);
            assert.equal(o.size, encSize, `object listed at ${snap.atMs} ms (${snap.phase}) with ${o.size} of ${encSize} bytes`);
          }
        }
        assert.ok(snapshots.some((x) => x.phase === 'outage'), `no listing succeeded during the outage: ${pollErrors.join('; ')}`);
        assert.deepEqual(pollErrors, [], 'listing through the shared proxy failed');

        if (code === 0) {
          assert.ok(exitedAt > restartedAt, `the copy finished at ${exitedAt} ms, before the proxy was back at ${restartedAt} ms`);
          assert.ok(putsAfter > 0, 'the copy stored nothing through the restarted proxy');
          assert.deepEqual(final, [{ name: encName, size: encSize }], 'the completed object is listed');
          const cat = await runCryptfs(['cat', `${t.remote}:fault/${FILE_NAME}`], { config, timeoutMs: 60_000 });
          assert.equal(cat.code, 0, cat.stderr);
          assert.equal(cat.stdout.length, FILE_SIZE);
          assert.equal(createHash('sha256').update(cat.stdout).digest('hex'), srcSha, 'content read back');
        } else {
          // A clear error: the failed file and the reason are named, and nothing is stored.
          assert.match(stderr, /ERROR/);
          assert.ok(stderr.includes(FILE_NAME), `the error names the file:\n${stderr.slice(-3000)}`);
          assert.match(stderr, /connect|refused|reset|socket|network|unavailable|timed? ?out/i);
          assert.deepEqual(final, [], 'a failed copy leaves no object listed');
        }
      } finally {
        polling = false;
        await poller;
        if (exitCode === undefined) child.kill('SIGKILL');
        if (proxy.pid === undefined) await proxy.start();
      }
    }

    it('S3: multipart upload survives the proxy dying mid-upload, or fails cleanly; never a partial object', { timeout: 60_000 }, async () => {
      await runFault(s3Target());
    });

    it('Swift: segmented upload survives the proxy dying mid-upload, or fails cleanly; never a partial object', { timeout: 60_000 }, async () => {
      await runFault(swiftTarget());
    });
  });
}
