// User metadata as user.* xattrs (src/remote/local-xattr.ts, native/fs_times.c): round trip,
// POSIX keys never stored as xattrs, and a filesystem that refuses them is a typed error.
import os from 'node:os';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NotSupportedError } from '../../../src/errors.js';
import { XattrNotSupportedError, readUserXattrs, writeUserXattrs } from '../../../src/remote/local-xattr.js';
import { osNative } from '../../../src/os-native.js';

test('xattrs: set, read back without the prefix, removed by an empty value; POSIX keys stay out', () => {
  assert.ok(osNative, 'the native fs addon is built');
  const dir = mkdtempSync(join(tmpdir(), 'seal-write-xattr-unit-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    writeUserXattrs(file, { 'cryptfs-seal': 'abc', Colour: 'blue', mode: '100600', mtime: '2001-01-01T00:00:00Z' });
    assert.deepEqual(readUserXattrs(file), { 'cryptfs-seal': 'abc', colour: 'blue' });
    writeUserXattrs(file, { colour: '', 'never-set': '' });
    assert.deepEqual(readUserXattrs(file), { 'cryptfs-seal': 'abc' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xattrs: values and name lists longer than the first read (1 KiB) are read whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seal-write-xattr-unit-'));
  try {
    // ext4 keeps a file's xattrs in one 4 KiB block: long values on one file, many names on another.
    const longValues = join(dir, 'values');
    writeFileSync(longValues, 'x');
    const values = { big: 'v'.repeat(2000), exact: 'e'.repeat(1024) };
    writeUserXattrs(longValues, values);
    assert.deepEqual(readUserXattrs(longValues), values);
    const manyNames = join(dir, 'names');
    writeFileSync(manyNames, 'x');
    const names: Record<string, string> = {};
    // 30 names of 40 bytes with their prefix: a list of 1.2 KiB.
    for (let i = 0; i < 30; i++) names[`name-${String(i).padStart(2, '0')}-${'n'.repeat(26)}`] = String(i);
    writeUserXattrs(manyNames, names);
    assert.deepEqual(readUserXattrs(manyNames), names);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xattrs: a filesystem that refuses them gives XattrNotSupportedError (ENOTSUP), reads give none', () => {
  // procfs takes no user xattrs.
  const file = '/proc/self/comm';
  assert.deepEqual(readUserXattrs(file), {});
  assert.throws(
    () => writeUserXattrs(file, { 'cryptfs-seal': 'abc' }),
    (err: unknown) =>
      err instanceof XattrNotSupportedError &&
      err instanceof NotSupportedError &&
      errnoOf(err) === os.constants.errno.ENOTSUP &&
      (err.cause as NodeJS.ErrnoException).code === 'ENOTSUP' &&
      /does not store user extended attributes/.test(err.message),
  );
});
