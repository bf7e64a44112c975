// S3 failures: reading the SDK's errors, the retry strategy the SDK runs on the project's policy,
// and turning failures into the project's typed errors and one-line descriptions.
import { CryptfsError, DirNotFoundError, ObjectNotFoundError, RemoteIOError, errorMessage } from '../errors.js';
import { backoffDelay, isRetryableError, isRetryableStatus, type RetryPolicy } from './retry.js';

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; attempts?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

export function sdkStatus(err: unknown): number | undefined {
  const status = (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status > 0 ? status : undefined;
}

export function sdkRequestId(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.$metadata?.requestId ?? e?.$response?.headers?.['x-amz-request-id'] ?? undefined;
}

export function sdkCode(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  return e?.name ?? e?.code ?? 'Error';
}

/**
 * Whether an S3 failure is worth repeating: 5xx (but not 501/505, which are permanent), 408, 429,
 * S3's own RequestTimeout (sent as 400), and network failures. Other 4xx never are.
 */
export function isRetryableS3Error(err: unknown): boolean {
  const status = sdkStatus(err);
  // A success whose body broke off while being read (the SDK tags it with the 2xx status): the
  // connection failed, not the request.
  if (status !== undefined && status < 300) return isRetryableError(err) || isBrokenBody(err);
  if (status !== undefined) {
    if (status === 501 || status === 505) return false;
    if (isRetryableStatus(status)) return true;
    return sdkCode(err) === 'RequestTimeout';
  }
  if (sdkCode(err) === 'AbortError') return false;
  return isRetryableError(err);
}

/** Whether an error says a response body ended early (Node's "aborted", undici's "terminated", ...). */
export function isBrokenBody(err: unknown): boolean {
  return /\baborted\b|premature|terminated|socket hang up/i.test(errorMessage(err));
}

/** The SDK's retry hook, driven by the project's policy (attempts, backoff with full jitter). */
export class S3RetryStrategy {
  readonly mode = 'cryptfs';
  constructor(
    readonly policy: RetryPolicy,
    private readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  ) {}

  async acquireInitialRetryToken(_scope: string): Promise<RetryTokenImpl> {
    return new RetryTokenImpl(0, 0);
  }

  async refreshRetryTokenForRetry(
    token: { getRetryCount(): number },
    info: { error?: unknown; retryAfterHint?: Date },
  ): Promise<RetryTokenImpl> {
    const retries = token.getRetryCount();
    if (retries + 1 >= this.policy.attempts || !isRetryableS3Error(info.error)) {
      throw new Error('no retry');
    }
    let delay = backoffDelay(retries, this.policy);
    if (info.retryAfterHint instanceof Date) {
      delay = Math.max(delay, Math.min(info.retryAfterHint.getTime() - Date.now(), this.policy.maxDelayMs));
    }
    this.onRetry?.(info.error, retries + 1, delay);
    return new RetryTokenImpl(retries + 1, delay);
  }

  recordSuccess(_token: unknown): void {}
}

class RetryTokenImpl {
  constructor(
    private readonly count: number,
    private readonly delay: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
  getRetryCost(): number | undefined {
    return undefined;
  }
}

export type NotFoundKind = 'object' | 'dir' | 'none';

/** Turns an SDK or network failure into the project's typed errors. */
export function toRemoteError(err: unknown, what: string, path: string, notFound: NotFoundKind = 'object'): Error {
  if (err instanceof CryptfsError) return err;
  const status = sdkStatus(err);
  const code = sdkCode(err);
  if (notFound !== 'none') {
    const missing = code === 'NoSuchKey' || code === 'NoSuchBucket' || code === 'NotFound' || status === 404;
    if (missing) {
      return notFound === 'dir' ? new DirNotFoundError(path, { cause: err }) : new ObjectNotFoundError(path, { cause: err });
    }
  }
  const requestId = sdkRequestId(err);
  const attempts = (err as SdkErrorShape | undefined)?.$metadata?.attempts;
  const details = [
    status !== undefined ? `HTTP ${status}` : undefined,
    requestId ? `request id ${requestId}` : undefined,
    attempts && attempts > 1 ? `${attempts} attempts` : undefined,
  ].filter(Boolean);
  const message = (err as SdkErrorShape | undefined)?.message;
  const text = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
  return new RemoteIOError(`s3: ${what} ${JSON.stringify(path)}: ${text}${details.length ? ` (${details.join(', ')})` : ''}`, {
    cause: err,
    status,
    requestId,
    retryable: isRetryableS3Error(err),
  });
}

/** An SDK error for a retry line: code, message, HTTP status and request id (as rclone's pacer shows the error). */
export function describeRetryError(err: unknown): string {
  const code = sdkCode(err);
  const message = errorMessage(err);
  const status = sdkStatus(err);
  const requestId = sdkRequestId(err);
  const netCode = (err as { code?: unknown } | undefined)?.code;
  const details = [
    status !== undefined ? `HTTP ${status}` : undefined,
    requestId ? `request id ${requestId}` : undefined,
    typeof netCode === 'string' && !message.includes(netCode) ? netCode : undefined,
  ].filter(Boolean);
  const text = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
  return text + (details.length ? ` (${details.join(', ')})` : '');
}

export function sizeMismatch(path: string, expected: number, got: string): RemoteIOError {
  return new RemoteIOError(`s3: write ${JSON.stringify(path)}: source gave ${got} bytes, expected ${expected}`);
}

/** Passes a response body through, turning untyped mid-stream failures into RemoteIOError. */
export async function* mapStreamErrors(body: AsyncIterable<Uint8Array>, path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    if (err instanceof CryptfsError) throw err;
    throw new RemoteIOError(`s3: read ${JSON.stringify(path)}: ${errorMessage(err)}`, {
      cause: err,
      retryable: isRetryableError(err) || isBrokenBody(err),
    });
  }
}
