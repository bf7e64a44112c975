// The crypt overlay on the real object store (Swift all-in-one with s3api on 127.0.0.1, started by
// scripts/objstore-server.sh): the whole remote contract through crypt over S3 and over Swift, and
// a 200 MiB file through each — multipart (5 MiB parts) on S3, segments (16 MiB) on Swift — read
// back whole and in ranges at 64 KiB chunk boundaries and at the part/segment boundaries of the
// ciphertext, all decrypting to the plaintext.
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ContentCipher } from '../../../src/crypt/content-cipher.js';
import { deriveKeys, type CryptKeys } from '../../../src/crypt/keys.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import type { Remote } from '../../../src/remote/remote.js';
import { S3Remote } from '../../../src/remote/s3.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { SwiftClient } from '../../../src/remote/swift-client.js';
import { SwiftRemote, type SwiftRemoteSettings } from '../../../src/remote/swift.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  testS3Remote,
  type ObjectStore,
  type TestContainer,
} from '../../helpers/objstore.js';
import { readAll, runRemoteContract } from '../../helpers/remote-contract.js';

const MiB = 1024 * 1024;
const CHUNK = 65536;
/** Encrypted bytes per full 64 KiB chunk: the plaintext plus a 16-byte Poly1305 tag. */
const CIPHER_CHUNK = CHUNK + 16;
const HEADER = 32;
const store = await objectStoreAvailable();

const NAMES: CryptRemoteOptions = {
  mode: 'standard',
  encoding: 'base32',
  directoryNameEncryption: true,
  noDataEncryption: false,
};


function swiftRemote(s: ObjectStore, settings: Partial<SwiftRemoteSettings>): SwiftRemote {
  const client = new SwiftClient({
    authUrl: s.swift.authUrl,
    user: s.swift.user,
    key: s.swift.key,
    retry: { attempts: 5, baseDelayMs: 20, maxDelayMs: 200 },
  });
  return new SwiftRemote(client, settings);
}

/**
 * A deterministic plaintext of any size that is never held whole: pieces of PIECE bytes (not a
 * divisor of the 64 KiB chunk or of the part sizes, so no boundary repeats another) copied from one
 * random block, each stamped with its index, so any byte range can be rebuilt to compare with.
 */
class Pattern {
  static readonly PIECE = MiB + 4099;
  private readonly block = randomBytes(Pattern.PIECE);

  constructor(readonly size: number) {}

  /** The bytes [offset, offset + length) clipped to the size. */
  slice(offset: number, length: number): Buffer {
    const end = Math.min(this.size, offset + length);
    const out = Buffer.allocUnsafe(Math.max(0, end - offset));
    for (let pos = offset; pos < end; ) {
      const piece = Math.floor(pos / Pattern.PIECE);
      const start = piece * Pattern.PIECE;
      const stamped = Buffer.from(this.block);
      stamped.writeUInt32LE(piece, 0);
      const from = pos - start;
      const n = Math.min(Pattern.PIECE - from, end - pos);
      stamped.copy(out, pos - offset, from, from + n);
      pos += n;
    }
    return out;
  }

  async *source(): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < this.size; off += Pattern.PIECE) yield this.slice(off, Pattern.PIECE);
  }

  sha256(): string {
    const h = createHash('sha256');
    for (let off = 0; off < this.size; off += Pattern.PIECE) h.update(this.slice(off, Pattern.PIECE));
    return h.digest('hex');
  }
}

/** The plaintext offset whose ciphertext byte sits at encrypted offset `c` (c past the header). */
function plainOffsetAt(c: number): number {
  const body = c - HEADER;
  const chunk = Math.floor(body / CIPHER_CHUNK);
  const inner = body - chunk * CIPHER_CHUNK;
  // Inside the 16-byte tag there is no plaintext byte: take the first byte of the next chunk.
  return chunk * CHUNK + Math.min(CHUNK, Math.max(0, inner - 16));
}

/** Ranged reads at 64 KiB chunk boundaries, the plaintext 5 MiB mark, and around the stored part/segment boundaries. */
function rangesFor(size: number, partSize: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [
    [0, 100],
    [65535, 1],
    [65535, 2],
    [65536, 10],
    [65537, CHUNK],
    [65535, 3 * CHUNK + 7],
    [5 * MiB - 1, 2],
    [5 * MiB, 1],
    [5 * MiB + 1, CHUNK],
    [5 * MiB - 1, 5 * MiB + 3],
  ];
  const encSize = ContentCipher.encryptedSize(size);
  for (let k = 1; k <= 3 && k * partSize < encSize; k++) {
    const p = plainOffsetAt(k * partSize);
    // Reads that need the last bytes of one stored part and the first of the next.
    ranges.push([p - 1, 2], [Math.max(0, p - CHUNK - 1), 2 * CHUNK + 2], [p, 1]);
  }
  ranges.push([size - 1, 1], [size - CHUNK - 1, 10 * CHUNK], [size, 10]);
  return ranges;
}

async function checkRoundTrip(r: Remote, path: string, pattern: Pattern, partSize: number): Promise<void> {
  const mtime = new Date(Date.UTC(2022, 1, 3, 4, 5, 6, 789));
  const t0 = Date.now();
  const written = await r.write(path, pattern.source(), { size: pattern.size, mtime });
  const writeMs = Date.now() - t0;
  assert.equal(written.size, pattern.size);
  const st = await r.stat(path);
  assert.equal(st.size, pattern.size);
  assert.equal(st.mtime.getTime(), mtime.getTime());

  const t1 = Date.now();
  const h = createHash('sha256');
  let n = 0;
  for await (const c of await r.openRead(path)) {
    h.update(c);
    n += c.length;
  }
  const readMs = Date.now() - t1;
  assert.equal(n, pattern.size, 'bytes read back');
  assert.equal(h.digest('hex'), pattern.sha256(), 'sha256 of the whole file');

  for (const [offset, length] of rangesFor(pattern.size, partSize)) {
    const got = await readAll(await r.openRead(path, { offset, length }));
    const want = pattern.slice(offset, length);
    assert.equal(got.length, want.length, `length of range ${offset}+${length}`);
    assert.ok(got.equals(want), `content of range ${offset}+${length}`);
  }
  const mb = pattern.size / MiB;
  console.log(`# ${mb.toFixed(0)} MiB through ${r.displayName} written in ${writeMs} ms, read in ${readMs} ms`);
}

if (!store) {
  describe('crypt over the object store', { skip: objectStoreSkipReason() }, () => {
    it('needs the object store', () => {});
  });
} else {
  const s = store;
  const keys: CryptKeys = await deriveKeys(randomBytes(12).toString('base64'), randomBytes(12).toString('base64'));

  // Multipart from 5 MiB on, so the contract's large object goes up in parts.
  runRemoteContract(
    'crypt (standard, base32) over s3 (Swift s3api), 5 MiB parts',
    async () => {
      const c = freshContainer(s, 'crypt-s3-contract');
      const base = await testS3Remote(s, { chunkSize: 5 * MiB, uploadCutoff: 5 * MiB });
      const crypt = new CryptRemote(new SubRemote(base, c.name, `tests3:${c.name}`), keys, NAMES, 'crypts3:');
      return {
        remote: crypt,
        cleanup: async () => {
          await crypt.close();
          await c.remove();
        },
      };
    },
    { largeSize: 11 * MiB + 17, listsTrees: true, listsUntimed: true },
  );

  runRemoteContract(
    'crypt (standard, base32) over swift, 1 MiB segments',
    async () => {
      const c = freshContainer(s, 'crypt-swift-contract');
      const base = swiftRemote(s, { chunkSize: MiB, listPageSize: 5 });
      await base.mkdir(c.name);
      const crypt = new CryptRemote(new SubRemote(base, c.name, `testswift:${c.name}`), keys, NAMES, 'cryptswift:');
      return { remote: crypt, cleanup: () => c.remove() };
    },
    { largeSize: 3 * MiB + 12345, listsTrees: true, listsUntimed: true },
  );

  describe('crypt over the object store: 200 MiB', () => {
    const size = 200 * MiB + 12345;
    const pattern = new Pattern(size);
    const containers: TestContainer[] = [];
    let s3: S3Remote | undefined;

    before(() => {
      // Make sure the piece stamping really makes every piece distinct for this size.
      assert.ok(Math.ceil(size / Pattern.PIECE) < 2 ** 32);
    });
    after(async () => {
      await s3?.close();
      for (const c of containers) await c.remove();
    });

    it('round-trips through S3 multipart (5 MiB parts), ranges across chunks and parts decrypt', async () => {
      const c = freshContainer(s, 'crypt-s3-big');
      containers.push(c);
      const partSize = 5 * MiB;
      s3 = await testS3Remote(s, { chunkSize: partSize, uploadCutoff: partSize, uploadConcurrency: 4 });
      const crypt = new CryptRemote(new SubRemote(s3, c.name, `tests3:${c.name}`), keys, NAMES, 'crypts3:');
      await checkRoundTrip(crypt, 'big/200M.bin', pattern, partSize);

      // It really went up in parts: a multipart ETag "<md5>-<parts>" with one part per 5 MiB of ciphertext.
      const encName = crypt.encryptFilePath('big/200M.bin');
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: c.name, Key: encName }));
      const encSize = ContentCipher.encryptedSize(size);
      assert.equal(head.ContentLength, encSize);
      assert.match(head.ETag ?? '', new RegExp(`-${Math.ceil(encSize / partSize)}"?$`), `ETag ${head.ETag}`);
    });

    it('round-trips through Swift segments (16 MiB), ranges across chunks and segments decrypt', async () => {
      const c = freshContainer(s, 'crypt-swift-big');
      containers.push(c);
      const segSize = 16 * MiB;
      const swift = swiftRemote(s, { chunkSize: segSize });
      const crypt = new CryptRemote(new SubRemote(swift, c.name, `testswift:${c.name}`), keys, NAMES, 'cryptswift:');
      await checkRoundTrip(crypt, 'big/200M.bin', pattern, segSize);

      // Stored as a manifest over ceil(encrypted size / 16 MiB) segments.
      const encName = crypt.encryptFilePath('big/200M.bin');
      const head = await swift.client.headObject(c.name, encName);
      assert.ok(head, 'manifest object exists');
      assert.ok(head.get('x-object-manifest'), 'has X-Object-Manifest');
      const segments: string[] = [];
      for await (const item of swift.client.listObjects(`${c.name}_segments`)) {
        if (item.kind === 'object') segments.push(item.name);
      }
      assert.equal(segments.length, Math.ceil(ContentCipher.encryptedSize(size) / segSize));
      assert.ok(segments.every((n) => n.startsWith(`${encName}/`)), segments[0]);
    });
  });
}
