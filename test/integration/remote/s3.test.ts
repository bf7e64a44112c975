// The S3 driver against a real object store: OpenStack Swift with s3api on 127.0.0.1, started by
// scripts/objstore-server.sh. Covers the remote contract, large multipart objects, ranged reads,
// listings in pages, aborted uploads, SSE-C detection, and interop with rclone 1.60.1's s3 remote.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { DirNotFoundError, ObjectNotFoundError, RemoteIOError } from '../../../src/errors.js';
import { S3Remote } from '../../../src/remote/s3.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import type { RemoteEntry } from '../../../src/remote/remote.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  rcloneConfigText,
  rcloneEnv,
  testS3Remote,
  type TestContainer,
} from '../../helpers/objstore.js';
import { bytesOf, listAll, readAll, runRemoteContract } from '../../helpers/remote-contract.js';

const MiB = 1024 * 1024;
const store = await objectStoreAvailable();


/** `size` bytes that differ per MiB, produced without holding them; `digest()` gives their sha256. */
function bigSource(size: number, piece = MiB) {
  const block = randomBytes(piece);
  const sha = createHash('sha256');
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (let off = 0, i = 0; off < size; off += piece, i++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(piece, size - off)));
      chunk.writeUInt32LE(i, 0);
      sha.update(chunk);
      yield chunk;
    }
  }
  return { source: gen(), digest: () => sha.digest('hex'), block };
}

async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<{ hex: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of source) {
    h.update(c);
    size += c.length;
  }
  return { hex: h.digest('hex'), size };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** sha256 of what `rclone cat` prints, streamed. */
function rcloneCatSha256(args: string[], env: NodeJS.ProcessEnv): Promise<{ hex: string; size: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('rclone', ['cat', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const result = sha256Of(child.stdout);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`rclone cat failed (${code}): ${stderr}`));
      else resolve(result);
    });
  });
}

if (!store) {
  describe('s3 driver against the object store', { skip: objectStoreSkipReason() }, () => {
    it('needs the object store', () => {});
  });
} else {
  const s = store;

  // The remote contract, through the same wrapping the remote factory uses for `name:bucket`.
  runRemoteContract(
    's3 (Swift s3api) under a bucket',
    async () => {
      const c = freshContainer(s, 's3-contract');
      const base = await testS3Remote(s);
      return {
        remote: new SubRemote(base, c.name, `tests3:${c.name}`),
        cleanup: async () => {
          await base.close();
          await c.remove();
        },
      };
    },
    { largeSize: 6 * MiB + 17, listsTrees: true, listsUntimed: true },
  );

  describe('s3 driver against the object store', () => {
    let c: TestContainer;
    let r: S3Remote;
    let tmp: string;
    let rcloneConf: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      c = freshContainer(s, 's3');
      r = await testS3Remote(s);
      tmp = await mkdtemp(join(tmpdir(), 'cryptfs-s3-'));
      rcloneConf = join(tmp, 'rclone.conf');
      await writeFile(rcloneConf, rcloneConfigText(s, { swift: 'rswift', s3: 'rs3' }));
      // rclone prints times in local time; the expectations are in UTC.
      env = rcloneEnv({ RCLONE_CONFIG: rcloneConf, TZ: 'UTC' });
    });

    after(async () => {
      await r?.close();
      await c?.remove();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it('treats buckets as top-level directories', async () => {
      await assert.rejects(listAll(r, c.name), DirNotFoundError);
      await assert.rejects(r.stat(c.name), ObjectNotFoundError);
      await r.mkdir(c.name);
      assert.equal((await r.stat(c.name)).isDir, true);
      assert.deepEqual(await listAll(r, c.name), []);
      const buckets = await listAll(r, '');
      assert.ok(buckets.some((e) => e.path === c.name && e.isDir));
      // Directories inside a bucket are prefixes: mkdir makes nothing, as in rclone.
      await r.mkdir(`${c.name}/empty`);
      await assert.rejects(listAll(r, `${c.name}/empty`), DirNotFoundError);
      await r.rmdir(c.name);
      await assert.rejects(r.stat(c.name), ObjectNotFoundError);
      await r.mkdir(c.name);
    });

    it('round-trips 200 MiB through a multipart upload of 5 MiB parts, with ranged reads across parts', async () => {
      const size = 200 * MiB + 12345;
      const big = bigSource(size);
      const t0 = Date.now();
      const entry = await r.write(`${c.name}/large/200M.bin`, big.source, { size, mtime: new Date(1_600_000_000_250) });
      const expected = big.digest();
      const uploadMs = Date.now() - t0;
      assert.equal(entry.size, size);

      const st = await r.stat(`${c.name}/large/200M.bin`);
      assert.equal(st.size, size);
      assert.equal(st.mtime.getTime(), 1_600_000_000_250);
      // A multipart ETag is no MD5 and none was known in advance: no hash rather than a wrong one.
      assert.equal(await r.hash(`${c.name}/large/200M.bin`, 'md5'), undefined);

      const back = await sha256Of(await r.openRead(`${c.name}/large/200M.bin`));
      assert.equal(back.size, size);
      assert.equal(back.hex, expected);

      // Ranges across the 5 MiB part boundaries and at the end.
      for (const [offset, length] of [
        [5 * MiB - 3, 10],
        [10 * MiB - 1, MiB + 2],
        [size - 5, 100],
        [size, 10],
      ] as const) {
        const got = await readAll(await r.openRead(`${c.name}/large/200M.bin`, { offset, length }));
        const want = Buffer.alloc(Math.max(0, Math.min(size, offset + length) - offset));
        for (let i = 0; i < want.length; i++) {
          const pos = offset + i;
          const inPiece = pos % MiB;
          want[i] = inPiece < 4 ? Buffer.from(new Uint32Array([Math.floor(pos / MiB)]).buffer)[inPiece] : big.block[inPiece];
        }
        assert.ok(got.equals(want), `range ${offset}+${length}`);
      }

      // rclone reads the same bytes and the same mtime.
      const viaRclone = await rcloneCatSha256([`rs3:${c.name}/large/200M.bin`], env);
      assert.equal(viaRclone.hex, expected);
      const lsl = await run('rclone', ['lsl', `rs3:${c.name}/large`], env);
      assert.match(lsl, new RegExp(`^\\s*${size} 2020-09-13 12:26:40\\.250000000 200M\\.bin$`, 'm'));
      console.log(`# s3 200 MiB multipart upload: ${uploadMs} ms`);
    });

    it('stores a known MD5 with a multipart upload the way rclone does', async () => {
      const data = randomBytes(7 * MiB);
      const md5 = createHash('md5').update(data).digest('hex');
      const small = await testS3Remote(s, { uploadCutoff: 5 * MiB });
      try {
        await small.write(`${c.name}/md5/known.bin`, bytesOf(data, MiB), { size: data.length, md5 });
        assert.equal(await small.hash(`${c.name}/md5/known.bin`, 'md5'), md5);
        const sums = await run('rclone', ['md5sum', `rs3:${c.name}/md5`], env);
        assert.match(sums, new RegExp(`^${md5}  known\\.bin$`, 'm'));
      } finally {
        await small.close();
      }
    });

    it('lists in pages of list_chunk', async () => {
      const paged = await testS3Remote(s, { listChunk: 3 });
      try {
        const names = Array.from({ length: 10 }, (_, i) => `f${String(i).padStart(2, '0')}`);
        for (const n of names) await paged.write(`${c.name}/paged/${n}`, bytesOf(Buffer.from(n)), { mtime: new Date(1e12 + 1) });
        await paged.write(`${c.name}/paged/sub1/x`, bytesOf(Buffer.from('x')));
        await paged.write(`${c.name}/paged/sub2/y`, bytesOf(Buffer.from('y')));
        const got = await listAll(paged, `${c.name}/paged`);
        assert.deepEqual(
          got.map((e) => e.path.slice(`${c.name}/paged/`.length)),
          [...names, 'sub1', 'sub2'],
        );
        assert.ok(got.filter((e) => !e.isDir).every((e) => e.mtime.getTime() === 1e12 + 1 && e.size === 3));
      } finally {
        await paged.close();
      }
    });

    it('leaves no object and no pending upload when the source fails mid-multipart', async () => {
      async function* breaksAfter12MiB(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 12; i++) yield randomBytes(MiB);
        throw new Error('connection to the source dropped');
      }
      await assert.rejects(r.write(`${c.name}/aborted/half.bin`, breaksAfter12MiB()), /source dropped/);
      await assert.rejects(r.stat(`${c.name}/aborted/half.bin`), ObjectNotFoundError);
      await assert.rejects(listAll(r, `${c.name}/aborted`), DirNotFoundError);
      const uploads = await r.client.send(new ListMultipartUploadsCommand({ Bucket: c.name }));
      assert.deepEqual(uploads.Uploads ?? [], []);
      const rcloneLs = await run('rclone', ['lsf', '-R', `rs3:${c.name}`], env);
      assert.doesNotMatch(rcloneLs, /half\.bin/);
    });

    it('copies objects above copy_cutoff part by part, and sets their mtime the same way', async () => {
      const chunked = await testS3Remote(s, { copyCutoff: 5 * MiB });
      try {
        const data = randomBytes(12 * MiB + 5);
        await chunked.write(`${c.name}/cp/src.bin`, bytesOf(data, MiB), { size: data.length, mtime: new Date(1234567890000) });
        const e = await chunked.copy(`${c.name}/cp/src.bin`, `${c.name}/cp/dst.bin`);
        assert.equal(e.size, data.length);
        assert.ok((await readAll(await chunked.openRead(`${c.name}/cp/dst.bin`))).equals(data));
        assert.equal((await chunked.stat(`${c.name}/cp/dst.bin`)).mtime.getTime(), 1234567890000);
        await chunked.setMtime(`${c.name}/cp/dst.bin`, new Date(1500000000999));
        assert.equal((await chunked.stat(`${c.name}/cp/dst.bin`)).mtime.getTime(), 1500000000999);
        assert.ok((await readAll(await chunked.openRead(`${c.name}/cp/dst.bin`))).equals(data));
        await chunked.move(`${c.name}/cp/dst.bin`, `${c.name}/cp/moved ü.bin`);
        await assert.rejects(chunked.stat(`${c.name}/cp/dst.bin`), ObjectNotFoundError);
        assert.equal((await chunked.stat(`${c.name}/cp/moved ü.bin`)).size, data.length);
      } finally {
        await chunked.close();
      }
    });

    it('reads what rclone wrote, mtimes and hashes included', async () => {
      const src = join(tmp, 'from-rclone');
      await mkdir(join(src, 'dir with space'), { recursive: true });
      // Milliseconds that are exact binary fractions: utimes() passes seconds as a double.
      const files: Record<string, { data: Buffer; mtime: Date }> = {
        'plain.txt': { data: Buffer.from('hello from rclone'), mtime: new Date(Date.UTC(2021, 4, 6, 7, 8, 9, 125)) },
        'dir with space/Ünïcödé +&=.bin': { data: randomBytes(70_000), mtime: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 0)) },
        'big.bin': { data: randomBytes(6 * MiB + 1), mtime: new Date(Date.UTC(2010, 0, 2, 3, 4, 5, 750)) },
      };
      for (const [name, f] of Object.entries(files)) {
        await writeFile(join(src, name), f.data);
        await utimes(join(src, name), f.mtime, f.mtime);
      }
      // A 5 MiB cutoff makes rclone store big.bin in parts, with X-Amz-Meta-Md5chksum.
      await run('rclone', ['copy', '--s3-upload-cutoff', '5M', src, `rs3:${c.name}/from-rclone`], env);

      const top = await listAll(r, `${c.name}/from-rclone`);
      assert.deepEqual(
        top.map((e: RemoteEntry) => [e.path.slice(c.name.length + 1), e.isDir]),
        [
          ['from-rclone/big.bin', false],
          ['from-rclone/dir with space', true],
          ['from-rclone/plain.txt', false],
        ],
      );
      for (const [name, f] of Object.entries(files)) {
        const path = `${c.name}/from-rclone/${name}`;
        const st = await r.stat(path);
        assert.equal(st.size, f.data.length, name);
        assert.equal(st.mtime.getTime(), f.mtime.getTime(), `mtime of ${name}`);
        assert.ok((await readAll(await r.openRead(path))).equals(f.data), name);
        assert.equal(await r.hash(path, 'md5'), createHash('md5').update(f.data).digest('hex'), `md5 of ${name}`);
      }
    });

    it('writes what rclone reads, mtimes included', async () => {
      const items = [
        { name: 'ours.txt', data: Buffer.from('written by cryptfs'), mtime: new Date(Date.UTC(2022, 1, 3, 4, 5, 6, 789)) },
        { name: 'sub dir/日本語 ファイル.bin', data: randomBytes(100_000), mtime: new Date(Date.UTC(2003, 6, 8, 9, 10, 11, 0)) },
      ];
      for (const it of items) {
        await r.write(`${c.name}/to-rclone/${it.name}`, bytesOf(it.data), { size: it.data.length, mtime: it.mtime });
      }
      const lsl = await run('rclone', ['lsl', `rs3:${c.name}/to-rclone`], env);
      assert.match(lsl, /^\s*18 2022-02-03 04:05:06\.789000000 ours\.txt$/m);
      assert.match(lsl, /^\s*100000 2003-07-08 09:10:11\.000000000 sub dir\/日本語 ファイル\.bin$/m);
      const out = join(tmp, 'to-rclone');
      await run('rclone', ['copy', `rs3:${c.name}/to-rclone`, out], env);
      await run('rclone', ['check', '--one-way', out, `rs3:${c.name}/to-rclone`], env);
      for (const it of items) {
        assert.ok((await readFile(join(out, it.name))).equals(it.data), it.name);
      }
    });

    it('warns when the server ignores SSE-C, and reads back with the key', async () => {
      const warnings: string[] = [];
      const sse = await testS3Remote(s, {
        sse: { algorithm: 'AES256', key: randomBytes(32) },
        logger: { debug() {}, warn: (m) => warnings.push(m) },
      });
      try {
        await sse.write(`${c.name}/sse/a.bin`, bytesOf(Buffer.from('not so secret')), { size: 13 });
        await sse.write(`${c.name}/sse/b.bin`, bytesOf(Buffer.from('again')), { size: 5 });
        assert.equal(sse.sseCheck.get(c.name), 'ignored');
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /IGNORES SSE-C/);
        assert.equal((await readAll(await sse.openRead(`${c.name}/sse/a.bin`))).toString(), 'not so secret');
        // Its ETag is not trusted as an MD5 with SSE-C; the metadata MD5 is.
        assert.equal(await sse.hash(`${c.name}/sse/a.bin`, 'md5'), createHash('md5').update('not so secret').digest('hex'));
      } finally {
        await sse.close();
      }
    });

    it('purges a directory and a whole bucket (DeleteObjects with Content-MD5)', async () => {
      for (let i = 0; i < 5; i++) await r.write(`${c.name}/purge/p${i}`, bytesOf(Buffer.from('p')));
      await r.purge(`${c.name}/purge`);
      await assert.rejects(listAll(r, `${c.name}/purge`), DirNotFoundError);
      const other = freshContainer(s, 's3-purge');
      try {
        await r.write(`${other.name}/a/b/c`, bytesOf(Buffer.from('c')));
        await r.purge(other.name);
        await assert.rejects(r.stat(other.name), ObjectNotFoundError);
      } finally {
        await other.remove();
      }
    });

    it('reports refused requests as RemoteIOError with status and request id, without retrying', async () => {
      const bad = await testS3Remote(s, { credentials: { accessKeyId: s.s3.accessKeyId, secretAccessKey: 'wrong' } });
      try {
        const t0 = Date.now();
        await assert.rejects(bad.stat(`${c.name}/anything`), (err: unknown) => {
          assert.ok(err instanceof RemoteIOError, String(err));
          assert.equal(err.status, 403);
          assert.ok(err.requestId && err.requestId.length > 5, `request id ${err.requestId}`);
          assert.equal(err.retryable, false);
          return true;
        });
        assert.ok(Date.now() - t0 < 2000, 'no backoff on 403');
      } finally {
        await bad.close();
      }
    });
  });
}
