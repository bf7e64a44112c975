// The Swift remote against a real Swift all-in-one on loopback (scripts/objstore-server.sh),
// with rclone 1.60 as the oracle for large-object layout and mtimes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  objectStoreAvailable,
  objectStoreSkipReason,
  freshContainer,
  rcloneConfigText,
  rcloneEnv,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';
import { runRemoteContract, bytesOf, readAll, listAll } from '../../helpers/remote-contract.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { SwiftClient, SwiftError, SwiftAuthError, type SwiftClientOptions } from '../../../src/remote/swift-client.js';
import { SwiftRemote, swiftOptions, type SwiftRemoteSettings } from '../../../src/remote/swift.js';
import { getBackend, OptionValues } from '../../../src/remote/registry.js';
import { DirNotEmptyError, DirNotFoundError, ObjectNotFoundError } from '../../../src/errors.js';
import { configureLog } from '../../../src/log.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const fastRetry = { attempts: 5, baseDelayMs: 5, maxDelayMs: 40 };

const store = await objectStoreAvailable();

function makeClient(s: ObjectStore, extra: Partial<SwiftClientOptions> = {}): SwiftClient {
  return new SwiftClient({ authUrl: s.swift.authUrl, user: s.swift.user, key: s.swift.key, retry: fastRetry, ...extra });
}

function makeRemote(s: ObjectStore, settings: Partial<SwiftRemoteSettings> = {}, client = makeClient(s)): SwiftRemote {
  return new SwiftRemote(client, { chunkSize: 1 * MIB, ...settings });
}

/** Raw object headers, bypassing the driver. */
async function rawHead(client: SwiftClient, container: string, object: string): Promise<Headers | undefined> {
  return client.headObject(container, object);
}

async function rawNames(client: SwiftClient, container: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const item of client.listObjects(container, { prefix })) out.push(item.name);
  } catch (err) {
    if (err instanceof SwiftError && err.status === 404) return [];
    throw err;
  }
  return out;
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

// ---- a loopback proxy that injects faults in front of the real server ----

type Fault = 'pass' | 'fail500' | 'drop' | 'dropMidBody' | 'badEtag';

interface FaultProxy {
  url: string;
  seen: Array<{ method: string; path: string; fault: Fault }>;
  close(): Promise<void>;
}

async function startFaultProxy(target: string, decide: (method: string, path: string, n: number) => Fault): Promise<FaultProxy> {
  const upstream = new URL(target);
  const seen: FaultProxy['seen'] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const fault = decide(req.method!, req.url!, n++);
    seen.push({ method: req.method!, path: req.url!, fault });
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'fail500') {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'X-Trans-Id': `tx-injected-${n}`, 'Content-Type': 'text/plain' });
        res.end('injected failure');
      });
      return;
    }
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        const headers = { ...upRes.headers };
        if (fault === 'badEtag' && headers.etag) headers.etag = '0123456789abcdef0123456789abcdef';
        res.writeHead(upRes.statusCode!, headers);
        if (fault === 'dropMidBody') {
          let sent = 0;
          upRes.on('data', (chunk: Buffer) => {
            if (sent > 100_000) return;
            sent += chunk.length;
            res.write(chunk);
            if (sent > 100_000) {
              upRes.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- a minimal Keystone in front of the real Swift, to exercise v2/v3 auth and catalogs ----

async function startKeystone(s: ObjectStore): Promise<{ url: string; bodies: unknown[]; close(): Promise<void> }> {
  const res = await fetch(s.swift.authUrl, { headers: { 'X-Auth-User': s.swift.user, 'X-Auth-Key': s.swift.key } });
  await res.arrayBuffer();
  const token = res.headers.get('x-auth-token')!;
  const storageUrl = res.headers.get('x-storage-url')!;
  const dead = 'http://127.0.0.1:9/v1/AUTH_wrong';
  const bodies: unknown[] = [];
  const server = http.createServer((req, resp) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const body = JSON.parse(text || '{}');
      bodies.push(body);
      if (req.method === 'POST' && req.url === '/v2.0/tokens') {
        const ok = body.auth?.passwordCredentials?.username === 'u2' && body.auth?.passwordCredentials?.password === 'p2';
        if (!ok) return void resp.writeHead(401).end();
        resp.writeHead(200, { 'Content-Type': 'application/json' });
        resp.end(
          JSON.stringify({
            access: {
              token: { id: token },
              serviceCatalog: [
                { type: 'compute', endpoints: [{ region: 'R1', publicURL: dead }] },
                {
                  type: 'object-store',
                  endpoints: [
                    { region: 'R0', publicURL: dead, internalURL: dead },
                    { region: 'R1', publicURL: storageUrl, internalURL: dead },
                  ],
                },
              ],
            },
          }),
        );
        return;
      }
      if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
        const pw = body.auth?.identity?.password?.user;
        const ok = pw?.name === 'u3' && pw?.password === 'p3' && pw?.domain?.name === 'Default';
        if (!ok) return void resp.writeHead(401).end();
        resp.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': token });
        resp.end(
          JSON.stringify({
            token: {
              catalog: [
                {
                  type: 'object-store',
                  endpoints: [
                    { region: 'R1', interface: 'public', url: dead },
                    { region: 'R1', interface: 'internal', url: storageUrl },
                    { region: 'R2', interface: 'internal', url: dead },
                  ],
                },
              ],
            },
          }),
        );
        return;
      }
      resp.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (!store) {
  it('swift remote (needs the object store)', { skip: objectStoreSkipReason() }, () => {});
} else {
  const s = store;

  runRemoteContract(
    'swift (container root, 1 MiB segments, pages of 3)',
    async () => {
      const c = freshContainer(s, 'contract');
      const remote = makeRemote(s, { listPageSize: 3 });
      await remote.mkdir(c.name);
      return { remote: new SubRemote(remote, c.name, `swift:${c.name}`), cleanup: () => c.remove() };
    },
    { largeSize: 3 * MIB + 12345, listsTrees: true, listsUntimed: true },
  );

  describe('swift remote', () => {
    let tmp: string;
    let rcloneConf: string;
    const containers: TestContainer[] = [];
    const fresh = (label: string) => {
      const c = freshContainer(s, label);
      containers.push(c);
      return c;
    };
    const rclone = async (...args: string[]) =>
      (await run('rclone', ['--config', rcloneConf, ...args], { env: rcloneEnv({ TZ: 'UTC' }), maxBuffer: 64 * MIB, encoding: 'buffer' }))
        .stdout as Buffer;

    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'cryptfs-swift-'));
      rcloneConf = join(tmp, 'rclone.conf');
      await writeFile(rcloneConf, rcloneConfigText(s));
    });
    after(async () => {
      for (const c of containers) await c.remove();
      await rm(tmp, { recursive: true, force: true });
    });

    it('treats containers as top-level directories', async () => {
      const r = makeRemote(s);
      const c = fresh('top');
      await assert.rejects(listAll(r, c.name), DirNotFoundError);
      await r.mkdir(c.name);
      assert.ok((await listAll(r, '')).some((e) => e.path === c.name && e.isDir), 'container listed at the root');
      assert.equal((await r.stat(c.name)).isDir, true);
      await r.mkdir(`${c.name}/no/such/dir`); // no-op inside a container
      await assert.rejects(listAll(r, `${c.name}/no`), DirNotFoundError);
      await r.write(`${c.name}/f`, bytesOf(Buffer.from('x')));
      await assert.rejects(r.rmdir(c.name), DirNotEmptyError);
      await r.delete(`${c.name}/f`);
      await r.rmdir(c.name);
      await assert.rejects(r.stat(c.name), ObjectNotFoundError);
      await assert.rejects(r.rmdir(c.name), DirNotFoundError);
    });

    it('makes a container again when another client removed it', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('gone');
      await r.write(`${c.name}/a`, bytesOf(Buffer.from('a')));
      await r.delete(`${c.name}/a`);
      assert.equal(await makeClient(s).deleteContainer(c.name), 'deleted');
      await r.write(`${c.name}/b`, bytesOf(Buffer.from('b')));
      assert.deepEqual(await rawNames(client, c.name), ['b']);
    });

    it('stores names literally: unicode, spaces, ?, #, %, +, & and quotes', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('names');
      const names = ['sp ace/ü ñ 日本.txt', 'q?x=1&y=2', 'hash#frag', 'pct%20%zz', 'plus+quote\'"', 'dir with space/a b'];
      for (const n of names) await r.write(`${c.name}/${n}`, bytesOf(Buffer.from(n)));
      assert.deepEqual((await rawNames(client, c.name)).sort(), [...names].sort());
      for (const n of names) {
        assert.equal((await readAll(await r.openRead(`${c.name}/${n}`))).toString(), n);
      }
      // rclone sees the same names.
      const lsf = (await rclone('lsf', '-R', '--files-only', `swift:${c.name}`)).toString().trim().split('\n').sort();
      assert.deepEqual(lsf, [...names].sort());
    });

    it('pages through long listings (page size 2)', async () => {
      const r = makeRemote(s, { listPageSize: 2 });
      const c = fresh('paging');
      const files = Array.from({ length: 7 }, (_, i) => `f${i}`);
      const dirs = ['d0', 'd1', 'd2'];
      for (const f of files) await r.write(`${c.name}/${f}`, bytesOf(Buffer.from(f)));
      for (const d of dirs) {
        await r.write(`${c.name}/${d}/x`, bytesOf(Buffer.from('x')));
        await r.write(`${c.name}/${d}/y`, bytesOf(Buffer.from('y')));
      }
      const entries = await listAll(r, c.name);
      assert.deepEqual(
        entries.map((e) => `${e.path}:${e.isDir}`),
        [...dirs.map((d) => `${c.name}/${d}:true`), ...files.map((f) => `${c.name}/${f}:false`)].sort(),
      );
    });

    it('writes large objects as rclone does, and rclone reads them', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('large');
      const data = randomBytes(3 * MIB + 4321);
      const mtime = new Date(1700000000123);
      const e = await r.write(`${c.name}/dir/big.bin`, bytesOf(data, 300_001), { size: data.length, mtime });
      assert.equal(e.size, data.length);
      const head = await rawHead(client, c.name, 'dir/big.bin');
      assert.equal(head?.get('x-object-meta-mtime'), '1700000000.123');
      // Percent-encoded as rclone's urlEncode does: only [0-9A-Za-z/._-] stay literal.
      const manifestRaw = head?.get('x-object-manifest') ?? '';
      assert.match(manifestRaw, /^cryptfs-large-[0-9a-f]+_segments\//);
      const manifest = decodeURIComponent(manifestRaw);
      assert.match(manifest, new RegExp(`^${c.name}_segments/dir/big\\.bin/\\d+\\.\\d+/${data.length}$`));
      const segs = await rawNames(client, `${c.name}_segments`);
      assert.deepEqual(
        segs.map((n) => n.replace(/\/\d+(\.\d+)?\//, '/T/')),
        ['00000000', '00000001', '00000002', '00000003'].map((i) => `dir/big.bin/T/${data.length}/${i}`),
      );
      // The manifest answers with the whole content, also to ranges across segment boundaries.
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/dir/big.bin`))), md5(data));
      for (const [offset, length] of [
        [MIB - 3, 7],
        [2 * MIB - 1, MIB + 2],
        [3 * MIB, 4321],
      ]) {
        const got = await readAll(await r.openRead(`${c.name}/dir/big.bin`, { offset, length }));
        assert.ok(got.equals(data.subarray(offset, offset + length)), `range ${offset}+${length}`);
      }
      assert.equal(await r.hash(`${c.name}/dir/big.bin`, 'md5'), undefined, 'no MD5 for a large object');
      const lsl = (await rclone('lsl', `swift:${c.name}`)).toString();
      assert.match(lsl, new RegExp(`^\\s*${data.length} 2023-11-14 22:13:20\\.123000000 dir/big\\.bin$`, 'm'));
      assert.equal(md5(await rclone('cat', `swift:${c.name}/dir/big.bin`)), md5(data));

      // A stream of unknown size: segments named with size -1, as rclone's rcat does.
      const streamed = randomBytes(2 * MIB + 5);
      const e2 = await r.write(`${c.name}/streamed.bin`, bytesOf(streamed, 65_536));
      assert.equal(e2.size, streamed.length);
      assert.match(decodeURIComponent((await rawHead(client, c.name, 'streamed.bin'))?.get('x-object-manifest') ?? ''), /\/streamed\.bin\/\d+\.\d+\/-1$/);
      assert.equal(md5(await rclone('cat', `swift:${c.name}/streamed.bin`)), md5(streamed));

      // Overwriting with a small object removes the old segments.
      await r.write(`${c.name}/dir/big.bin`, bytesOf(Buffer.from('small now')));
      assert.deepEqual(await rawNames(client, `${c.name}_segments`, 'dir/big.bin/'), []);
      assert.equal((await readAll(await r.openRead(`${c.name}/dir/big.bin`))).toString(), 'small now');

      // Deleting a large object deletes its segments.
      await r.delete(`${c.name}/streamed.bin`);
      assert.deepEqual(await rawNames(client, `${c.name}_segments`), []);
    });

    it('reads large objects written by rclone, and deletes their segments', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('rcl');
      const data = randomBytes(2 * MIB + 777);
      const local = join(tmp, 'rclone-big.bin');
      await writeFile(local, data);
      await run('touch', ['-d', '@1600000000.987654321', local]);
      await rclone('copyto', '--swift-chunk-size', '1M', local, `swift:${c.name}/from/rclone.bin`);
      assert.equal((await rawNames(client, `${c.name}_segments`)).length, 3, 'rclone wrote 3 segments');
      const st = await r.stat(`${c.name}/from/rclone.bin`);
      assert.equal(st.size, data.length);
      assert.equal(st.mtime.getTime(), 1600000000987, 'rclone ns mtime read to the ms');
      const listed = await listAll(r, `${c.name}/from`);
      assert.deepEqual(listed.map((e) => [e.path, e.size]), [[`${c.name}/from/rclone.bin`, data.length]]);
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/from/rclone.bin`))), md5(data));
      const part = await readAll(await r.openRead(`${c.name}/from/rclone.bin`, { offset: MIB - 10, length: 20 }));
      assert.ok(part.equals(data.subarray(MIB - 10, MIB + 10)));

      // copy gets its own segments; move carries the manifest. Each survives the other's deletion.
      await r.copy(`${c.name}/from/rclone.bin`, `${c.name}/copy.bin`);
      await r.move(`${c.name}/from/rclone.bin`, `${c.name}/moved.bin`);
      await assert.rejects(r.stat(`${c.name}/from/rclone.bin`), ObjectNotFoundError);
      assert.equal((await r.stat(`${c.name}/moved.bin`)).mtime.getTime(), 1600000000987);
      assert.equal(md5(await rclone('cat', `swift:${c.name}/moved.bin`)), md5(data));
      await r.delete(`${c.name}/moved.bin`);
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/copy.bin`))), md5(data));
      assert.equal(md5(await rclone('cat', `swift:${c.name}/copy.bin`)), md5(data));
      await r.delete(`${c.name}/copy.bin`);
      assert.deepEqual(await rawNames(client, `${c.name}_segments`), []);
    });

    it("reads and deletes other tools' large objects: SLO, and DLO with a '/'-ended prefix", async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('foreign');
      await r.mkdir(c.name);
      await client.putContainer(`${c.name}_segs`);
      const parts = [randomBytes(MIB), randomBytes(MIB), randomBytes(1000)];
      for (const [i, p] of parts.entries()) await client.putObject(`${c.name}_segs`, `slo/${i}`, p);
      const manifest = parts.map((p, i) => ({ path: `/${c.name}_segs/slo/${i}`, etag: md5(p), size_bytes: p.length }));
      const res = await client.request('PUT', c.name, 'slo.bin', {
        query: { 'multipart-manifest': 'put' },
        body: Buffer.from(JSON.stringify(manifest)),
      });
      await res.arrayBuffer();
      const whole = Buffer.concat(parts);
      assert.equal((await r.stat(`${c.name}/slo.bin`)).size, whole.length);
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/slo.bin`))), md5(whole));
      assert.equal(await r.hash(`${c.name}/slo.bin`, 'md5'), undefined);
      await r.delete(`${c.name}/slo.bin`);
      assert.deepEqual(await rawNames(client, `${c.name}_segs`, 'slo/'), [], 'SLO segments deleted by the server');

      // The swift CLI's DLO layout: prefix ends with '/'.
      for (const [i, p] of parts.entries()) await client.putObject(`${c.name}_segs`, `dlo/1/3/${i}`, p);
      await client.putObject(c.name, 'dlo.bin', new Uint8Array(0), { headers: { 'X-Object-Manifest': `${c.name}_segs/dlo/1/3/` } });
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/dlo.bin`))), md5(whole));
      await r.delete(`${c.name}/dlo.bin`);
      assert.deepEqual(await rawNames(client, `${c.name}_segs`), []);
      await client.deleteContainer(`${c.name}_segs`);
    });

    it('keeps mtimes rclone can read, and reads rclone-set mtimes', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('mtime');
      await r.write(`${c.name}/a`, bytesOf(Buffer.from('a')), { mtime: new Date(1700000000000) });
      assert.equal((await rawHead(client, c.name, 'a'))?.get('x-object-meta-mtime'), '1700000000');
      await r.setMtime(`${c.name}/a`, new Date(1234567890250));
      assert.equal((await rawHead(client, c.name, 'a'))?.get('x-object-meta-mtime'), '1234567890.25');
      assert.match((await rclone('lsl', `swift:${c.name}`)).toString(), /2009-02-13 23:31:30\.250000000 a$/m);
      await rclone('touch', '-t', '2020-01-02T03:04:05.678', `swift:${c.name}/a`);
      assert.equal((await r.stat(`${c.name}/a`)).mtime.toISOString(), '2020-01-02T03:04:05.678Z');
    });

    it('re-authenticates when the token is refused', async () => {
      const client = makeClient(s);
      const r = makeRemote(s, {}, client);
      const c = fresh('reauth');
      await r.mkdir(c.name);
      const { storageUrl } = await client.getSession();
      client.useSession({ storageUrl, token: 'AUTH_tk00000000000000000000000000bogus' });
      await r.write(`${c.name}/after-bad-token`, bytesOf(Buffer.from('ok')));
      assert.notEqual((await client.getSession()).token, 'AUTH_tk00000000000000000000000000bogus');
      // A streamed upload (too big to buffer) first confirms a stale token, then streams once.
      client.useSession({ storageUrl, token: 'AUTH_tk00000000000000000000000000bogus' });
      const big = makeRemote(s, { replayBufferBytes: 1024, chunkSize: 64 * MIB }, client);
      const data = randomBytes(200_000);
      await big.write(`${c.name}/streamed-after-bad-token`, bytesOf(data), { size: data.length });
      assert.equal(md5(await readAll(await r.openRead(`${c.name}/streamed-after-bad-token`))), md5(data));
    });

    it('works from storage_url + auth_token alone (OS_AUTH_TOKEN / OS_STORAGE_URL via env_auth)', async () => {
      const session = await makeClient(s).getSession();
      const c = fresh('token');
      const backend = getBackend('swift');
      const options = new OptionValues(backend.options, { type: 'swift', env_auth: 'true', chunk_size: '1Mi' }, 'allas');
      const saved = { ...process.env };
      process.env.OS_AUTH_TOKEN = session.token;
      process.env.OS_STORAGE_URL = session.storageUrl;
      delete process.env.OS_AUTH_URL;
      delete process.env.OS_PASSWORD;
      try {
        const remote = await backend.create({ name: 'allas', root: '', options, openRemote: async () => assert.fail() });
        assert.equal(remote.type, 'swift');
        await remote.mkdir(c.name);
        await remote.write(`${c.name}/x`, bytesOf(Buffer.from('via token')));
        assert.equal((await readAll(await remote.openRead(`${c.name}/x`))).toString(), 'via token');
      } finally {
        process.env = saved;
      }
      // Without credentials a refused token is a clear, typed error.
      const tokenOnly = new SwiftClient({ storageUrl: session.storageUrl, authToken: 'AUTH_tkbogus', retry: fastRetry });
      await assert.rejects(tokenOnly.headContainer(c.name), (err: unknown) => {
        assert.ok(err instanceof SwiftError);
        assert.equal(err.status, 401);
        assert.ok(err.requestId?.startsWith('tx'), `request id ${err.requestId}`);
        return true;
      });
    });

    it('refuses bad credentials with a typed auth error', async () => {
      const client = makeClient(s, { key: 'wrong' });
      await assert.rejects(client.getSession(), (err: unknown) => err instanceof SwiftAuthError && err.status === 401);
    });

    it('authenticates with Keystone v2 and v3 and picks the endpoint by region and interface', async () => {
      const ks = await startKeystone(s);
      const c = fresh('keystone');
      try {
        const v2 = new SwiftClient({ authUrl: `${ks.url}/v2.0`, user: 'u2', key: 'p2', tenant: 'proj', region: 'R1', retry: fastRetry });
        const r2 = new SwiftRemote(v2);
        await r2.mkdir(c.name);
        await r2.write(`${c.name}/v2`, bytesOf(Buffer.from('2')));
        assert.equal((ks.bodies[0] as { auth: { tenantName: string } }).auth.tenantName, 'proj');
        const v3 = new SwiftClient({
          authUrl: `${ks.url}/v3`,
          user: 'u3',
          key: 'p3',
          tenant: 'proj',
          tenantDomain: 'Default',
          region: 'R1',
          endpointType: 'internal',
          retry: fastRetry,
        });
        const r3 = new SwiftRemote(v3);
        assert.equal((await readAll(await r3.openRead(`${c.name}/v2`))).toString(), '2');
        const v3body = ks.bodies[1] as { auth: { scope: { project: { name: string; domain: { name: string } } } } };
        assert.deepEqual(v3body.auth.scope.project, { name: 'proj', domain: { name: 'Default' } });
        const wrongRegion = new SwiftClient({ authUrl: `${ks.url}/v3`, user: 'u3', key: 'p3', region: 'R9', retry: fastRetry });
        await assert.rejects(wrongRegion.getSession(), /no object-store endpoint/);
      } finally {
        await ks.close();
      }
    });

    it('retries 500s and dropped connections, and resumes a download cut mid-body', async () => {
      const c = fresh('retry');
      const data = randomBytes(1_500_000);
      let failuresLeft = 0;
      let fault: Fault = 'fail500';
      const proxy = await startFaultProxy(`http://127.0.0.1:${new URL(s.swift.authUrl).port}`, (_m, path) => {
        if (path.startsWith('/auth')) return 'pass';
        if (failuresLeft > 0) {
          failuresLeft--;
          return fault;
        }
        return 'pass';
      });
      try {
        const client = new SwiftClient({ authUrl: `${proxy.url}/auth/v1.0`, user: s.swift.user, key: s.swift.key, retry: fastRetry });
        const r = new SwiftRemote(client, { chunkSize: 64 * MIB });
        failuresLeft = 2;
        await r.mkdir(c.name);
        assert.equal(proxy.seen.filter((x) => x.fault === 'fail500').length, 2, 'two 500s were served and retried');
        failuresLeft = 3;
        await r.write(`${c.name}/data.bin`, bytesOf(data), { size: data.length });
        assert.equal(proxy.seen.filter((x) => x.fault === 'fail500').length, 5);
        fault = 'drop';
        failuresLeft = 2;
        assert.equal((await r.stat(`${c.name}/data.bin`)).size, data.length);
        assert.equal(proxy.seen.filter((x) => x.fault === 'drop').length, 2);
        fault = 'dropMidBody';
        failuresLeft = 1;
        const got = await readAll(await r.openRead(`${c.name}/data.bin`, { offset: 10 }));
        assert.equal(proxy.seen.filter((x) => x.fault === 'dropMidBody').length, 1);
        assert.equal(md5(got), md5(data.subarray(10)), 'resumed download is complete and in order');
        // Out of attempts: the last failure surfaces with its status and request id.
        fault = 'fail500';
        failuresLeft = 100;
        await assert.rejects(r.stat(`${c.name}/data.bin`), (err: unknown) => {
          assert.ok(err instanceof SwiftError, String(err));
          assert.equal(err.status, 500);
          assert.match(err.requestId ?? '', /^tx-injected-/);
          assert.equal(err.retryable, true);
          return true;
        });
        failuresLeft = 0;
        // A 404 is not retried and never becomes stream data.
        const before = proxy.seen.length;
        await assert.rejects(r.openRead(`${c.name}/missing`), ObjectNotFoundError);
        assert.equal(proxy.seen.length - before, 1, 'one request for a 404');
      } finally {
        await proxy.close();
      }
    });

    it('removes an object whose stored ETag disagrees with the data sent', async () => {
      const c = fresh('etag');
      let corrupt = false;
      const proxy = await startFaultProxy(`http://127.0.0.1:${new URL(s.swift.authUrl).port}`, (m) =>
        corrupt && m === 'PUT' ? 'badEtag' : 'pass',
      );
      try {
        const client = new SwiftClient({ authUrl: `${proxy.url}/auth/v1.0`, user: s.swift.user, key: s.swift.key, retry: fastRetry });
        const r = new SwiftRemote(client, { replayBufferBytes: 0 });
        await r.mkdir(c.name);
        corrupt = true;
        await assert.rejects(r.write(`${c.name}/x`, bytesOf(randomBytes(1000)), { size: 1000 }), /does not match the MD5/);
        corrupt = false;
        await assert.rejects(r.stat(`${c.name}/x`), ObjectNotFoundError);
      } finally {
        await proxy.close();
      }
    });

    it('uploads buffered segments with at most segmentConcurrency PUTs and +1 segment read ahead, retrying each', async () => {
      const c = fresh('pipeline');
      const chunk = 256 * 1024;
      const data = randomBytes(10 * chunk + 1234);
      const upstream = new URL(s.swift.authUrl);
      // A proxy that holds each segment PUT's answer a while, counts PUTs in flight, and fails one with a 500.
      let inFlight = 0;
      let maxInFlight = 0;
      let storedBytes = 0;
      let segmentPuts = 0;
      const server = http.createServer((req, res) => {
        const isSegment = req.method === 'PUT' && /_segments\//.test(req.url ?? '');
        if (isSegment && ++segmentPuts === 3) {
          req.resume();
          req.on('end', () => res.writeHead(500, { 'X-Trans-Id': 'tx-injected-seg' }).end('injected'));
          return;
        }
        if (isSegment) maxInFlight = Math.max(maxInFlight, ++inFlight);
        const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
          setTimeout(() => {
            if (isSegment) {
              inFlight--;
              if (upRes.statusCode === 201) storedBytes += Number(req.headers['content-length']);
            }
            res.writeHead(upRes.statusCode!, upRes.headers);
            upRes.pipe(res);
          }, isSegment ? 60 : 0);
        });
        up.on('error', () => res.socket?.destroy());
        req.pipe(up);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const logDir = await mkdtemp(join(tmpdir(), 'cryptfs-swiftlog-'));
      const logFile = join(logDir, 'log.txt');
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1.0`;
        const client = new SwiftClient({ authUrl: url, user: s.swift.user, key: s.swift.key, retry: fastRetry });
        const r = new SwiftRemote(client, { chunkSize: chunk, segmentConcurrency: 2 });
        await r.mkdir(c.name);
        // How far the reader runs ahead of what the server has stored: (2 + 1) segments at most.
        let pulled = 0;
        let maxAhead = 0;
        async function* source(): AsyncGenerator<Uint8Array> {
          for (let at = 0; at < data.length; at += 100_000) {
            const piece = data.subarray(at, at + 100_000);
            pulled += piece.length;
            maxAhead = Math.max(maxAhead, pulled - storedBytes);
            yield piece;
          }
        }
        configureLog({ level: 'debug', file: logFile });
        const e = await r.write(`${c.name}/big.bin`, source(), { size: data.length });
        configureLog({ level: 'notice', file: undefined });
        assert.equal(e.size, data.length);
        assert.equal(maxInFlight, 2, 'two segment PUTs overlapped, never more');
        assert.ok(maxAhead <= 3 * chunk + 100_000, `read ahead ${maxAhead} bytes`);
        assert.equal(segmentPuts, 12, '11 segments and one repeated after its 500');
        assert.equal(md5(await readAll(await r.openRead(`${c.name}/big.bin`))), md5(data));
        const segs = await rawNames(client, `${c.name}_segments`);
        assert.deepEqual(segs.map((n) => n.slice(-8)), Array.from({ length: 11 }, (_, i) => String(i).padStart(8, '0')));
        // The retry is a DEBUG line in the project log, as rclone's "low level retry" (-vv).
        const retries = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('low level retry'));
        assert.equal(retries.length, 1, retries.join('\n'));
        assert.match(retries[0], /DEBUG : swift: PUT .*_segments\/big\.bin\/.*\/00000002: low level retry 1\/4 in \d+ ms \(error .*HTTP 500.*request id tx-injected-seg/);
      } finally {
        configureLog({ level: 'notice', file: undefined });
        await rm(logDir, { recursive: true, force: true });
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('deletes the stored segments when a buffered segment fails for good, while others were in flight', async () => {
      const c = fresh('segfail');
      const chunk = 256 * 1024;
      const data = randomBytes(8 * chunk);
      let segmentPuts = 0;
      const proxy = await startFaultProxy(`http://127.0.0.1:${new URL(s.swift.authUrl).port}`, (m, path) =>
        m === 'PUT' && path.includes('_segments/') && ++segmentPuts >= 4 && path.endsWith('/00000003') ? 'fail500' : 'pass',
      );
      try {
        const client = new SwiftClient({ authUrl: `${proxy.url}/auth/v1.0`, user: s.swift.user, key: s.swift.key, retry: fastRetry });
        const r = new SwiftRemote(client, { chunkSize: chunk, segmentConcurrency: 3 });
        await r.mkdir(c.name);
        await assert.rejects(r.write(`${c.name}/x.bin`, bytesOf(data, 65_536), { size: data.length }), (err: unknown) => {
          assert.ok(err instanceof SwiftError, String(err));
          assert.equal(err.status, 500);
          return true;
        });
        assert.equal(proxy.seen.filter((x) => x.fault === 'fail500').length, fastRetry.attempts);
        assert.deepEqual(await rawNames(client, `${c.name}_segments`), [], 'no segment left behind');
        await assert.rejects(r.stat(`${c.name}/x.bin`), ObjectNotFoundError);
      } finally {
        await proxy.close();
      }
    });

    it('reports MD5 hashes rclone agrees with', async () => {
      const r = makeRemote(s);
      const c = fresh('md5');
      const data = randomBytes(54321);
      await r.write(`${c.name}/h.bin`, bytesOf(data));
      assert.equal(await r.hash(`${c.name}/h.bin`, 'md5'), md5(data));
      assert.equal((await rclone('md5sum', `swift:${c.name}`)).toString().trim(), `${md5(data)}  h.bin`);
    });
  });
}
