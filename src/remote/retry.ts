// Retries with exponential backoff and full jitter, shared by the network drivers.
// Only errors marked retryable (5xx, 408, 429, timeouts, connection resets) are repeated.
import { abortableSleep, asAborted, throwIfAborted } from '../abort.js';
import { CryptfsError, RemoteIOError } from '../errors.js';

export interface RetryPolicy {
  /** Total attempts including the first (rclone's --low-level-retries defaults to 10). */
  attempts: number;
  /** First backoff in ms. */
  baseDelayMs: number;
  /** Cap for one backoff in ms. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 8000 };

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** HTTP statuses worth repeating: server errors, 408 Request Timeout, 429 Too Many Requests. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Whether an error (ours, Node's, undici's) is worth another attempt. */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof CryptfsError) return err.retryable;
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    // An aborted request (AbortError, also wrapped) was given up on, not failed by the server.
    if ((e as { name?: unknown }).name === 'AbortError') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.random() * ceiling;
}

/**
 * Runs `op` until it succeeds, a non-retryable error occurs, or attempts run out.
 * `onRetry` is told of each repeated failure (for logging). Once `signal` fires, no attempt
 * starts and no backoff is waited out: the failure is an AbortedError.
 */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  options: {
    policy?: RetryPolicy;
    describe?: string;
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
    signal?: AbortSignal;
  } = {},
): Promise<T> {
  const policy = options.policy ?? defaultRetryPolicy;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await op(attempt);
    } catch (err) {
      if (options.signal?.aborted) throw asAborted(err, options.signal);
      const last = attempt + 1 >= policy.attempts;
      if (last || !isRetryableError(err)) {
        if (last && isRetryableError(err) && !(err instanceof CryptfsError)) {
          throw new RemoteIOError(
            `${options.describe ?? 'operation'} failed after ${policy.attempts} attempts: ${(err as Error).message}`,
            { cause: err, retryable: true },
          );
        }
        throw err;
      }
      const delay = backoffDelay(attempt, policy);
      options.onRetry?.(err, attempt + 1, delay);
      await abortableSleep(delay, options.signal);
    }
  }
}
