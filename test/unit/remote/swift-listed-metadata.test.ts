// The Swift content type that mirrors cryptfs's own metadata keys for listings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  baseContentType,
  hasListedMetadata,
  listedContentType,
  listedMetadata,
  withListedContentType,
} from '../../../src/remote/swift-listed-metadata.js';

describe('swift listed metadata', () => {
  const headers = {
    'X-Object-Meta-Mtime': '1700000000.5',
    'x-object-meta-cryptfs-seal': 'AbC+/=dEf',
    'X-Object-Meta-Cryptfs-Seal-2': 'ghi"j\\k',
    'X-Object-Meta-Mode': '100644',
  };

  it('mirrors only the cryptfs-* keys, sorted, quoted, and reads them back', () => {
    const type = listedContentType(headers, undefined);
    assert.equal(type, 'application/octet-stream; cryptfs-seal="AbC+/=dEf"; cryptfs-seal-2="ghi\\"j\\\\k"');
    assert.deepEqual(listedMetadata(type), { 'cryptfs-seal': 'AbC+/=dEf', 'cryptfs-seal-2': 'ghi"j\\k' });
    assert.equal(hasListedMetadata(type), true);
  });

  it('keeps the base type and replaces earlier mirrored parameters', () => {
    const old = 'text/plain; charset=utf-8; cryptfs-seal="old"';
    assert.equal(baseContentType(old), 'text/plain; charset=utf-8');
    assert.equal(listedContentType({ 'x-object-meta-cryptfs-seal': 'new' }, old), 'text/plain; charset=utf-8; cryptfs-seal="new"');
    assert.equal(baseContentType(''), 'application/octet-stream');
  });

  it('leaves the type alone when there is nothing to mirror, unless it must drop an old mirror', () => {
    assert.equal(listedContentType({ 'X-Object-Meta-Mtime': '1' }, 'text/plain'), undefined);
    assert.equal(listedContentType({ 'X-Object-Meta-Mtime': '1' }, 'text/plain; cryptfs-seal="x"', true), 'text/plain');
    assert.deepEqual(withListedContentType({ a: 'b' }), { a: 'b' });
    assert.equal(withListedContentType(headers)['Content-Type'], listedContentType(headers, undefined));
  });

  it('leaves out a mirror too long for a header (the listing then HEADs that object)', () => {
    const long = { 'x-object-meta-cryptfs-seal': 'x'.repeat(5000) };
    assert.equal(listedContentType(long, undefined), undefined);
    assert.equal(listedContentType(long, 'application/octet-stream; cryptfs-seal="y"', true), 'application/octet-stream');
  });

  it('finds nothing in ordinary content types', () => {
    assert.equal(listedMetadata('application/octet-stream'), undefined);
    assert.equal(listedMetadata(undefined), undefined);
    assert.equal(listedMetadata('text/plain; charset="utf-8"'), undefined);
    assert.equal(hasListedMetadata('application/directory'), false);
  });
});
