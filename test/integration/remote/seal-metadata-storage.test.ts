// Non-POSIX metadata keys (the sealed record's cryptfs-seal* among them) stored by every backend:
// local as user.* xattrs, S3 as x-amz-meta-*, Swift as X-Object-Meta-*; written with the object,
// changed by setMetadata, carried and changed by server-side copy and move, and handed back by
// stat, list and openReadWithInfo (the read's own response). Real disk, real Swift/S3 server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalRemote } from '../../../src/remote/local.js';
import type { Remote } from '../../../src/remote/remote.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { SwiftClient } from '../../../src/remote/swift-client.js';
import { SwiftRemote } from '../../../src/remote/swift.js';
import { readUserXattrs } from '../../../src/remote/local-xattr.js';
import { freshContainer, objectStoreAvailable, objectStoreSkipReason, testS3Remote, type TestContainer } from '../../helpers/objstore.js';
import { bytesOf, listAll, readAll } from '../../helpers/remote-contract.js';

const store = await objectStoreAvailable();
const LONG = 'A'.repeat(240);

function userKeys(md: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md ?? {})) if (k.startsWith('cryptfs-') || k === 'other') out[k] = v;
  return out;
}

async function checkBackend(remote: Remote): Promise<void> {
  const data = Buffer.from('sealed metadata round trip');
  await remote.write('d/a.bin', bytesOf(data), { metadata: { 'cryptfs-seal': LONG, 'cryptfs-seal-2': 'tail', other: 'kept' } });
  const want = { 'cryptfs-seal': LONG, 'cryptfs-seal-2': 'tail', other: 'kept' };
  assert.deepEqual(userKeys((await remote.stat('d/a.bin')).metadata), want, 'stat');
  const listed = (await listAll(remote, 'd')).find((e) => e.path === 'd/a.bin');
  assert.deepEqual(userKeys(listed?.metadata), want, 'list');
  assert.ok(remote.openReadWithInfo, 'openReadWithInfo');
  const ranged = await remote.openReadWithInfo('d/a.bin', { offset: 3, length: 5 });
  assert.equal((await readAll(ranged.source)).toString(), data.subarray(3, 8).toString());
  assert.equal(ranged.entry.size, data.length, 'the whole size, not the range');
  assert.deepEqual(userKeys(ranged.entry.metadata), want, 'openReadWithInfo metadata');

  await remote.setMetadata!('d/a.bin', { 'cryptfs-seal': 'short', 'cryptfs-seal-2': '' });
  assert.deepEqual(userKeys((await remote.stat('d/a.bin')).metadata), { 'cryptfs-seal': 'short', other: 'kept' }, 'setMetadata');

  const copied = await remote.copy!('d/a.bin', 'd/b.bin', { metadata: { 'cryptfs-seal': 'copy', 'cryptfs-seal-2': 'more' } });
  assert.deepEqual(userKeys(copied.metadata), { 'cryptfs-seal': 'copy', 'cryptfs-seal-2': 'more', other: 'kept' }, 'copy result');
  assert.deepEqual(userKeys((await remote.stat('d/b.bin')).metadata), { 'cryptfs-seal': 'copy', 'cryptfs-seal-2': 'more', other: 'kept' }, 'copy');
  assert.deepEqual(userKeys((await remote.stat('d/a.bin')).metadata), { 'cryptfs-seal': 'short', other: 'kept' }, 'copy source unchanged');

  await remote.move!('d/b.bin', 'e/c.bin', { metadata: { 'cryptfs-seal': 'moved', 'cryptfs-seal-2': '' } });
  assert.deepEqual(userKeys((await remote.stat('e/c.bin')).metadata), { 'cryptfs-seal': 'moved', other: 'kept' }, 'move');
  await assert.rejects(remote.stat('d/b.bin'));
  assert.equal((await readAll(await remote.openRead('e/c.bin'))).toString(), data.toString());

  // A copy without changes keeps the metadata, as S3 and Swift copies do.
  await remote.copy!('e/c.bin', 'e/d.bin');
  assert.deepEqual(userKeys((await remote.stat('e/d.bin')).metadata), { 'cryptfs-seal': 'moved', other: 'kept' }, 'plain copy');
}

describe('local remote: user metadata as user.* xattrs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-write-xattr-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips through write, stat, list, read, setMetadata, copy and move', async () => {
    const remote = new LocalRemote(dir);
    await checkBackend(remote);
    // On disk as rclone's local backend keeps them, the POSIX keys never among them.
    const onDisk = readUserXattrs(join(dir, 'e', 'c.bin'));
    assert.deepEqual(onDisk, { 'cryptfs-seal': 'moved', other: 'kept' });
  });
});

describe('object stores: user metadata keys', { skip: store ? false : objectStoreSkipReason() }, () => {
  const containers: TestContainer[] = [];
  after(async () => {
    for (const c of containers) await c.remove();
  });

  it('s3 round-trips them as x-amz-meta-*', async () => {
    const c = freshContainer(store!, 'sealmd-s3');
    containers.push(c);
    const s3 = await testS3Remote(store!);
    try {
      await s3.mkdir(c.name);
      await checkBackend(new SubRemote(s3, c.name));
    } finally {
      await s3.close();
    }
  });

  it('swift round-trips them as X-Object-Meta-* (read back as X-Object-Meta-Cryptfs-Seal)', async () => {
    const c = freshContainer(store!, 'sealmd-swift');
    containers.push(c);
    const client = new SwiftClient({ authUrl: store!.swift.authUrl, user: store!.swift.user, key: store!.swift.key });
    const swift = new SwiftRemote(client, {});
    await swift.mkdir(c.name);
    await checkBackend(new SubRemote(swift, c.name));
  });
});
