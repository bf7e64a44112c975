// Unit tests of the S3 driver: option handling, mtime encoding, retry classification, and what
// goes on the wire (SSE-C headers, Content-MD5, multipart sequencing, aborts), recorded by a tiny
// HTTP server on 127.0.0.1 that answers minimal S3 XML. Behaviour against a real object store is
// covered by test/integration/remote/s3.test.ts.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortedError, ConfigError, DirNotFoundError, ObjectNotFoundError, RemoteIOError, SseNotEnforcedError } from '../../../src/errors.js';
import { exitCodeOf } from '../../../src/cli/exit-codes.js';
import { configureLog } from '../../../src/log.js';
import { getBackend, OptionValues } from '../../../src/remote/registry.js';
import {
  formatMtime,
  isRetryableS3Error,
  parseMtime,
  S3Remote,
  s3OptionSpecs,
  s3OptionsFromConfig,
  type S3RemoteOptions,
} from '../../../src/remote/s3.js';

const MiB = 1024 * 1024;

// ---- a recording S3 stand-in ----

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

type Script = (req: Recorded, recorder: Recorder) => Promise<Reply | undefined> | Reply | undefined;

const md5hex = (b: Uint8Array | string) => createHash('md5').update(b).digest('hex');
const md5b64 = (b: Uint8Array | string) => createHash('md5').update(b).digest('base64');

function xmlError(status: number, code: string, requestId = 'req-' + code): Reply {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} here</Message><RequestId>${requestId}</RequestId></Error>`,
  };
}

class Recorder {
  readonly requests: Recorded[] = [];
  script: Script | undefined;
  /** UploadPart requests being answered right now, and the most seen at once. */
  partsInFlight = 0;
  maxPartsInFlight = 0;
  partDelayMs = 0;
  /** Requests whose connection the client closed before they were answered (an aborted request). */
  droppedUnanswered = 0;
  private server!: Server;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      res.on('close', () => {
        if (!res.writableEnded) this.droppedUnanswered++;
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => {});
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const rec: Recorded = {
          method: req.method ?? '',
          path: decodeURIComponent(url.pathname),
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        this.requests.push(rec);
        void this.answer(rec).then((reply) => {
          res.writeHead(reply.status, { 'x-amz-request-id': 'rid-' + this.requests.length, ...(reply.headers ?? {}) });
          res.end(req.method === 'HEAD' ? undefined : reply.body);
        });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  reset(): void {
    this.requests.length = 0;
    this.script = undefined;
    this.maxPartsInFlight = 0;
    this.partDelayMs = 0;
    this.droppedUnanswered = 0;
  }

  private async answer(req: Recorded): Promise<Reply> {
    const scripted = await this.script?.(req, this);
    if (scripted) return scripted;
    return this.defaultAnswer(req);
  }

  /** Just enough S3 for the driver's requests to succeed. */
  private async defaultAnswer(req: Recorded): Promise<Reply> {
    const [, bucket, ...rest] = req.path.split('/');
    const key = rest.join('/');
    const etag = `"${md5hex(req.body)}"`;
    if (key === '') {
      if (req.method === 'GET' && req.query.get('list-type') === '2') {
        return { status: 200, headers: { 'content-type': 'application/xml' }, body: listXml(bucket, []) };
      }
      return { status: 200 };
    }
    if (req.method === 'POST' && req.query.has('uploads')) {
      return {
        status: 200,
        headers: { 'content-type': 'application/xml' },
        body: `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`,
      };
    }
    if (req.method === 'POST' && req.query.has('uploadId')) {
      return {
        status: 200,
        headers: { 'content-type': 'application/xml' },
        body: `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"abc-2"</ETag></CompleteMultipartUploadResult>`,
      };
    }
    if (req.method === 'PUT' && req.query.has('partNumber')) {
      this.partsInFlight++;
      this.maxPartsInFlight = Math.max(this.maxPartsInFlight, this.partsInFlight);
      // Kept: a slow server, so parts overlap and the in-flight bound is exercised (not a wait for a result).
      await new Promise((r) => setTimeout(r, this.partDelayMs));
      this.partsInFlight--;
      return { status: 200, headers: { etag } };
    }
    if (req.method === 'PUT' && req.headers['x-amz-copy-source']) {
      return {
        status: 200,
        headers: { 'content-type': 'application/xml' },
        body: `<CopyObjectResult><ETag>"0123456789abcdef0123456789abcdef"</ETag><LastModified>2024-01-01T00:00:00.000Z</LastModified></CopyObjectResult>`,
      };
    }
    if (req.method === 'PUT') return { status: 200, headers: { etag } };
    if (req.method === 'DELETE') return { status: 204 };
    if (req.method === 'HEAD' || req.method === 'GET') {
      return {
        status: 200,
        headers: {
          'content-length': '4',
          'content-type': 'application/octet-stream',
          etag: `"${md5hex('data')}"`,
          'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
          'x-amz-meta-mtime': '1620284889.123456789',
        },
        body: 'data',
      };
    }
    return xmlError(400, 'NotImplemented');
  }
}

function listXml(bucket: string, keys: string[], opts: { truncated?: boolean; token?: string; prefixes?: string[] } = {}): string {
  return (
    `<ListBucketResult><Name>${bucket}</Name><Prefix></Prefix><KeyCount>${keys.length}</KeyCount>` +
    `<IsTruncated>${opts.truncated ? 'true' : 'false'}</IsTruncated>` +
    (opts.token ? `<NextContinuationToken>${opts.token}</NextContinuationToken>` : '') +
    keys
      .map(
        (k) =>
          `<Contents><Key>${k}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>4</Size></Contents>`,
      )
      .join('') +
    (opts.prefixes ?? []).map((p) => `<CommonPrefixes><Prefix>${p}</Prefix></CommonPrefixes>`).join('') +
    `</ListBucketResult>`
  );
}

async function* bytes(total: number, chunk = 64 * 1024, failAt?: number): AsyncGenerator<Uint8Array> {
  let sent = 0;
  while (sent < total) {
    if (failAt !== undefined && sent >= failAt) throw new Error('source broke');
    const n = Math.min(chunk, total - sent);
    yield Buffer.alloc(n, sent % 251);
    sent += n;
  }
}

async function* text(s: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(s);
}

async function drain(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const recorder = new Recorder();
const remotes: S3Remote[] = [];

async function remote(extra: Partial<S3RemoteOptions> = {}): Promise<S3Remote> {
  const r = await S3Remote.create({
    endpoint: recorder.endpoint,
    credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    retryPolicy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    logger: { debug() {}, warn() {} },
    ...extra,
  });
  remotes.push(r);
  return r;
}

before(() => recorder.start());
after(async () => {
  for (const r of remotes) await r.close();
  await recorder.stop();
});

// ---- pure parts ----

describe('s3 mtime encoding (rclone: seconds as a decimal string)', () => {
  it('formats like rclone, trailing zeros dropped', () => {
    assert.equal(formatMtime(new Date(1620284889123)), '1620284889.123');
    assert.equal(formatMtime(new Date(1577934245500)), '1577934245.5');
    assert.equal(formatMtime(new Date(1577934245000)), '1577934245');
    assert.equal(formatMtime(new Date(7)), '0.007');
    assert.equal(formatMtime(new Date(-1500)), '-1.5');
  });

  it('parses rclone and swiftclient strings to millisecond precision', () => {
    assert.equal(parseMtime('1620284889.123456789')?.getTime(), 1620284889123);
    assert.equal(parseMtime('1577934245.5')?.getTime(), 1577934245500);
    assert.equal(parseMtime('1577934245')?.getTime(), 1577934245000);
    assert.equal(parseMtime('-1.5')?.getTime(), -1500);
    assert.equal(parseMtime('1.')?.getTime(), 1000);
    assert.equal(parseMtime(undefined), undefined);
    assert.equal(parseMtime('yesterday'), undefined);
    assert.equal(parseMtime('1e9'), undefined);
  });

  it('round-trips', () => {
    for (const ms of [0, 1, 999, 1000, 1700000000123, 4102444800999]) {
      assert.equal(parseMtime(formatMtime(new Date(ms)))?.getTime(), ms);
    }
  });
});

describe('s3 options', () => {
  const spec = getBackend('s3');
  const values = (raw: Record<string, string>) => new OptionValues(s3OptionSpecs, raw, 'mys3');

  it('declares rclone option names, with secrets marked sensitive', () => {
    const names = spec.options.map((o) => o.name);
    for (const n of [
      'provider', 'env_auth', 'access_key_id', 'secret_access_key', 'region', 'endpoint', 'location_constraint', 'acl',
      'force_path_style', 'chunk_size', 'upload_cutoff', 'upload_concurrency', 'sse_customer_algorithm', 'sse_customer_key',
      'sse_customer_key_base64', 'sse_customer_key_md5', 'no_check_bucket', 'list_chunk', 'disable_checksum', 'session_token',
    ]) {
      assert.ok(names.includes(n), `option ${n} declared`);
    }
    for (const n of ['secret_access_key', 'sse_customer_key', 'sse_customer_key_base64', 'session_token']) {
      assert.equal(spec.options.find((o) => o.name === n)?.sensitive, true, `${n} is sensitive`);
    }
    for (const o of spec.options) assert.ok(o.help.length > 10, `${o.name} has help`);
  });

  it('has rclone defaults', () => {
    const o = s3OptionsFromConfig(values({ provider: 'Other', endpoint: '127.0.0.1:9000' }));
    assert.equal(o.chunkSize, 5 * MiB);
    assert.equal(o.uploadCutoff, 200 * MiB);
    assert.equal(o.uploadConcurrency, 4);
    assert.equal(o.listChunk, 1000);
    assert.equal(o.forcePathStyle, true);
    assert.equal(o.endpoint, 'https://127.0.0.1:9000');
    assert.equal(o.credentials, undefined);
    assert.equal(o.sse, undefined);
  });

  it('uses virtual-host style for AWS as rclone does', () => {
    assert.equal(s3OptionsFromConfig(values({ provider: 'AWS' })).forcePathStyle, false);
    assert.equal(s3OptionsFromConfig(values({ provider: 'Ceph', force_path_style: 'false' })).forcePathStyle, false);
    assert.equal(s3OptionsFromConfig(values({ provider: 'Minio' })).forcePathStyle, true);
  });

  it('rejects bad values', () => {
    assert.throws(() => s3OptionsFromConfig(values({ chunk_size: '1Mi' })), ConfigError);
    assert.throws(() => s3OptionsFromConfig(values({ upload_cutoff: '6Gi' })), ConfigError);
    assert.throws(() => s3OptionsFromConfig(values({ upload_concurrency: '0' })), ConfigError);
    assert.throws(() => s3OptionsFromConfig(values({ secret_access_key: 'x' })), ConfigError);
    assert.throws(() => s3OptionsFromConfig(values({ region: 'other-v2-signature' })), ConfigError);
  });

  it('reads SSE-C keys raw or base64, checks the MD5 and the length', () => {
    const key = 'k'.repeat(32);
    const raw = s3OptionsFromConfig(values({ sse_customer_algorithm: 'AES256', sse_customer_key: key }));
    assert.deepEqual(Buffer.from(raw.sse!.key), Buffer.from(key));
    const b64 = s3OptionsFromConfig(
      values({ sse_customer_algorithm: 'AES256', sse_customer_key_base64: Buffer.from(key).toString('base64'), sse_customer_key_md5: md5b64(key) }),
    );
    assert.deepEqual(Buffer.from(b64.sse!.key), Buffer.from(key));
    assert.throws(
      () => s3OptionsFromConfig(values({ sse_customer_algorithm: 'AES256', sse_customer_key: key, sse_customer_key_md5: md5b64('other') })),
      /does not match/,
    );
    assert.throws(() => s3OptionsFromConfig(values({ sse_customer_algorithm: 'AES256', sse_customer_key: 'short' })), /32-byte/);
    assert.throws(() => s3OptionsFromConfig(values({ sse_customer_algorithm: 'AES256' })), ConfigError);
    assert.throws(() => s3OptionsFromConfig(values({ sse_customer_key: key })), ConfigError);
  });
});

describe('s3 retry classification', () => {
  const err = (status?: number, name = 'X', code?: string) =>
    Object.assign(new Error(name), { name, code, $metadata: status === undefined ? undefined : { httpStatusCode: status } });

  it('retries 5xx, 408, 429, S3 RequestTimeout and connection failures', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) assert.equal(isRetryableS3Error(err(s)), true, `status ${s}`);
    assert.equal(isRetryableS3Error(err(400, 'RequestTimeout')), true);
    assert.equal(isRetryableS3Error(err(undefined, 'Error', 'ECONNRESET')), true);
    assert.equal(isRetryableS3Error(err(undefined, 'TimeoutError')), true);
  });

  it('retries a success whose body broke off while the SDK read it (a listing page cut mid-way)', () => {
    // The SDK tags a body failure with the response's 2xx status.
    assert.equal(isRetryableS3Error(err(200, 'Error', 'ECONNRESET')), true);
    assert.equal(isRetryableS3Error(Object.assign(new Error('aborted'), { $metadata: { httpStatusCode: 200 } })), true);
    assert.equal(isRetryableS3Error(Object.assign(new Error('terminated'), { $metadata: { httpStatusCode: 206 } })), true);
    assert.equal(isRetryableS3Error(err(200, 'SomeBug')), false);
  });

  it('does not retry other 4xx, 501, or aborts', () => {
    for (const s of [400, 401, 403, 404, 409, 412, 416, 501]) assert.equal(isRetryableS3Error(err(s)), false, `status ${s}`);
    assert.equal(isRetryableS3Error(err(undefined, 'AbortError')), false);
  });
});

// ---- on the wire ----

describe('s3 requests (recorded)', () => {
  it('sends the three SSE-C headers on every object request, copy source included', async () => {
    recorder.reset();
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const r = await remote({ sse: { algorithm: 'AES256', key }, chunkSize: 5 * MiB, uploadCutoff: 6 * MiB });
    // The enforcement check (GET without the key) is refused: the server honours SSE-C.
    recorder.script = (req) =>
      req.method === 'GET' && req.headers.range === 'bytes=0-0' && !req.headers['x-amz-server-side-encryption-customer-key']
        ? xmlError(400, 'InvalidRequest')
        : undefined;
    await r.write('b/small', text('hello'), { size: 5 }); // buffered PUT
    await r.write('b/streamed', bytes(5 * MiB + 10), { size: 5 * MiB + 10 }); // streamed PUT
    await r.write('b/multi', bytes(11 * MiB)); // multipart, unknown size
    await drain(await r.openRead('b/small'));
    await r.stat('b/small');
    await r.copy('b/small', 'b/copied');
    await r.setMtime('b/small', new Date(1e12));

    const expectKey = key.toString('base64');
    const expectMd5 = md5b64(key);
    const objectRequests = recorder.requests.filter((q) => {
      const isObject = q.path.split('/').slice(2).join('/') !== '';
      const isProbe = q.method === 'GET' && q.headers.range === 'bytes=0-0';
      return isObject && !isProbe && q.method !== 'DELETE';
    });
    const kinds = new Set<string>();
    for (const q of objectRequests) {
      const kind = `${q.method} ${[...q.query.keys()].filter((k) => k !== 'x-id').join('&')}${q.headers['x-amz-copy-source'] ? ' copy' : ''}`;
      kinds.add(kind);
      assert.equal(q.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256', `${kind} ${q.path}`);
      assert.equal(q.headers['x-amz-server-side-encryption-customer-key'], expectKey, kind);
      assert.equal(q.headers['x-amz-server-side-encryption-customer-key-md5'], expectMd5, kind);
      if (q.headers['x-amz-copy-source']) {
        assert.equal(q.headers['x-amz-copy-source-server-side-encryption-customer-algorithm'], 'AES256', kind);
        assert.equal(q.headers['x-amz-copy-source-server-side-encryption-customer-key'], expectKey, kind);
        assert.equal(q.headers['x-amz-copy-source-server-side-encryption-customer-key-md5'], expectMd5, kind);
      }
    }
    for (const k of ['PUT ', 'POST uploads', 'PUT partNumber&uploadId', 'GET ', 'HEAD ', 'PUT  copy']) {
      assert.ok(kinds.has(k), `saw ${k} among ${[...kinds].join(' | ')}`);
    }
    // One enforcement check for the bucket, sent without any key.
    const probes = recorder.requests.filter((q) => q.method === 'GET' && q.headers.range === 'bytes=0-0');
    assert.equal(probes.length, 1);
    assert.equal(probes[0].headers['x-amz-server-side-encryption-customer-key'], undefined);
    assert.equal(r.sseCheck.get('b'), 'enforced');
  });

  it('warns once, loudly, when a server serves SSE-C objects without the key', async () => {
    recorder.reset();
    const warnings: string[] = [];
    const r = await remote({ sse: { algorithm: 'AES256', key: Buffer.alloc(32, 7) }, logger: { debug() {}, warn: (m) => warnings.push(m) } });
    await r.write('b1/x', text('secret'), { size: 6 });
    await r.write('b1/y', text('secret'), { size: 6 });
    await r.write('b2/z', text('secret'), { size: 6 });
    assert.equal(r.sseCheck.get('b1'), 'ignored');
    assert.equal(r.sseCheck.get('b2'), 'ignored');
    assert.equal(recorder.requests.filter((q) => q.headers.range === 'bytes=0-0').length, 2, 'one check per bucket');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /IGNORES SSE-C/);
    assert.match(warnings[0], /unencrypted/);
  });

  it('probes SSE-C before the first upload, retries a probe without a verdict, and refuses when required', async () => {
    recorder.reset();
    const isProbeRead = (q: { method: string; headers: Record<string, string | string[] | undefined> }) =>
      q.method === 'GET' && q.headers.range === 'bytes=0-0' && !q.headers['x-amz-server-side-encryption-customer-key'];
    // The first probe reads fail with 500 whatever the SDK retries; then the server refuses the keyless read.
    let failing = 3;
    recorder.script = (req) => (isProbeRead(req) ? (failing-- > 0 ? xmlError(500, 'InternalError') : xmlError(400, 'InvalidRequest')) : undefined);
    const key = Buffer.alloc(32, 9);
    const r = await remote({ sse: { algorithm: 'AES256', key }, sseRequireEnforced: true });
    await r.write('b/data', text('hello'), { size: 5 });
    assert.equal(r.sseCheck.get('b'), 'enforced');
    const firstDataPut = recorder.requests.findIndex((q) => q.method === 'PUT' && q.path === '/b/data');
    const lastProbe = recorder.requests.map(isProbeRead).lastIndexOf(true);
    assert.ok(lastProbe >= 0 && lastProbe < firstDataPut, 'the verdict came before the data went up');
    const probeKeys = new Set(recorder.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/b/.cryptfs-sse-c-probe-')).map((q) => q.path));
    assert.ok(probeKeys.size >= 2, 'an inconclusive probe was tried again');
    const deleted = new Set(recorder.requests.filter((q) => q.method === 'DELETE').map((q) => q.path));
    for (const k of probeKeys) assert.ok(deleted.has(k), `probe ${k} removed`);

    // A server that serves the keyless read: refused before any data is sent.
    recorder.reset();
    const strict = await remote({ sse: { algorithm: 'AES256', key }, sseRequireEnforced: true });
    await assert.rejects(strict.write('c/data', text('hello'), { size: 5 }), (err: unknown) => {
      assert.ok(err instanceof SseNotEnforcedError);
      assert.equal(exitCodeOf(err), 7);
      return true;
    });
    assert.ok(!recorder.requests.some((q) => q.method === 'PUT' && q.path === '/c/data'), 'no data uploaded');
  });

  it('sends no SSE-C headers and makes no check without a key', async () => {
    recorder.reset();
    const r = await remote();
    await r.write('b/x', text('plain'), { size: 5 });
    await r.stat('b/x');
    assert.ok(recorder.requests.every((q) => !q.headers['x-amz-server-side-encryption-customer-key']));
    assert.equal(recorder.requests.filter((q) => q.method === 'GET').length, 0);
  });

  it('stores mtime as X-Amz-Meta-Mtime and sends Content-MD5 on buffered PUTs and parts', async () => {
    recorder.reset();
    const r = await remote();
    await r.write('b/m', text('hello'), { size: 5, mtime: new Date(1620284889123) });
    const put = recorder.requests.find((q) => q.method === 'PUT' && q.path === '/b/m')!;
    assert.equal(put.headers['x-amz-meta-mtime'], '1620284889.123');
    assert.equal(put.headers['content-md5'], md5b64('hello'));
    // The body is not hashed again for the signature: the server checks the signed Content-MD5.
    assert.equal(put.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.match(String(put.headers.authorization), /SignedHeaders=[^,]*content-md5/);
    assert.equal(put.headers['x-amz-meta-md5chksum'], undefined, 'a plain PUT has its MD5 in the ETag');
    assert.equal(put.body.toString(), 'hello');
    assert.equal(put.headers['content-encoding'], undefined, 'no aws-chunked');
  });

  it('stores a known MD5 as X-Amz-Meta-Md5chksum on multipart uploads', async () => {
    recorder.reset();
    const r = await remote({ uploadCutoff: 5 * MiB });
    const data = await drain(bytes(6 * MiB));
    await r.write('b/big', (async function* () { yield data; })(), { size: data.length, md5: md5hex(data) });
    const create = recorder.requests.find((q) => q.method === 'POST' && q.query.has('uploads'))!;
    assert.equal(create.headers['x-amz-meta-md5chksum'], md5b64(data));
    assert.ok(create.headers['x-amz-meta-mtime']);
  });

  it('uploads multipart in order with at most upload_concurrency parts in flight', async () => {
    recorder.reset();
    recorder.partDelayMs = 30;
    const r = await remote({ chunkSize: 5 * MiB, uploadConcurrency: 2 });
    const entry = await r.write('b/stream', bytes(22 * MiB + 3, 100_000)); // unknown size
    assert.equal(entry.size, 22 * MiB + 3);
    const parts = recorder.requests.filter((q) => q.query.has('partNumber'));
    assert.deepEqual(
      parts.map((q) => q.body.length).sort((a, b) => b - a),
      [5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 2 * MiB + 3],
    );
    for (const q of parts) assert.equal(q.headers['content-md5'], md5b64(q.body), 'part has Content-MD5');
    for (const q of parts) assert.equal(q.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.ok(recorder.maxPartsInFlight <= 2, `max in flight ${recorder.maxPartsInFlight}`);
    assert.equal(recorder.maxPartsInFlight, 2, 'parts do go in parallel');
    const complete = recorder.requests.find((q) => q.method === 'POST' && q.query.has('uploadId'))!;
    const numbers = [...complete.body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
    assert.deepEqual(numbers, [1, 2, 3, 4, 5]);
    // The bytes arrived intact and in order.
    const sent = Buffer.concat(parts.sort((a, b) => Number(a.query.get('partNumber')) - Number(b.query.get('partNumber'))).map((q) => q.body));
    assert.ok(sent.equals(await drain(bytes(22 * MiB + 3, 100_000))));
  });

  it('sends a stream of unknown size that fits one part as a single PUT', async () => {
    recorder.reset();
    const r = await remote();
    await r.write('b/short', bytes(1000));
    assert.equal(recorder.requests.filter((q) => q.query.has('uploads')).length, 0);
    assert.equal(recorder.requests.filter((q) => q.method === 'PUT' && q.path === '/b/short').length, 1);
  });

  it('aborts the multipart upload when the source fails, and never completes it', async () => {
    recorder.reset();
    const r = await remote();
    await assert.rejects(r.write('b/broken', bytes(13 * MiB, 64 * 1024, 11 * MiB)), /source broke/);
    assert.equal(recorder.requests.filter((q) => q.method === 'DELETE' && q.query.get('uploadId') === 'up-1').length, 1);
    assert.equal(recorder.requests.filter((q) => q.method === 'POST' && q.query.has('uploadId')).length, 0);
  });

  it('aborts the multipart upload when a part fails for good', async () => {
    recorder.reset();
    const r = await remote();
    recorder.script = (req) => (req.query.get('partNumber') === '2' ? xmlError(403, 'AccessDenied') : undefined);
    await assert.rejects(r.write('b/denied', bytes(12 * MiB)), (err: unknown) => {
      assert.ok(err instanceof RemoteIOError);
      assert.equal(err.status, 403);
      return true;
    });
    assert.equal(recorder.requests.filter((q) => q.method === 'DELETE' && q.query.has('uploadId')).length, 1);
    assert.equal(recorder.requests.filter((q) => q.method === 'POST' && q.query.has('uploadId')).length, 0);
  });

  it('fails a streamed PUT promptly when the source fails or runs short (no hang)', async () => {
    recorder.reset();
    const r = await remote();
    const t0 = Date.now();
    await assert.rejects(r.write('b/s1', bytes(8 * MiB, 64 * 1024, 6 * MiB), { size: 8 * MiB }), /source broke/);
    await assert.rejects(r.write('b/s2', bytes(7 * MiB), { size: 8 * MiB }), /gave 7340032 bytes, expected 8388608/);
    await assert.rejects(r.write('b/s3', bytes(9 * MiB), { size: 8 * MiB }), /more than 8388608/);
    assert.ok(Date.now() - t0 < 5000, 'took ' + (Date.now() - t0) + ' ms');
  });

  it('an aborted listing ends the HEADs it is making (mtimes from object metadata)', async () => {
    recorder.reset();
    const r = await remote();
    let heads = 0;
    let headSeen!: () => void;
    const headStarted = new Promise<void>((res) => (headSeen = res));
    recorder.script = (req) => {
      if (req.method === 'GET' && req.query.get('list-type') === '2') {
        return { status: 200, headers: { 'content-type': 'application/xml' }, body: listXml('b', ['d/one', 'd/two']) };
      }
      if (req.method === 'HEAD') {
        heads++;
        headSeen();
        return new Promise<Reply>(() => undefined); // a server that never answers
      }
      return undefined;
    };
    const ac = new AbortController();
    const listing = (async () => {
      for await (const _ of r.list('b/d', { signal: ac.signal })) void _;
    })();
    listing.catch(() => undefined);
    await headStarted;
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(listing, AbortedError);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    // The HEADs themselves are cut (their connections closed), not left waiting on the server.
    for (let i = 0; i < 100 && recorder.droppedUnanswered < heads; i++) await new Promise((res) => setTimeout(res, 20));
    assert.ok(heads >= 1);
    assert.equal(recorder.droppedUnanswered, heads);
  });

  // ls, size and the like show no times: a HEAD per object for them made `ls` of a far store's
  // 2,000 objects take seconds where the listing alone takes a few pages.
  it('a listing without modTimes makes no HEAD and carries the listed time', async () => {
    recorder.reset();
    const r = await remote();
    recorder.script = (req) =>
      req.method === 'GET' && req.query.get('list-type') === '2'
        ? { status: 200, headers: { 'content-type': 'application/xml' }, body: listXml('b', ['d/one', 'd/two']) }
        : undefined;
    const entries = await drainEntries(r.list('b/d', { modTimes: false }));
    assert.deepEqual(
      entries.map((e) => [e.path, e.size, e.mtime.toISOString(), e.metadata]),
      ['b/d/one', 'b/d/two'].map((p) => [p, 4, '2024-01-01T00:00:00.000Z', undefined]),
    );
    assert.equal(recorder.requests.filter((q) => q.method === 'HEAD').length, 0);
    // With modTimes (the default) each object is HEADed for its metadata mtime.
    await drainEntries(r.list('b/d'));
    assert.equal(recorder.requests.filter((q) => q.method === 'HEAD').length, 2);
  });

  it('sends Content-MD5 (not a CRC) with DeleteObjects', async () => {
    recorder.reset();
    const r = await remote();
    recorder.script = (req) =>
      req.method === 'GET' && req.query.get('list-type') === '2'
        ? { status: 200, headers: { 'content-type': 'application/xml' }, body: listXml('b', ['d/one', 'd/two']) }
        : req.method === 'POST' && req.query.has('delete')
          ? { status: 200, headers: { 'content-type': 'application/xml' }, body: '<DeleteResult></DeleteResult>' }
          : undefined;
    await r.purge('b/d');
    const del = recorder.requests.find((q) => q.method === 'POST' && q.query.has('delete'))!;
    assert.equal(del.headers['content-md5'], md5b64(del.body));
    assert.match(del.body.toString(), /<Key>d\/one<\/Key>/);
    assert.equal(Object.keys(del.headers).filter((h) => h.startsWith('x-amz-checksum-')).length, 0);
  });
});

describe('s3 backend creation (recorded)', () => {
  it('opens from rclone-style options through the registry and signs with the keys', async () => {
    recorder.reset();
    const spec = getBackend('s3');
    const r = (await spec.create({
      name: 'mys3',
      root: '',
      options: new OptionValues(spec.options, {
        provider: 'Other',
        endpoint: recorder.endpoint,
        access_key_id: 'AKID',
        secret_access_key: 'SECRET',
      }, 'mys3'),
      openRemote: () => Promise.reject(new Error('not used')),
    })) as S3Remote;
    remotes.push(r);
    assert.equal(r.type, 's3');
    assert.equal((await r.stat('b/k')).size, 4);
    const head = recorder.requests.find((q) => q.method === 'HEAD')!;
    assert.equal(head.path, '/b/k', 'path-style addressing');
    assert.match(String(head.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKID\//);
  });

  it('sends unsigned requests without credentials (anonymous access)', async () => {
    recorder.reset();
    const r = await remote({ credentials: undefined });
    await r.stat('b/k');
    assert.equal(recorder.requests[0].headers.authorization, undefined);
  });
});

describe('s3 errors and retries (recorded)', () => {
  it('retries 503 and 429, then succeeds', async () => {
    recorder.reset();
    let n = 0;
    recorder.script = (req) => (req.method === 'HEAD' && n++ < 2 ? xmlError(n === 1 ? 503 : 429, 'SlowDown') : undefined);
    const r = await remote({ retryPolicy: { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 } });
    const e = await r.stat('b/obj');
    assert.equal(e.size, 4);
    assert.equal(e.mtime.getTime(), 1620284889123);
    assert.equal(recorder.requests.filter((q) => q.method === 'HEAD').length, 3);
  });

  it('logs each retry to the project log at DEBUG (-vv), with status and request id, by default', async () => {
    recorder.reset();
    let n = 0;
    recorder.script = (req) => (req.method === 'HEAD' && n++ < 2 ? xmlError(503, 'SlowDown', `tx-slow-${n}`) : undefined);
    const dir = await mkdtemp(join(tmpdir(), 'cryptfs-s3log-'));
    const file = join(dir, 'log.txt');
    try {
      // No logger given: the default goes to src/log.ts.
      const r = await remote({ logger: undefined, retryPolicy: { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 } });
      configureLog({ level: 'notice', file });
      await r.stat('b/obj');
      // The log file is made at configuration (empty); nothing is written to it at the default level.
      assert.equal(existsSync(file) ? await readFile(file, 'utf8') : '', '', 'nothing at the default level');
      n = 0;
      configureLog({ level: 'debug', file });
      await r.stat('b/obj');
      const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.includes('low level retry'));
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[0], /DEBUG : s3: low level retry 1\/4 in \d+ ms \(error .*HTTP 503, request id tx-slow-1\)/);
      assert.match(lines[1], /low level retry 2\/4 .*request id tx-slow-2/);
    } finally {
      configureLog({ level: 'notice', file: undefined });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not retry a 403 and reports status and request id', async () => {
    recorder.reset();
    recorder.script = () => xmlError(403, 'AccessDenied', 'tx-denied');
    const r = await remote();
    await assert.rejects(r.openRead('b/obj'), (err: unknown) => {
      assert.ok(err instanceof RemoteIOError, String(err));
      assert.equal(err.status, 403);
      assert.equal(err.requestId, 'tx-denied');
      assert.equal(err.retryable, false);
      assert.match(err.message, /AccessDenied/);
      return true;
    });
    assert.equal(recorder.requests.length, 1);
  });

  it('gives up after the policy attempts on 500 with a retryable error', async () => {
    recorder.reset();
    recorder.script = () => xmlError(500, 'InternalError', 'tx-500');
    const r = await remote({ retryPolicy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    await assert.rejects(r.openRead('b/obj'), (err: unknown) => {
      assert.ok(err instanceof RemoteIOError);
      assert.equal(err.status, 500);
      assert.equal(err.requestId, 'tx-500');
      assert.equal(err.retryable, true);
      assert.match(err.message, /3 attempts/);
      return true;
    });
    assert.equal(recorder.requests.length, 3);
  });

  it('maps NoSuchKey to ObjectNotFoundError and NoSuchBucket to DirNotFoundError', async () => {
    recorder.reset();
    recorder.script = (req) =>
      req.method === 'GET' && req.query.get('list-type') === '2' ? xmlError(404, 'NoSuchBucket') : xmlError(404, 'NoSuchKey');
    const r = await remote();
    await assert.rejects(r.openRead('b/missing'), ObjectNotFoundError);
    await assert.rejects(drainEntries(r.list('nobucket')), DirNotFoundError);
    await assert.rejects(r.delete('b/missing'), ObjectNotFoundError);
    assert.equal(recorder.requests.filter((q) => q.method === 'DELETE').length, 0);
  });

  it('follows continuation tokens and url-decodes keys', async () => {
    recorder.reset();
    recorder.script = (req) => {
      if (req.method !== 'GET' || req.query.get('list-type') !== '2') return undefined;
      assert.equal(req.query.get('encoding-type'), 'url');
      const page2 = req.query.get('continuation-token') === 'next';
      return {
        status: 200,
        headers: { 'content-type': 'application/xml' },
        body: page2
          ? listXml('b', ['d/a+b%C3%BC'], {})
          : listXml('b', ['d/one', 'd/'], { truncated: true, token: 'next', prefixes: ['d/sub%20dir/'] }).replace(
              '<Prefix></Prefix>',
              '<Prefix>d/</Prefix><EncodingType>url</EncodingType>',
            ),
      };
    };
    const r = await remote({ useServerModtime: true });
    const got = (await drainEntries(r.list('b/d'))).map((e) => `${e.isDir ? 'D' : 'F'} ${e.path}`);
    // The second page does not say EncodingType=url, so its key is taken literally.
    assert.deepEqual(got, ['D b/d/sub dir', 'F b/d/one', 'F b/d/a+b%C3%BC']);
  });
});

async function drainEntries<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of it) out.push(e);
  return out;
}
