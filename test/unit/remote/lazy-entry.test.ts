// withLazyMetadata (remote.ts): entries whose metadata is made when first read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { withLazyMetadata, type RemoteEntry } from '../../../src/remote/remote.js';

const fields = (path: string) => ({ path, isDir: false, size: 5, mtime: new Date(1_700_000_000_000), mtimeNs: 1_700_000_000_000_000_001n });

test('withLazyMetadata: made once, on first read; replaced by assignment; carried by spreading; a failed make is tried again', () => {
  let calls = 0;
  const e = withLazyMetadata(fields('a/b'), () => ({ mode: String(++calls) }));
  assert.equal(calls, 0, 'not made before it is read');
  assert.deepEqual(Object.keys(e), ['path', 'isDir', 'size', 'mtime', 'mtimeNs', 'metadata']);
  assert.deepEqual(e.metadata, { mode: '1' });
  assert.deepEqual(e.metadata, { mode: '1' });
  assert.equal(calls, 1);
  assert.deepEqual({ ...e }, { ...fields('a/b'), metadata: { mode: '1' } }, 'a spread copy holds the fields and the metadata');
  e.metadata = { mode: 'set' };
  assert.deepEqual(e.metadata, { mode: 'set' });
  const unread = withLazyMetadata(fields('c'), () => ({ mode: 'never' }));
  unread.metadata = undefined;
  assert.equal(unread.metadata, undefined, 'assigned before the first read: make is not called');

  let failures = 0;
  const flaky = withLazyMetadata(fields('d'), () => {
    if (failures++ === 0) throw new Error('xattrs unreadable');
    return { mode: 'second try' };
  });
  assert.throws(() => flaky.metadata, /xattrs unreadable/);
  assert.deepEqual(flaky.metadata, { mode: 'second try' });
  assert.deepStrictEqual(withLazyMetadata(fields('e'), () => undefined), { ...fields('e'), metadata: undefined });
});

test('withLazyMetadata: entries share one hidden class and keep fast properties (a listing queues thousands)', () => {
  setFlagsFromString('--allow-natives-syntax');
  const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
  const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  const entries: RemoteEntry[] = [];
  for (let i = 0; i < 3; i++) entries.push(withLazyMetadata(fields(`f${i}`), () => ({ n: String(i) })));
  for (const e of entries) assert.ok(hasFastProperties(e), `${e.path}: fast properties`);
  assert.ok(haveSameMap(entries[0]!, entries[2]!));
  entries[1]!.metadata; // made
  entries[2]!.metadata = {}; // assigned
  for (const e of entries) assert.ok(hasFastProperties(e), `${e.path}: still fast`);
});
