// Cancellation against the real object store (loopback Swift + s3api): an aborted upload leaves
// no object, no pending multipart upload and no Swift segments; an aborted read or listing
// rejects with AbortedError at once instead of running on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { AbortedError, ObjectNotFoundError } from '../../../src/errors.js';
import type { ByteSource, Remote } from '../../../src/remote/remote.js';
import { S3Remote } from '../../../src/remote/s3.js';
import { SwiftClient, SwiftError } from '../../../src/remote/swift-client.js';
import { SwiftRemote } from '../../../src/remote/swift.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, testS3Remote, type TestContainer } from '../../helpers/objstore.js';

const MiB = 1024 * 1024;
const store = await objectStoreAvailable();

/** `mib` MiB, then a stall (a source that stops delivering); `delivered` says when all of it was taken. */
function stallsAfter(mib: number): { source: ByteSource; delivered: Promise<void> } {
  let done!: () => void;
  const delivered = new Promise<void>((r) => (done = r));
  const source = (async function* () {
    for (let i = 0; i < mib; i++) yield randomBytes(MiB);
    done();
    await new Promise(() => undefined);
  })();
  return { source, delivered };
}

/** Settles within `ms`, else fails (an abort must not wait for the stalled source or a timeout). */
async function promptly<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`not settled in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function abortedRead(r: Remote, path: string): Promise<void> {
  const ac = new AbortController();
  const it = (await r.openRead(path, undefined, { signal: ac.signal }))[Symbol.asyncIterator]();
  assert.equal((await it.next()).done, false);
  ac.abort();
  await assert.rejects(promptly(it.next()), AbortedError);
}

if (!store) {
  describe('abort against the object store', { skip: objectStoreSkipReason() }, () => {
    it('needs the object store', () => {});
  });
} else {
  const s = store;

  describe('abort: s3', () => {
    let c: TestContainer;
    let r: S3Remote;
    before(async () => {
      c = freshContainer(s, 'abort-s3');
      r = await testS3Remote(s, { chunkSize: 5 * MiB, uploadCutoff: 5 * MiB });
    });
    after(async () => {
      await r?.close();
      await c?.remove();
    });

    it('an aborted multipart upload leaves no object and no pending upload', async () => {
      const { source, delivered } = stallsAfter(12);
      const ac = new AbortController();
      const writing = r.write(`${c.name}/big.bin`, source, { signal: ac.signal });
      writing.catch(() => undefined);
      await delivered;
      // Two parts are stored or on their way: the upload exists on the server.
      await new Promise((res) => setTimeout(res, 300));
      ac.abort();
      await assert.rejects(promptly(writing), AbortedError);
      await assert.rejects(r.stat(`${c.name}/big.bin`), ObjectNotFoundError);
      const uploads = await r.client.send(new ListMultipartUploadsCommand({ Bucket: c.name }));
      assert.deepEqual(uploads.Uploads ?? [], []);
    });

    it('an aborted single PUT stores nothing', async () => {
      const { source, delivered } = stallsAfter(2);
      const ac = new AbortController();
      const writing = r.write(`${c.name}/streamed.bin`, source, { signal: ac.signal, size: 4 * MiB });
      writing.catch(() => undefined);
      await delivered;
      ac.abort();
      await assert.rejects(promptly(writing), AbortedError);
      await assert.rejects(r.stat(`${c.name}/streamed.bin`), ObjectNotFoundError);
    });

    it('an aborted read rejects mid-stream; an aborted listing rejects', async () => {
      const data = randomBytes(3 * MiB);
      await r.write(`${c.name}/r/obj.bin`, (async function* () { yield data; })(), { size: data.length });
      await abortedRead(r, `${c.name}/r/obj.bin`);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        (async () => {
          for await (const _ of r.list(`${c.name}/r`, { signal: ac.signal })) void _;
        })(),
        AbortedError,
      );
    });
  });

  describe('abort: swift', () => {
    let c: TestContainer;
    let client: SwiftClient;
    let r: SwiftRemote;
    before(() => {
      c = freshContainer(s, 'abort-swift');
      client = new SwiftClient({ authUrl: s.swift.authUrl, user: s.swift.user, key: s.swift.key, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 40 } });
      r = new SwiftRemote(client, { chunkSize: 1 * MiB });
    });
    after(async () => {
      await c?.remove();
    });

    async function segmentNames(): Promise<string[]> {
      const out: string[] = [];
      try {
        for await (const item of client.listObjects(`${c.name}_segments`)) out.push(item.name);
      } catch (err) {
        if (err instanceof SwiftError && err.status === 404) return [];
        throw err;
      }
      return out;
    }

    it('an aborted segmented upload leaves no object and no segments', async () => {
      const { source, delivered } = stallsAfter(3);
      const ac = new AbortController();
      const writing = r.write(`${c.name}/big.bin`, source, { signal: ac.signal });
      writing.catch(() => undefined);
      await delivered;
      await new Promise((res) => setTimeout(res, 300));
      ac.abort();
      await assert.rejects(promptly(writing), AbortedError);
      await assert.rejects(r.stat(`${c.name}/big.bin`), ObjectNotFoundError);
      assert.deepEqual(await segmentNames(), []);
    });

    it('an aborted read rejects mid-stream; an aborted listing rejects', async () => {
      const data = randomBytes(3 * MiB);
      await r.write(`${c.name}/r/obj.bin`, (async function* () { yield data; })(), { size: data.length });
      await abortedRead(r, `${c.name}/r/obj.bin`);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        (async () => {
          for await (const _ of r.list(`${c.name}/r`, { signal: ac.signal })) void _;
        })(),
        AbortedError,
      );
    });
  });
}
