#!/usr/bin/env node
// Makes V8's code cache of the bundled S3 SDK (dist/src/s3-sdk.cjs; src/remote/s3-sdk.ts): runs the
// driver's common requests (list, stat, read, write, delete) against a loopback stand-in that
// answers them as S3 does, so the cache holds the SDK's request and response paths compiled, and
// writes the cache at exit. Run by scripts/build.mjs after the bundle is built; the cache holds
// compiled code only. Usage: CRYPTFS_WRITE_SDK_CODE_CACHE=1 node scripts/s3-sdk-cache.mjs
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

if (process.env.CRYPTFS_WRITE_SDK_CODE_CACHE !== '1') {
  console.error('s3-sdk-cache: run with CRYPTFS_WRITE_SDK_CODE_CACHE=1 (scripts/build.mjs does)');
  process.exit(2);
}
const { S3Remote } = await import('../dist/src/remote/s3.js');

const body = Buffer.from('cached');
const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
const listing = (prefix, delimiter) =>
  '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
  `<Name>b</Name><Prefix>${prefix}</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
  `<Contents><Key>${prefix}a.bin</Key><LastModified>${when.toISOString()}</LastModified><ETag>"e"</ETag><Size>${body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>` +
  (delimiter ? `<CommonPrefixes><Prefix>${prefix}sub/</Prefix></CommonPrefixes>` : `<Contents><Key>${prefix}sub/c.bin</Key><LastModified>${when.toISOString()}</LastModified><ETag>"e"</ETag><Size>${body.length}</Size></Contents>`) +
  '</ListBucketResult>';
const objectHeaders = {
  'content-length': String(body.length),
  'content-type': 'application/octet-stream',
  etag: `"${createHash('md5').update(body).digest('hex')}"`,
  'last-modified': when.toUTCString(),
  'x-amz-meta-mtime': String(when.getTime() / 1000),
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://stand-in');
    const key = url.pathname.split('/').slice(2).join('/');
    if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(listing(url.searchParams.get('prefix') ?? '', url.searchParams.has('delimiter')));
    } else if (req.method === 'HEAD') {
      res.writeHead(200, key === '' ? {} : objectHeaders);
      res.end();
    } else if (req.method === 'GET') {
      res.writeHead(200, objectHeaders);
      res.end(body);
    } else if (req.method === 'PUT') {
      res.writeHead(200, { etag: `"${createHash('md5').update(Buffer.concat(chunks)).digest('hex')}"` });
      res.end();
    } else {
      res.writeHead(204);
      res.end();
    }
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const remote = await S3Remote.create({
  endpoint: `http://127.0.0.1:${server.address().port}`,
  credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
  retryPolicy: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  logger: { debug() {}, warn() {} },
});
const drain = async (source) => {
  for await (const _ of source) void _;
};
try {
  for (const modTimes of [true, false]) for await (const _ of remote.list('b/d', { modTimes })) void _;
  for await (const _ of remote.listRecursive('b/d', { modTimes: false })) void _;
  await remote.stat('b/d/a.bin');
  await drain((await remote.openReadWithInfo('b/d/a.bin')).source);
  await remote.write('b/d/w.bin', (async function* () { yield body; })(), { size: body.length, mtime: when });
  await remote.delete('b/d/w.bin');
} finally {
  await remote.close();
  server.close();
}
