// The ListObjectsV2 page reader (s3-list-page.ts), which reads a listing's XML in place of the
// SDK's deserializer: the fields a listing uses, in whatever order a store writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListPage } from '../../../src/remote/s3-list-page.js';

const contents = (key: string, size: number, modified = '2024-01-02T03:04:05.678Z') =>
  `<Contents><Key>${key}</Key><LastModified>${modified}</LastModified><ETag>&quot;0f&quot;</ETag><Size>${size}</Size>` +
  `<Owner><ID>o</ID><DisplayName>o</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

test('a page: objects with sizes and times, common prefixes, truncation and the next token', () => {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    '<Name>b</Name><Prefix>d%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>%2F</Delimiter>' +
    contents('d/one', 5) +
    contents('d/a+b%C3%BC%2B', 70000, '2020-02-29T23:59:59.000Z') +
    '<CommonPrefixes><Prefix>d/sub%20dir/</Prefix></CommonPrefixes>' +
    // AWS's documented order puts these after the entries; Swift's s3api and MinIO write them first.
    '<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextContinuationToken>tok/&amp;+=</NextContinuationToken>' +
    '</ListBucketResult>';
  assert.deepEqual(parseListPage(xml), {
    objects: [
      { key: 'd/one', size: 5, lastModified: new Date('2024-01-02T03:04:05.678Z') },
      { key: 'd/a bü+', size: 70000, lastModified: new Date('2020-02-29T23:59:59.000Z') },
    ],
    prefixes: ['d/sub dir/'],
    isTruncated: true,
    nextContinuationToken: 'tok/&+=',
  });
});

test('keys are taken literally without EncodingType url, XML escapes undone either way', () => {
  const xml =
    '<ListBucketResult><IsTruncated>false</IsTruncated>' +
    contents('a+b%20&lt;Key&gt;x&lt;/Key&gt; &amp;&#233;&#x1F600;', 1) +
    '<CommonPrefixes><Prefix>p&amp;q/</Prefix></CommonPrefixes></ListBucketResult>';
  const page = parseListPage(xml);
  assert.deepEqual(
    page.objects.map((o) => o.key),
    ['a+b%20<Key>x</Key> &é😀'],
  );
  assert.deepEqual(page.prefixes, ['p&q/']);
  assert.equal(page.isTruncated, false);
  assert.equal(page.nextContinuationToken, undefined);
});

test('an empty listing, and entries missing optional fields', () => {
  assert.deepEqual(parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'), {
    objects: [],
    prefixes: [],
    isTruncated: false,
    nextContinuationToken: undefined,
  });
  const page = parseListPage('<ListBucketResult><Contents><Key>k</Key><LastModified>not a date</LastModified></Contents></ListBucketResult>');
  assert.deepEqual(page.objects, [{ key: 'k', size: 0, lastModified: undefined }]);
});
