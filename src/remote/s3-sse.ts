// SSE-C (customer-provided keys): the request fields that carry the key, and the probe that
// learns, per bucket, whether the server enforces the key or stores plaintext anyway.
import { randomBytes } from 'node:crypto';
import { SseNotEnforcedError, errorMessage } from '../errors.js';
import { backoffDelay, defaultRetryPolicy } from './retry.js';
import { deleteQuietly, type S3Connection } from './s3-client.js';
import { sdkStatus } from './s3-errors.js';
import type { S3RemoteOptions } from './s3-options.js';

/** The SSE-C probe object: at the top of the bucket, named as no crypt name can be, removed right after. */
const SSE_PROBE_PREFIX = '.cryptfs-sse-c-probe-';
const SSE_PROBE_ATTEMPTS = 3;

/** SSE-C fields for requests on objects (PUT, GET, HEAD, multipart, copy destination). */
export function sseInput(options: S3RemoteOptions): { SSECustomerAlgorithm?: string; SSECustomerKey?: string } {
  const sse = options.sse;
  if (!sse) return {};
  // The SDK base64-encodes a byte key and adds its MD5 (x-amz-server-side-encryption-customer-key-MD5).
  return { SSECustomerAlgorithm: sse.algorithm, SSECustomerKey: sse.key as unknown as string };
}

export function sseCopySourceInput(options: S3RemoteOptions): { CopySourceSSECustomerAlgorithm?: string; CopySourceSSECustomerKey?: string } {
  const sse = options.sse;
  if (!sse) return {};
  return { CopySourceSSECustomerAlgorithm: sse.algorithm, CopySourceSSECustomerKey: sse.key as unknown as string };
}

export type SseVerdict = 'enforced' | 'ignored' | 'unknown';

/** The SSE-C probe's verdicts for one remote, and the check made before each upload and copy. */
export class SseEnforcement {
  /**
   * Per bucket: whether the server refused a GET without the SSE-C key ('enforced'), served it
   * ('ignored'), or the probe had no verdict yet ('unknown': probed again before the next upload).
   */
  readonly verdicts = new Map<string, SseVerdict>();
  /** Probes under way, so parallel uploads to one bucket share one. */
  private readonly probes = new Map<string, Promise<void>>();
  private warned = false;

  constructor(private readonly conn: S3Connection) {}

  /**
   * Some servers (Swift's s3api) accept SSE-C headers and store plaintext. Before the first upload
   * to a bucket, learn which kind this is (probe); then warn, or with
   * sse_customer_require_enforced refuse, unless it enforces the key.
   */
  async ensureEnforced(bucket: string): Promise<void> {
    if (!this.conn.options.sse) return;
    if (this.verdicts.get(bucket) !== 'enforced' && this.verdicts.get(bucket) !== 'ignored') {
      let probe = this.probes.get(bucket);
      if (!probe) {
        probe = this.probe(bucket).finally(() => this.probes.delete(bucket));
        this.probes.set(bucket, probe);
      }
      await probe;
    }
    const verdict = this.verdicts.get(bucket);
    if (verdict === 'ignored') {
      const what =
        `s3: the server IGNORES SSE-C (customer-provided keys): a probe object in bucket ${JSON.stringify(bucket)} ` +
        `was readable WITHOUT the key, so data uploaded there is stored unencrypted on the server.`;
      if (this.conn.options.sseRequireEnforced) {
        throw new SseNotEnforcedError(`${what} Refusing to upload as sse_customer_require_enforced is set.`);
      }
      if (!this.warned) {
        this.warned = true;
        this.conn.log.warn(`${what} Do not rely on sse_customer_key here; use a crypt remote for confidentiality.`);
      }
    } else if (verdict !== 'enforced' && this.conn.options.sseRequireEnforced) {
      throw new SseNotEnforcedError(
        `s3: could not tell whether the server enforces SSE-C in bucket ${JSON.stringify(bucket)} ` +
          `(the probe failed ${SSE_PROBE_ATTEMPTS} times); refusing to upload as sse_customer_require_enforced is set`,
      );
    }
  }

  /**
   * Stores a 1-byte object with the SSE-C key and reads it back without: a server that honours
   * SSE-C refuses (400/403). Anything else (network errors, 5xx, a PUT that fails) is no verdict:
   * retried with backoff, then left 'unknown' so the next upload probes again.
   */
  private async probe(bucket: string): Promise<void> {
    const policy = this.conn.options.retryPolicy ?? defaultRetryPolicy;
    for (let attempt = 1; attempt <= SSE_PROBE_ATTEMPTS; attempt++) {
      const loc = { bucket, key: `${SSE_PROBE_PREFIX}${randomBytes(8).toString('hex')}` };
      let stored = false;
      try {
        await this.conn.client.send(new this.conn.sdk.PutObjectCommand({ Bucket: bucket, Key: loc.key, Body: Buffer.from('x'), ...sseInput(this.conn.options) }));
        stored = true;
        try {
          const out = await this.conn.client.send(new this.conn.sdk.GetObjectCommand({ Bucket: bucket, Key: loc.key, Range: 'bytes=0-0' }));
          (out.Body as unknown as { destroy?: () => void } | undefined)?.destroy?.();
          this.verdicts.set(bucket, 'ignored');
          return;
        } catch (err) {
          const status = sdkStatus(err);
          if (status === 400 || status === 403) {
            this.verdicts.set(bucket, 'enforced');
            return;
          }
          throw err;
        }
      } catch (err) {
        this.conn.log.debug(`s3: SSE-C probe of bucket ${bucket} (attempt ${attempt}/${SSE_PROBE_ATTEMPTS}) had no verdict: ${errorMessage(err)}`);
        if (attempt < SSE_PROBE_ATTEMPTS) await new Promise((r) => setTimeout(r, backoffDelay(attempt, policy)));
      } finally {
        if (stored) await deleteQuietly(this.conn, loc);
      }
    }
    this.verdicts.set(bucket, 'unknown');
  }
}
