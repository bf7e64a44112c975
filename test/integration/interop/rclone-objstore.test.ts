// Interop with the real rclone over the real object store (Swift all-in-one with s3api on
// 127.0.0.1): rclone's own `s3` remote (provider Other, path style) and `swift` remote (auth v1),
// a crypt remote over each, one config file read by both tools. rclone writes a tree → cryptfs
// ls/lsl/cat/copy read it identically; cryptfs writes a tree → rclone copy/ls read it identically
// and `rclone cryptcheck` passes. Part and segment sizes are set small (5 MiB) so the tree's large
// file goes up as an S3 multipart upload and as Swift segments, whichever tool writes it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ContentCipher } from '../../../src/crypt/content-cipher.js';
import {
  describeRun,
  expectSuccess,
  rcloneSkipReason,
  runCryptfs,
  runRclone,
  type RunResult,
} from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';
import {
  SeededRandom,
  diffTrees,
  expectedLsLines,
  interopTreeSpec,
  readTree,
  sha256,
  writeTree,
  U2000_BLOCK_NAMES,
  type Tree,
} from '../../helpers/trees.js';

const MiB = 1024 * 1024;
const MS_NS = 1_000_000n;
/** S3 part size, S3 upload cutoff and Swift segment size, as set in the config. */
const PART = 5 * MiB;
/** Bigger than PART: three parts / segments once encrypted. */
const BIG_PATH = 'big/over the chunk size ünï.bin';
const BIG_SIZE = 2 * PART + 321;
// Both tools print times in the local zone; pin it so lsl output is comparable.
const ENV = { TZ: 'UTC' };

const store = await objectStoreAvailable();
const rcloneSkip = rcloneSkipReason();

function obscure(password: string): Promise<string> {
  return runRclone(['obscure', '-'], { input: password + '\n' }).then((r) =>
    expectSuccess('rclone obscure', r).stdout.toString('utf8').trim(),
  );
}

function configText(s: ObjectStore, bucket: string, container: string, secrets: string[]): string {
  return [
    '[s3]',
    'type = s3',
    'provider = Other',
    `access_key_id = ${s.s3.accessKeyId}`,
    `secret_access_key = ${s.s3.secretAccessKey}`,
    `endpoint = ${s.s3.endpoint}`,
    `region = ${s.s3.region}`,
    'force_path_style = true',
    'upload_cutoff = 5Mi',
    'chunk_size = 5Mi',
    '',
    '[swift]',
    'type = swift',
    `user = ${s.swift.user}`,
    `key = ${s.swift.key}`,
    `auth = ${s.swift.authUrl}`,
    'auth_version = 1',
    'chunk_size = 5Mi',
    '',
    '[cs3]',
    'type = crypt',
    `remote = s3:${bucket}`,
    'filename_encryption = standard',
    'directory_name_encryption = true',
    `password = ${secrets[0]}`,
    `password2 = ${secrets[1]}`,
    '',
    '[cswift]',
    'type = crypt',
    `remote = swift:${container}`,
    'filename_encryption = standard',
    'directory_name_encryption = true',
    `password = ${secrets[2]}`,
    `password2 = ${secrets[3]}`,
    '',
  ].join('\n');
}

function lines(r: RunResult): string[] {
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** "%9d YYYY-MM-DD HH:MM:SS.nnnnnnnnn path" → path → [size, ns since the epoch] (UTC). */
function parseLsl(r: RunResult): Map<string, [number, bigint]> {
  const out = new Map<string, [number, bigint]>();
  for (const line of lines(r)) {
    const m = /^ *(\d+) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{9}) (.*)$/.exec(line);
    assert.ok(m, `lsl line not in rclone's format: ${JSON.stringify(line)}`);
    out.set(m[5], [Number(m[1]), BigInt(Date.parse(`${m[2]}T${m[3]}Z`)) * MS_NS + BigInt(m[4])]);
  }
  return out;
}

const absDiff = (a: bigint, b: bigint) => (a > b ? a - b : b - a);

interface Backend {
  /** Crypt remote name in the config. */
  crypt: string;
  /** Underlying remote spec of the crypt remote. */
  underlying: () => string;
  /** Checks that the large file's object at encrypted path `key` went up in parts/segments. */
  checkLarge: (key: string) => Promise<void>;
}

if (!store || rcloneSkip) {
  describe('rclone interop over the object store', { skip: rcloneSkip ?? objectStoreSkipReason() }, () => {
    it('needs rclone and the object store', () => {});
  });
} else {
  const s = store;
  describe('rclone interop over the object store (s3 and swift, crypt over each)', () => {
    let tmp: string;
    let config: string;
    let src: Tree;
    let bucket: TestContainer;
    let container: TestContainer;
    let s3: S3Client;
    const cfg = () => ({ config, env: ENV, timeoutMs: 180_000 });
    const encryptedSize = ContentCipher.encryptedSize(BIG_SIZE);
    const parts = Math.ceil(encryptedSize / PART);

    before(async () => {
      tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-objstore-interop-'));
      bucket = freshContainer(s, 'interop-s3');
      container = freshContainer(s, 'interop-swift');
      const secrets = await Promise.all(Array.from({ length: 4 }, () => obscure(randomBytes(18).toString('base64'))));
      config = join(tmp, 'rclone.conf');
      await fsp.writeFile(config, configText(s, bucket.name, container.name, secrets), { mode: 0o600 });
      const seed = SeededRandom.newSeed();
      console.log(`# object store interop tree seed ${seed} (CRYPTFS_TEST_SEED=${seed} repeats it)`);
      const rng = new SeededRandom(seed);
      const extra = [{ path: BIG_PATH, size: BIG_SIZE }, ...U2000_BLOCK_NAMES.map((n) => ({ path: `names/${n}`, size: 99 }))];
      src = await writeTree(join(tmp, 'src'), interopTreeSpec(rng.fork('tree'), { randomFiles: 8, extra }), rng.fork('data'));
      assert.ok(src.files.some((f) => f.size === 0) && src.files.some((f) => f.size === 65537));
      s3 = new S3Client({
        endpoint: s.s3.endpoint,
        region: s.s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s.s3.accessKeyId, secretAccessKey: s.s3.secretAccessKey },
      });
    });

    after(async () => {
      s3?.destroy();
      await bucket?.remove();
      await container?.remove();
      if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
    });

    /** The encrypted object path (relative to the crypt remote's root) of a plain path, from rclone. */
    async function encryptedPath(crypt: string, plain: string): Promise<string> {
      const r = expectSuccess('rclone cryptdecode --reverse', await runRclone(['cryptdecode', '--reverse', '--', `${crypt}:`, plain], cfg()));
      const [p, enc] = lines(r)[0].split(' \t ');
      assert.equal(p, plain);
      return enc;
    }

    const backends: Backend[] = [
      {
        crypt: 'cs3',
        underlying: () => `s3:${bucket.name}`,
        async checkLarge(key) {
          const head = await s3.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
          assert.equal(head.ContentLength, encryptedSize);
          // A multipart upload's ETag is "<md5 of the part md5s>-<number of parts>".
          assert.match(head.ETag ?? '', new RegExp(`-${parts}"?$`), `ETag ${head.ETag} of ${key}: not a ${parts}-part upload`);
        },
      },
      {
        crypt: 'cswift',
        underlying: () => `swift:${container.name}`,
        async checkLarge(key) {
          const segs = lines(expectSuccess('rclone lsf segments', await runRclone(['lsf', '-R', '--files-only', `swift:${container.name}_segments`], cfg())));
          const mine = segs.filter((n) => n.startsWith(`${key}/`));
          assert.equal(mine.length, parts, `segments of ${key}: ${JSON.stringify(mine)}`);
          const lsl = parseLsl(expectSuccess('rclone lsl', await runRclone(['lsl', `swift:${container.name}/${key}`], cfg())));
          assert.equal([...lsl.values()][0]?.[0], encryptedSize, 'size of the manifest object');
        },
      },
    ];

    for (const b of backends) {
      it(`${b.crypt}: rclone writes → cryptfs ls, lsl, cat and copy read it back exactly`, async () => {
        const remote = `${b.crypt}:rw`;
        expectSuccess('rclone copy', await runRclone(['copy', '--transfers', '4', src.root, remote], cfg()));
        await b.checkLarge(await encryptedPath(b.crypt, `rw/${BIG_PATH}`));

        const [oursLs, theirsLs] = await Promise.all([runCryptfs(['ls', remote], cfg()), runRclone(['ls', remote], cfg())]);
        assert.deepEqual(lines(expectSuccess('cryptfs ls', oursLs)).sort(), expectedLsLines(src), 'cryptfs ls vs the source tree');
        assert.deepEqual(lines(expectSuccess('rclone ls', theirsLs)).sort(), expectedLsLines(src), 'rclone ls vs the source tree');

        const [oursLsl, theirsLsl] = await Promise.all([runCryptfs(['lsl', remote], cfg()), runRclone(['lsl', remote], cfg())]);
        const ours = parseLsl(expectSuccess('cryptfs lsl', oursLsl));
        const theirs = parseLsl(expectSuccess('rclone lsl', theirsLsl));
        for (const f of src.files) {
          const [size, ns] = ours.get(f.path) ?? assert.fail(`cryptfs lsl lacks ${f.path}`);
          assert.equal(size, f.size, `lsl size of ${f.path}`);
          assert.ok(absDiff(ns, f.mtimeNs) < MS_NS, `lsl mtime of ${f.path}: ${ns} vs source ${f.mtimeNs}`);
          assert.ok(absDiff(ns, theirs.get(f.path)![1]) < MS_NS, `lsl mtime of ${f.path} vs rclone's`);
        }

        // cat: every boundary size, the large file, and some awkward names.
        const picks = src.files.filter((f, i) => f.path.startsWith('sizes/') || f.path === BIG_PATH || i % 11 === 0);
        for (const f of picks) {
          const r = expectSuccess(`cryptfs cat ${f.path}`, await runCryptfs(['cat', `${remote}/${f.path}`], cfg()));
          assert.equal(r.stdout.length, f.size, `cat ${JSON.stringify(f.path)}: length`);
          assert.equal(sha256(r.stdout), f.sha256, `cat ${JSON.stringify(f.path)}: contents`);
        }

        const out = join(tmp, `${b.crypt}-from-rclone`);
        expectSuccess('cryptfs copy', await runCryptfs(['copy', '--transfers', '4', remote, out], cfg()));
        assert.deepEqual(diffTrees(src, await readTree(out), { mtimeToleranceNs: MS_NS }), []);
        await fsp.rm(out, { recursive: true });
      });

      it(`${b.crypt}: cryptfs writes → rclone copy and ls read it back exactly, rclone cryptcheck passes`, async () => {
        const remote = `${b.crypt}:cw`;
        expectSuccess('cryptfs copy', await runCryptfs(['copy', '--transfers', '4', src.root, remote], cfg()));
        await b.checkLarge(await encryptedPath(b.crypt, `cw/${BIG_PATH}`));

        const out = join(tmp, `${b.crypt}-from-cryptfs`);
        expectSuccess('rclone copy', await runRclone(['copy', '--transfers', '4', remote, out], cfg()));
        assert.deepEqual(diffTrees(src, await readTree(out), { mtimeToleranceNs: MS_NS }), []);
        await fsp.rm(out, { recursive: true });

        const [oursLs, theirsLs] = await Promise.all([runCryptfs(['ls', remote], cfg()), runRclone(['ls', remote], cfg())]);
        assert.deepEqual(lines(expectSuccess('rclone ls', theirsLs)).sort(), expectedLsLines(src), 'rclone ls vs the source tree');
        assert.deepEqual(lines(expectSuccess('cryptfs ls', oursLs)).sort(), expectedLsLines(src), 'cryptfs ls vs the source tree');

        const check = await runRclone(['cryptcheck', src.root, remote], cfg());
        const what = describeRun('rclone cryptcheck', check);
        assert.equal(check.code, 0, what);
        assert.match(check.stderr, /0 differences found/, what);
        // Objects whose underlying hash the store does not give (large objects) count as matching
        // and are also reported as unchecked.
        const matching = Number(/(\d+) matching files/.exec(check.stderr)?.[1] ?? 0);
        const unchecked = Number(/(\d+) hashes could not be checked/.exec(check.stderr)?.[1] ?? 0);
        assert.equal(matching, src.files.length, what);
        assert.ok(unchecked <= 1, `only the large object may lack a hash: ${what}`);
        // On S3 cryptfs stores the ciphertext MD5 of multipart uploads too (first pass over the local file).
        if (/s3/i.test(b.crypt)) assert.equal(unchecked, 0, `every S3 object has a hash: ${what}`);
        console.log(`# ${b.crypt}: rclone cryptcheck: ${matching} matching, ${unchecked} without a hash`);
      });
    }
  });
}
