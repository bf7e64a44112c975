// User metadata as user.* xattrs (src/remote/local-xattr.ts, native/fs_times.c): round trip,
// POSIX keys never stored as xattrs, and a filesystem that refuses them is a typed error.
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

test('xattrs: a filesystem that refuses them gives XattrNotSupportedError (ENOTSUP), reads give none', () => {
  // procfs takes no user xattrs.
  const file = '/proc/self/comm';
  assert.deepEqual(readUserXattrs(file), {});
  assert.throws(
    () => writeUserXattrs(file, { 'cryptfs-seal': 'abc' }),
    (err: unknown) =>
      err instanceof XattrNotSupportedError &&
      err instanceof NotSupportedError &&
      err.errno === 'ENOTSUP' &&
      (err.cause as NodeJS.ErrnoException).code === 'ENOTSUP' &&
      /does not store user extended attributes/.test(err.message),
  );
});
