// The shaping proxy (scripts/shaping-proxy.mjs) in front of the real object store:
//  - it adds the round-trip time it is given (measured on one kept-alive connection), and caps
//    each connection's bandwidth (one GET takes at least size/rate; two connections together get
//    more than one, so the cap is per connection);
//  - cryptfs copies a tree up into crypt over Swift and over S3 through it and back down again
//    with small multi-thread parts (so a file is read as many parallel ranged GETs), byte for
//    byte, and the real rclone, reading the store directly, cryptchecks what was uploaded.
// The store and rclone are required: when either is missing the test fails (skips only under --allow-skip).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { obscure } from '../../../src/crypt/obscure.js';
import { rcloneSkipReason, repoRoot, runCryptfs, runRclone } from '../../helpers/cli.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, type ObjectStore, type TestContainer } from '../../helpers/objstore.js';
import { MiB, SeededRandom, writeTree, type TreeFileSpec } from '../../helpers/trees.js';

const run = promisify(execFile);
const skip = rcloneSkipReason();
const found = skip ? undefined : await objectStoreAvailable();
const skipAll = skip ?? (found ? undefined : objectStoreSkipReason());
const store = found as ObjectStore;
const PROXY = join(repoRoot(), 'scripts', 'shaping-proxy.mjs');

interface Proxy {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function startProxy(tmp: string, name: string, rate: number, rtt: number): Promise<Proxy> {
  const pidFile = join(tmp, `${name}.pid`);
  const upstream = new URL(store.s3.endpoint).host;
  const { stdout } = await run('node', [PROXY, 'start', '--upstream', upstream, '--rate', String(rate), '--rtt', String(rtt), '--pid-file', pidFile]);
  const port = Number(stdout.trim());
  assert.ok(port > 0, `proxy port from ${JSON.stringify(stdout)}`);
  return { port, url: `http://127.0.0.1:${port}`, stop: async () => void (await run('node', [PROXY, 'stop', '--pid-file', pidFile])) };
}

/** Milliseconds of each of `n` HEAD /healthcheck round trips on one kept-alive connection. */
async function roundTrips(port: number, n: number): Promise<number[]> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const got = new Promise<void>((resolve, reject) => {
        let text = '';
        const onData = (d: Buffer) => {
          text += d.toString('latin1');
          if (text.includes('\r\n\r\n')) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
        socket.once('error', reject);
      });
      socket.write('HEAD /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await got;
      times.push(performance.now() - t0);
    }
  } finally {
    socket.destroy();
  }
  return times;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function swiftToken(): Promise<{ url: string; token: string }> {
  const res = await fetch(store.swift.authUrl, { headers: { 'X-Auth-User': store.swift.user, 'X-Auth-Key': store.swift.key } });
  await res.arrayBuffer();
  return { url: res.headers.get('x-storage-url')!, token: res.headers.get('x-auth-token')! };
}

/** Seconds to GET `path` (below the storage URL) through `base`, checking the length. */
async function timedGet(base: string, path: string, token: string, size: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/${path}`, { headers: { 'X-Auth-Token': token } });
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, size);
  return (performance.now() - t0) / 1000;
}

describe('shaping proxy: a far object store on loopback', { skip: skipAll }, () => {
  let tmp: string;
  const containers: TestContainer[] = [];

  before(async () => {
    tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-shaping-'));
  });
  after(async () => {
    for (const c of containers) await c.remove().catch(() => undefined);
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('adds the round-trip time and caps each connection, not the sum', { timeout: 60_000 }, async () => {
    const proxy = await startProxy(tmp, 'measure', 20, 40);
    const container = freshContainer(store, 'shaping');
    containers.push(container);
    try {
      const direct = median(await roundTrips(Number(new URL(store.s3.endpoint).port), 7));
      const shaped = median(await roundTrips(proxy.port, 7));
      console.log(`# HEAD round trip: direct ${direct.toFixed(1)} ms, through the proxy ${shaped.toFixed(1)} ms (40 ms added)`);
      assert.ok(shaped - direct >= 38, `added latency ${shaped - direct} ms, expected about 40`);
      assert.ok(shaped - direct < 40 + 150, `added latency ${shaped - direct} ms, far more than 40`);

      const { url, token } = await swiftToken();
      const size = 6_000_000;
      const put = await fetch(`${url}/${container.name}`, { method: 'PUT', headers: { 'X-Auth-Token': token } });
      await put.arrayBuffer();
      const obj = await fetch(`${url}/${container.name}/blob`, { method: 'PUT', headers: { 'X-Auth-Token': token }, body: randomBytes(size) });
      await obj.arrayBuffer();
      assert.equal(obj.status, 201);
      const shapedBase = `${proxy.url}${new URL(url).pathname}`;
      const one = await timedGet(shapedBase, `${container.name}/blob`, token, size);
      const oneRate = size / one / 1e6;
      // Two connections at once: each gets the cap, so together they finish in about the time of one.
      const t0 = performance.now();
      await Promise.all([0, 1].map(() => timedGet(shapedBase, `${container.name}/blob`, token, size)));
      const twoRate = (2 * size) / ((performance.now() - t0) / 1000) / 1e6;
      console.log(`# GET ${size} bytes at a 20 MB/s cap: one connection ${oneRate.toFixed(1)} MB/s, two together ${twoRate.toFixed(1)} MB/s`);
      assert.ok(oneRate <= 20 * 1.1, `one connection ran at ${oneRate} MB/s, above the 20 MB/s cap`);
      assert.ok(oneRate >= 20 * 0.25, `one connection ran at ${oneRate} MB/s, far below the 20 MB/s cap`);
      assert.ok(twoRate >= oneRate * 1.3, `two connections (${twoRate} MB/s) no faster than one (${oneRate} MB/s)`);
    } finally {
      await proxy.stop();
    }
  });

  it('cryptfs copies up and down through it (parallel ranged reads), rclone cryptchecks the upload', { timeout: 240_000 }, async () => {
    const proxy = await startProxy(tmp, 'copy', 40, 20);
    try {
      const rng = new SeededRandom(SeededRandom.newSeed());
      console.log(`# tree seed ${rng.seed}`);
      const specs: TreeFileSpec[] = [
        { path: 'big/one.bin', size: 9 * MiB + 4321 },
        { path: 'big/two.bin', size: 3 * MiB },
        { path: 'empty.bin', size: 0 },
      ];
      for (let i = 0; i < 12; i++) specs.push({ path: `small/s${i}.bin`, size: rng.int(70_000) });
      const src = join(tmp, 'src');
      await writeTree(src, specs, rng);
      const bucket = freshContainer(store, 'shaping-s3');
      const container = freshContainer(store, 'shaping-swift');
      containers.push(bucket, container);
      const password = obscure(randomBytes(12).toString('hex'));
      const configText = (base: string) =>
        [
          '[s3]',
          'type = s3',
          'provider = Other',
          `access_key_id = ${store.s3.accessKeyId}`,
          `secret_access_key = ${store.s3.secretAccessKey}`,
          `endpoint = ${base}`,
          `region = ${store.s3.region}`,
          'force_path_style = true',
          'chunk_size = 5Mi',
          'upload_cutoff = 5Mi',
          '',
          '[swift]',
          'type = swift',
          `user = ${store.swift.user}`,
          `key = ${store.swift.key}`,
          `auth = ${base}/auth/v1.0`,
          'chunk_size = 2Mi',
          '',
          '[cs3]',
          'type = crypt',
          `remote = s3:${bucket.name}/data`,
          `password = ${password}`,
          '',
          '[cswift]',
          'type = crypt',
          `remote = swift:${container.name}/data`,
          `password = ${password}`,
          '',
        ].join('\n');
      const farConfig = join(tmp, 'far.conf');
      const directConfig = join(tmp, 'direct.conf');
      await fsp.writeFile(farConfig, configText(proxy.url), { mode: 0o600 });
      await fsp.writeFile(directConfig, configText(store.s3.endpoint), { mode: 0o600 });

      for (const remote of ['cswift', 'cs3']) {
        const up = await runCryptfs(['copy', src, `${remote}:tree`, '--stats', '0'], { config: farConfig, timeoutMs: 100_000 });
        assert.equal(up.code, 0, `${remote}: copy up:\n${up.stderr.slice(-2000)}`);
        const check = await runRclone(['cryptcheck', src, `${remote}:tree`], { config: directConfig, timeoutMs: 100_000 });
        assert.equal(check.code, 0, `${remote}: rclone cryptcheck:\n${check.stderr.slice(-2000)}`);

        // Down with 1 MiB parts: the 9 MiB file is ten ranged GETs, up to 4 at a time.
        const down = join(tmp, `down-${remote}`);
        const t0 = Date.now();
        const get = await runCryptfs(['copy', `${remote}:tree`, down, '--stats', '0', '--multi-thread-chunk-size', '1Mi', '--multi-thread-streams', '4'], {
          config: farConfig,
          timeoutMs: 100_000,
        });
        assert.equal(get.code, 0, `${remote}: copy down:\n${get.stderr.slice(-2000)}`);
        console.log(`# ${remote}: copy down through the proxy in ${Date.now() - t0} ms`);
        for (const s of specs) {
          const [a, b] = await Promise.all([fsp.readFile(join(src, s.path)), fsp.readFile(join(down, s.path))]);
          assert.ok(a.equals(b), `${remote}: ${s.path} differs after the round trip`);
        }
        // And `cat` of a range in the middle (a ranged parallel read not starting at a part boundary).
        const cat = await runCryptfs(['cat', `${remote}:tree/big/one.bin`, '--offset', '1234567', '--count', String(5 * MiB), '--multi-thread-chunk-size', '1Mi'], {
          config: farConfig,
          timeoutMs: 60_000,
        });
        assert.equal(cat.code, 0, cat.stderr);
        const whole = await fsp.readFile(join(src, 'big/one.bin'));
        assert.ok(cat.stdout.equals(whole.subarray(1234567, 1234567 + 5 * MiB)), `${remote}: cat --offset/--count differs`);
      }
    } finally {
      await proxy.stop();
    }
  });
});
