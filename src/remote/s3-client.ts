// The S3 SDK as the driver uses it: loading it on first use, the client configured for the
// project (retries, timeouts, logging, Content-MD5 for DeleteObjects), and the connection the
// S3 modules share.
import { createHash } from 'node:crypto';
// Types only: the SDK itself is loaded when an s3 remote is first opened (s3-sdk.ts), so
// registering the backend costs nothing to commands that never touch S3.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { errorMessage } from '../errors.js';
import { defaultRetryPolicy } from './retry.js';
import { S3RetryStrategy, describeRetryError } from './s3-errors.js';
import type { Location } from './s3-objects.js';
import type { S3Logger, S3RemoteOptions } from './s3-options.js';
import type { S3Sdk } from './s3-sdk.js';

/** What the parts of the driver need to send requests: the client, the SDK's commands, the settings and the log. */
export interface S3Connection {
  readonly client: S3Client;
  readonly sdk: S3Sdk;
  readonly options: S3RemoteOptions;
  readonly log: S3Logger;
}

/** The SDK client for `options`, logging retries and SDK chatter to `log`. */
export function createS3Client(options: S3RemoteOptions, sdk: S3Sdk, log: S3Logger): S3Client {
  const policy = options.retryPolicy ?? defaultRetryPolicy;
  const config: S3ClientConfig = {
    region: options.region || 'us-east-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? true,
    // Swift's s3api (and other clones) reject aws-chunked uploads and flexible checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: policy.attempts,
    retryStrategy: new S3RetryStrategy(policy, (err, attempt, delay) =>
      log.debug(`s3: low level retry ${attempt}/${policy.attempts - 1} in ${Math.round(delay)} ms (error ${describeRetryError(err)})`),
    ),
    requestHandler: {
      connectionTimeout: 30_000,
      requestTimeout: options.requestTimeoutMs ?? 300_000,
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64 },
    },
    // The SDK logs every failed command (and non-retryable streamed bodies) on the console; we
    // report failures as typed errors, so its output only goes to debug. No `info`: the SDK calls
    // it as `logger?.info?.(…)` after every command, with the input and output copied through the
    // schema's sensitive-field filter first, unless it is missing (~40 µs a request; debug it calls
    // unguarded in places, so that one stays).
    logger: {
      debug: () => {},
      warn: (...args: unknown[]) => log.debug(`s3 sdk: ${describeSdkLog(args)}`),
      error: (...args: unknown[]) => log.debug(`s3 sdk: ${describeSdkLog(args)}`),
    } as unknown as S3ClientConfig['logger'],
  };
  if (options.credentials) {
    config.credentials = options.credentials;
  } else if (!options.envAuth) {
    // Anonymous access: send requests unsigned.
    config.signer = { sign: async (request) => request };
    config.credentials = { accessKeyId: '', secretAccessKey: '' };
  }
  const client = new sdk.S3Client(config);
  // Swift's s3api insists on Content-MD5 for DeleteObjects (400 without it); the SDK now sends a
  // CRC32 there instead. Replace it with the MD5 of the serialized body.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && request.headers) {
        const body = request.body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          for (const h of Object.keys(request.headers)) {
            if (h.toLowerCase().startsWith('x-amz-checksum-') || h.toLowerCase() === 'x-amz-sdk-checksum-algorithm') {
              delete request.headers[h];
            }
          }
          request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'cryptfsContentMd5' },
  );
  // A body sent with its Content-MD5 (a signed header the server checks) is signed as
  // UNSIGNED-PAYLOAD, as rclone's single PUTs are: the SDK would otherwise hash every uploaded
  // byte once more (SHA-256) on the event loop, ~0.4 s per 512 MiB, for no more integrity.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      const name = context.commandName;
      if ((name === 'PutObjectCommand' || name === 'UploadPartCommand') && request.headers && hasHeader(request.headers, 'content-md5')) {
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'cryptfsUnsignedPayload' },
  );
  return client;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

/** One line for an SDK log call (it logs whole command contexts; inputs may hold keys). */
export function describeSdkLog(args: unknown[]): string {
  return args
    .map((a) => {
      if (a && typeof a === 'object') {
        const o = a as { commandName?: string; error?: { name?: string; message?: string } };
        if (o.commandName) return `${o.commandName}${o.error ? `: ${o.error.name} ${o.error.message ?? ''}` : ''}`.trim();
        return '(object)';
      }
      return String(a);
    })
    .join(' ');
}

/** Removes an object, only logging a failure (cleanup after a refused upload, a probe, a marker). */
export async function deleteQuietly(conn: S3Connection, loc: Location): Promise<void> {
  try {
    await conn.client.send(new conn.sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
  } catch (err) {
    conn.log.warn(`s3: could not remove ${loc.bucket}/${loc.key}: ${errorMessage(err)}`);
  }
}
