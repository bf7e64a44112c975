// "Nothing lost" under a flaky network: cryptfs talks to the real object store through the fault
// proxy of test/helpers/fault-proxy.ts (about 20% of requests answered 503, upload and download
// bodies cut off mid-way, 100–300 ms added to every request) and must not notice:
//  - `cryptfs copy` of a mixed tree (many small files, a few of several MiB crossing the S3 part
//    size and the Swift segment size) into crypt over Swift and over S3 exits 0 in ONE pass (no
//    "Attempt N/M" line), while the proxy counts the faults it injected; the real rclone, reading
//    the store directly, cryptchecks the result clean;
//  - through `cryptfs mount` of crypt over Swift (via the proxy), `diff -r` of the tree against
//    the mount finds no difference and the mount log has no error.
// The store, rclone and FUSE are required: when any is missing the test fails (skips only under --allow-skip).
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { obscure } from '../../../src/crypt/obscure.js';
import { FaultProxy, type FaultCounters } from '../../helpers/fault-proxy.js';
import { rcloneSkipReason, runCryptfs, runRclone } from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from '../fuse/mount-helpers.js';
import { MiB, SeededRandom, writeTree, type TreeFileSpec } from '../../helpers/trees.js';

// Fails the file (rather than skipping, unless --allow-skip) when a tool is missing.
const skip = rcloneSkipReason();
const found = skip ? undefined : await objectStoreAvailable();
const skipAll = skip ?? (found ? undefined : objectStoreSkipReason());
// Only used by the tests, which do not run when skipAll is set.
const store = found as ObjectStore;

const FAULTS = {
  errorRate: 0.2,
  requestResetRate: 0.1,
  responseResetRate: 0.1,
  latencyMs: [100, 300] as [number, number],
  // Encrypted small files are a few hundred bytes: make them eligible for resets too.
  minResetBytes: 256,
};

/** A mixed tree: small files in a few directories, and large ones around the part/segment sizes. */
function treeSpec(rng: SeededRandom): TreeFileSpec[] {
  const specs: TreeFileSpec[] = [];
  for (let i = 0; i < 40; i++) specs.push({ path: `d${i % 4}/sub${i % 2}/small-${i}.bin`, size: rng.int(20_000) });
  specs.push({ path: 'empty.bin', size: 0 });
  // S3: chunk_size 5 MiB, upload_cutoff 8 MiB → one replayable single PUT above the part size,
  // and multipart uploads of 2 and 3 parts. Swift: chunk_size 2 MiB → 3 to 6 segments each.
  specs.push({ path: 'big/six.bin', size: 6 * MiB + 123 });
  specs.push({ path: 'big/eleven.bin', size: 11 * MiB + 7 });
  specs.push({ path: 'big/d/nine.bin', size: 9 * MiB - 1 });
  return specs;
}

function diffCounters(after: FaultCounters, before: FaultCounters): FaultCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as Array<keyof FaultCounters>) out[k] = after[k] - before[k];
  return out;
}

function describeCounters(c: FaultCounters): string {
  return (
    `${c.requests} requests, ${c.errors} 503s, ${c.requestResets} upload resets, ${c.responseResets} download resets` +
    (c.upstreamFailures ? `, ${c.upstreamFailures} UPSTREAM FAILURES` : '')
  );
}

describe('object store through a fault proxy (503s, mid-body resets, latency)', { skip: skipAll }, () => {
  let tmp: string;
  let src: string;
  let proxy: FaultProxy;
  let proxyConfig: string;
  let directConfig: string;
  const containers: TestContainer[] = [];

  before(async () => {
    tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-faults-'));
    src = join(tmp, 'src');
    const rng = new SeededRandom(SeededRandom.newSeed());
    console.log(`# tree seed ${rng.seed}`);
    await writeTree(src, treeSpec(rng), rng);
    proxy = await FaultProxy.start({ upstream: store.s3.endpoint, seed: 20240601, ...FAULTS });

    const bucket = freshContainer(store, 'faults-s3');
    const container = freshContainer(store, 'faults-swift');
    containers.push(bucket, container);
    const password = obscure(randomBytes(12).toString('hex'));
    const password2 = obscure(randomBytes(12).toString('hex'));
    // The same crypt remotes over the store reached through the proxy (for cryptfs) or directly (for rclone).
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
        'upload_cutoff = 8Mi',
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
        `password2 = ${password2}`,
        '',
        '[cswift]',
        'type = crypt',
        `remote = swift:${container.name}/data`,
        `password = ${password}`,
        `password2 = ${password2}`,
        '',
      ].join('\n');
    proxyConfig = join(tmp, 'proxied.conf');
    directConfig = join(tmp, 'direct.conf');
    await fsp.writeFile(proxyConfig, configText(proxy.url), { mode: 0o600 });
    await fsp.writeFile(directConfig, configText(store.s3.endpoint), { mode: 0o600 });
  });

  after(async () => {
    await proxy?.close();
    for (const c of containers) await c.remove().catch(() => undefined);
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  for (const remote of ['cswift', 'cs3']) {
    it(`cryptfs copy into ${remote} finishes in one pass; rclone cryptchecks it clean`, { timeout: 150_000 }, async () => {
      const before = { ...proxy.counters };
      const t0 = Date.now();
      const copy = await runCryptfs(['copy', src, `${remote}:tree`, '-vv', '--stats', '0'], {
        config: proxyConfig,
        env: { TZ: 'UTC' },
        timeoutMs: 140_000,
      });
      const injected = diffCounters(proxy.counters, before);
      const lines = copy.stderr.split('\n');
      const passes = lines.filter((l) => /Attempt \d+\/\d+/.test(l));
      const errors = lines.filter((l) => /\bERROR\b/.test(l));
      const retries = lines.filter((l) => /low level retry|resuming at byte/.test(l));
      console.log(
        `# ${remote}: exit ${copy.code} in ${Date.now() - t0} ms; ${describeCounters(injected)}; ` +
          `${retries.length} low-level retries logged, ${errors.length} ERROR lines, ${passes.length} pass lines`,
      );
      for (const l of [...passes, ...errors].slice(0, 10)) console.log(`#   ${l.slice(0, 300)}`);

      assert.equal(injected.upstreamFailures, 0, 'the proxy could not reach the object store');
      assert.ok(injected.errors > 0, `no 503 was injected (${describeCounters(injected)})`);
      assert.ok(injected.requestResets + injected.responseResets > 0, `no connection was reset (${describeCounters(injected)})`);
      assert.deepEqual(passes, [], 'the copy needed more than one pass');
      assert.deepEqual(errors, [], 'the copy logged errors');
      assert.equal(copy.code, 0, `cryptfs copy exit code; stderr tail:\n${copy.stderr.slice(-3000)}`);

      // The real rclone, straight to the store: every file there, decrypting to the source's bytes.
      const check = await runRclone(['cryptcheck', src, `${remote}:tree`], { config: directConfig, timeoutMs: 120_000 });
      assert.equal(check.code, 0, `rclone cryptcheck:\n${check.stderr.slice(-3000)}`);
      assert.match(check.stderr, /0 differences found/);
    });
  }

  for (const backend of ['swift', 's3'] as const) {
    it(`diff -r through cryptfs mount of crypt over ${backend} (via the proxy) finds nothing and no EIO`, { timeout: 150_000 }, async (t) => {
      const noFuse = fuseSkipReason(); // fails the test without FUSE, unless --allow-skip
      if (noFuse) return t.skip(noFuse);
      // Its own proxy, cutting more downloads: reads and listings are what a diff does.
      const mountProxy = await FaultProxy.start({ upstream: store.s3.endpoint, seed: 7, ...FAULTS, responseResetRate: 0.3 });
      const container = freshContainer(store, `faults-mount-${backend}`);
      containers.push(container);
      const section = (base: string) =>
        backend === 'swift'
          ? ['[swift]', 'type = swift', `user = ${store.swift.user}`, `key = ${store.swift.key}`, `auth = ${base}/auth/v1.0`, '']
          : [
              '[s3]',
              'type = s3',
              'provider = Other',
              `access_key_id = ${store.s3.accessKeyId}`,
              `secret_access_key = ${store.s3.secretAccessKey}`,
              `endpoint = ${base}`,
              `region = ${store.s3.region}`,
              'force_path_style = true',
              '',
            ];
      const fx = await CryptFixture.create(`faults-${backend}`, {
        configText: section(mountProxy.url).join('\n'),
        target: `${backend}:${container.name}/data`,
        cleanup: async () => {},
      });
      let mount: Mounted | undefined;
      try {
        // The data goes in directly (rclone, no proxy): this test is about reading through the faults.
        const direct = join(fx.root, 'direct.conf');
        await fsp.writeFile(direct, (await fsp.readFile(fx.config, 'utf8')).replaceAll(mountProxy.url, store.s3.endpoint), { mode: 0o600 });
        const put = await runRclone(['copy', src, 'secret:'], { config: direct, timeoutMs: 120_000 });
        assert.equal(put.code, 0, `rclone copy:\n${put.stderr}`);

        const mountpoint = join(fx.root, 'mnt');
        mount = await startMount(fx, mountpoint, ['-vv']);
        const t0 = Date.now();
        const diff = await sh(`diff -r "${src}" "${mountpoint}"`, {}, 120_000);
        const injected = { ...mountProxy.counters };
        const log = await mount.log();
        const bad = log.split('\n').filter((l) => /\bERROR\b|EIO|[Ii]nput\/output error/.test(l));
        const diffLines = [...diff.stdout.split('\n'), ...diff.stderr.split('\n')].filter(Boolean);
        const resumes = log.split('\n').filter((l) => /resuming at byte/.test(l)).length;
        console.log(
          `# mount ${backend}: diff -r exit ${diff.code} in ${Date.now() - t0} ms; ${describeCounters(injected)}; ` +
            `${diffLines.length} diff lines, ${bad.length} error lines and ${resumes} resumed reads in the mount log`,
        );
        for (const l of [...diffLines, ...bad].slice(0, 10)) console.log(`#   ${l.slice(0, 300)}`);

        assert.equal(injected.upstreamFailures, 0, 'the proxy could not reach the object store');
        assert.ok(injected.errors > 0, `no 503 was injected (${describeCounters(injected)})`);
        assert.ok(injected.responseResets > 0, `no download was reset (${describeCounters(injected)})`);
        assert.deepEqual(diffLines, [], 'diff -r output');
        assert.equal(diff.code, 0, 'diff -r exit code');
        assert.deepEqual(bad, [], 'errors in the mount log');
        assert.equal(await mount.unmount(), 0, 'the mount daemon exit code');
        mount = undefined;
      } finally {
        await forceStop(mount);
        await mountProxy.close();
        await fx.cleanup();
      }
    });
  }
});
