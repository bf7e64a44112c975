// The sealed-record check on reads (remote/crypt-verify.ts), over the in-memory remote: every row of
// the decision table (sealed / unsealed / moved / swapped with and without metadata / truncated /
// bad record / copy between nested roots) under integrity = default, strict and off.
import os from 'node:os';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { SEAL_METADATA_KEY, sealRemovalMetadata } from '../../../src/crypt/seal.js';
import { auditObject, sealObject } from '../../../src/remote/crypt-audit.js';
import type { IntegrityMode } from '../../../src/remote/crypt-verify.js';
import {
  AuthenticationError,
  ContentMismatchError,
  FileTruncatedError,
  IntegrityError,
  InvalidSealError,
  MovedFileError,
  UnsealedFileError,
} from '../../../src/errors.js';
import { bytesOf, readAll } from '../../helpers/remote-contract.js';
import { StreamingReader } from '../../../src/vfs/read-ahead.js';

const keys = await deriveKeys('seal verify pw', 'seal verify salt');
const base: CryptRemoteOptions = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false };
const CHUNK = 65536;
const A = Buffer.alloc(3 * CHUNK + 1000, 'a');
const B = Buffer.alloc(3 * CHUNK + 1000, 'b');

/** A memory store holding a.txt, b.txt (same size, sealed) and rclone.txt (unsealed), with a crypt remote per mode over it. */
async function setup() {
  const mem = new MemoryRemote();
  const crypt = (integrity: IntegrityMode, under = mem as MemoryRemote | SubRemote) => new CryptRemote(under, keys, { ...base, integrity });
  const writer = crypt('default');
  await writer.write('a.txt', bytesOf(A));
  await writer.write('b.txt', bytesOf(B));
  await writer.write('dir/x.txt', bytesOf(A));
  await writer.write('rclone.txt', bytesOf(Buffer.from('written by rclone')));
  // As rclone would have written them: no record (whether or not cryptfs's writes seal).
  for (const key of mem.objects.keys()) await mem.setMetadata(key, sealRemovalMetadata());
  for (const p of ['a.txt', 'b.txt', 'dir/x.txt']) assert.equal((await sealObject(writer, p)).outcome, 'added');
  const obj = (plain: string) => mem.objects.get(writer.encryptFilePath(plain))!;
  const read = async (integrity: IntegrityMode, plain: string, offset = 0) =>
    readAll(await crypt(integrity).openRead(plain, offset ? { offset } : undefined));
  return { mem, crypt, writer, obj, read };
}

const modes: IntegrityMode[] = ['default', 'strict'];

describe('sealed record check on read', () => {
  it('sealed files read in every mode; verify counts them sealed', async () => {
    const { read, writer } = await setup();
    for (const m of [...modes, 'off' as const]) assert.ok((await read(m, 'a.txt')).equals(A));
    assert.ok((await read('strict', 'a.txt', CHUNK + 5)).equals(A.subarray(CHUNK + 5)));
    assert.equal((await auditObject(writer, 'a.txt', { download: true })).verdict.status, 'sealed');
  });

  it('unsealed (rclone-written) files read in default, are refused in strict', async () => {
    const { read } = await setup();
    assert.equal((await read('default', 'rclone.txt')).toString(), 'written by rclone');
    await assert.rejects(read('strict', 'rclone.txt'), UnsealedFileError);
  });

  it('a move by another tool (record kept, old path gone): NOTICE in default, error in strict', async () => {
    const { mem, read, writer } = await setup();
    await mem.move(writer.encryptFilePath('a.txt'), writer.encryptFilePath('moved.txt'));
    const lines: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      assert.ok((await read('default', 'moved.txt')).equals(A));
    } finally {
      process.stderr.write = orig;
    }
    assert.match(lines.join(''), /NOTICE: moved\.txt: moved elsewhere: sealed for "a\.txt", which no longer exists/);
    await assert.rejects(read('strict', 'moved.txt'), MovedFileError);
    // seal re-seals it under its new name; then strict reads it.
    assert.equal((await sealObject(writer, 'moved.txt')).outcome, 'added');
    assert.ok((await read('strict', 'moved.txt')).equals(A));
  });

  it('objects swapped with their metadata: both names fail, in both modes, also ranged', async () => {
    const { mem, read, writer } = await setup();
    const ea = writer.encryptFilePath('a.txt');
    const eb = writer.encryptFilePath('b.txt');
    const a = mem.objects.get(ea)!;
    mem.objects.set(ea, mem.objects.get(eb)!);
    mem.objects.set(eb, a);
    for (const m of modes) {
      await assert.rejects(read(m, 'a.txt'), (e: unknown) => e instanceof ContentMismatchError && /sealed for "b\.txt", which still exists/.test(e.message));
      await assert.rejects(read(m, 'b.txt'), ContentMismatchError);
      await assert.rejects(read(m, 'a.txt', 2 * CHUNK), ContentMismatchError);
    }
    // integrity = off is rclone's behaviour: the other file's bytes.
    assert.ok((await read('off', 'a.txt')).equals(B));
  });

  it('content swapped, records left in place: both names fail', async () => {
    const { obj, read } = await setup();
    const a = obj('a.txt');
    const b = obj('b.txt');
    [a.data, b.data] = [b.data, a.data];
    for (const m of modes) {
      await assert.rejects(read(m, 'a.txt'), (e: unknown) => e instanceof ContentMismatchError && /another file's content/.test(e.message));
      await assert.rejects(read(m, 'b.txt', 1), ContentMismatchError);
    }
  });

  it('a copy over another name (both still exist) fails', async () => {
    const { mem, read, writer } = await setup();
    await mem.copy(writer.encryptFilePath('a.txt'), writer.encryptFilePath('b.txt'));
    await assert.rejects(read('default', 'b.txt'), ContentMismatchError);
    assert.ok((await read('default', 'a.txt')).equals(A));
  });

  it('cut at a chunk boundary, record kept: "file was truncated"', async () => {
    const { obj, read, writer } = await setup();
    const a = obj('a.txt');
    a.data = a.data.subarray(0, 32 + 2 * (CHUNK + 16));
    for (const m of modes) await assert.rejects(read(m, 'a.txt'), (e: unknown) => e instanceof FileTruncatedError && /file was truncated: a\.txt \(131072 bytes, sealed as 197608\)/.test(e.message));
    assert.ok((await auditObject(writer, 'a.txt')).verdict.status === 'mismatch');
  });

  it('a flipped character in the record: "sealed record is not valid"', async () => {
    const { obj, read } = await setup();
    const md = obj('a.txt').metadata!;
    const t = md[SEAL_METADATA_KEY];
    md[SEAL_METADATA_KEY] = t.slice(0, 40) + (t[40] === 'A' ? 'B' : 'A') + t.slice(41);
    for (const m of modes) await assert.rejects(read(m, 'a.txt'), (e: unknown) => e instanceof InvalidSealError && /sealed record is not valid/.test(e.message));
    assert.ok((await read('off', 'a.txt')).equals(A));
  });

  it('a record under another password does not open: an error (its content would not authenticate either)', async () => {
    // With names in clear a wrong password finds the sealed object: the error is the content's, as without records.
    const plainNames: CryptRemoteOptions = { ...base, mode: 'off' };
    const store = new MemoryRemote();
    await new CryptRemote(store, keys, plainNames).write('f.txt', bytesOf(A));
    const wrong = new CryptRemote(store, await deriveKeys('seal verify pw', 'wrong salt'), plainNames);
    await assert.rejects(async () => readAll(await wrong.openRead('f.txt')), AuthenticationError);
    const { mem, obj, writer } = await setup();
    const other = new CryptRemote(mem, await deriveKeys('another pw', 'another salt'), base);
    await other.write('c.txt', bytesOf(A));
    await mem.setMetadata(other.encryptFilePath('c.txt'), sealRemovalMetadata());
    await sealObject(other, 'c.txt');
    // Move the foreign record onto our a.txt: it is refused, not ignored.
    obj('a.txt').metadata = { ...mem.objects.get(other.encryptFilePath('c.txt'))!.metadata };
    await assert.rejects(async () => readAll(await writer.openRead('a.txt')), /sealed record is not valid: a\.txt \(it does not authenticate/);
  });

  it('a crypt remote rooted lower in the same tree reads the same records; a copy of dir/x over x is caught', async () => {
    const { mem, crypt, writer, read } = await setup();
    const lower = crypt('strict', new SubRemote(mem, writer.encryptDirPath('dir')));
    assert.ok((await readAll(await lower.openRead('x.txt'))).equals(A));
    // Written from the lower root (record path "X"), read from the top ("D/X").
    await lower.write('y.txt', bytesOf(B));
    await mem.setMetadata(writer.encryptFilePath('dir/y.txt'), sealRemovalMetadata());
    assert.equal((await sealObject(lower, 'y.txt')).outcome, 'added');
    assert.ok((await read('strict', 'dir/y.txt')).equals(B));
    // dir/x.txt copied over a top-level x.txt: the record's path "D/X" holds the same ciphertext.
    await mem.copy(writer.encryptFilePath('dir/x.txt'), writer.encryptFilePath('x.txt'));
    await assert.rejects(read('default', 'x.txt'), (e: unknown) => e instanceof ContentMismatchError && /a copy of "dir\/x\.txt"/.test(e.message));
  });

  it('seal leaves a mismatched file alone, and re-seals it with force (content rewritten in place, old record kept)', async () => {
    const { obj, read, writer } = await setup();
    const a = obj('a.txt');
    const b = obj('b.txt');
    a.data = b.data;
    assert.equal((await sealObject(writer, 'a.txt')).outcome, 'mismatch');
    await assert.rejects(read('default', 'a.txt'), ContentMismatchError);
    assert.equal((await sealObject(writer, 'a.txt', { force: true })).outcome, 'resealed');
    assert.ok((await read('strict', 'a.txt')).equals(B));
  });

  it('every failure is an IntegrityError with errno EIO', async () => {
    const { obj, read } = await setup();
    obj('a.txt').data = obj('a.txt').data.subarray(0, 32 + CHUNK + 16);
    const err = await read('default', 'a.txt').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof IntegrityError);
    assert.equal(errnoOf(err), os.constants.errno.EIO);
  });

  for (const withInfo of [true, false]) {
    it(`the mount's reads check once per stream open, not per 4 KiB read (record ${withInfo ? 'with the read' : 'by stat'})`, async () => {
      const { mem } = await setup();
      const calls = { stat: 0, openRead: 0, openReadWithInfo: 0 };
      const stat = mem.stat.bind(mem);
      const withInfoRead = mem.openReadWithInfo.bind(mem);
      mem.stat = (p) => (calls.stat++, stat(p));
      mem.openRead = (p, r) => (calls.openRead++, withInfoRead(p, r).then((x) => x.source));
      if (withInfo) mem.openReadWithInfo = (p, r) => (calls.openReadWithInfo++, withInfoRead(p, r));
      else (mem as { openReadWithInfo?: unknown }).openReadWithInfo = undefined;
      const crypt = new CryptRemote(mem, keys, { ...base, integrity: 'strict' });
      const reader = new StreamingReader((offset, length) => crypt.openRead('a.txt', { offset, length }), A.length, 8 << 20);
      const parts: Buffer[] = [];
      for (let at = 0; at < A.length; at += 4096) parts.push(await reader.read(at, Math.min(4096, A.length - at)));
      await reader.close();
      assert.ok(Buffer.concat(parts).equals(A));
      assert.equal(reader.stats.streamOpens, 1);
      // 49 reads of 4 KiB: one request to the storage, plus one stat where the read cannot bring the record.
      assert.deepEqual(calls, withInfo ? { stat: 0, openRead: 0, openReadWithInfo: 1 } : { stat: 1, openRead: 1, openReadWithInfo: 0 });
    });
  }
});
