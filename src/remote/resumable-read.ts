// A download that survives a dropped connection: when the body of a GET breaks mid-way, the rest is
// asked for again from the byte already delivered (a ranged GET of the same object version), with
// backoff, so the reader sees one uninterrupted byte stream. Shared by the object-store drivers.
import { errorMessage, RemoteIOError } from '../errors.js';
import { abortableSleep, asAborted } from '../abort.js';
import { backoffDelay, isRetryableError, type RetryPolicy } from './retry.js';

/** One response body and the version of the object it belongs to. */
export interface OpenedBody {
  body: AsyncIterable<Uint8Array>;
  /** ETag (or another version tag) of the object the body comes from, when the server sent one. */
  etag?: string;
}

/** The download broke and could not be resumed within the retry budget. */
export class ReadInterruptedError extends RemoteIOError {
  constructor(
    readonly target: string,
    readonly position: number,
    options: { cause?: unknown; attempts: number },
  ) {
    super(`${target}: download failed at byte ${position} after ${options.attempts} attempts: ${errorMessage(options.cause)}`, {
      cause: options.cause,
      retryable: true,
    });
  }
}

/** The object was replaced while it was being read: the bytes so far and the rest would not match. */
export class ObjectChangedError extends RemoteIOError {
  constructor(
    readonly target: string,
    readonly position: number,
    options: { was?: string; now?: string; cause?: unknown } = {},
  ) {
    super(
      `${target}: object changed while reading (at byte ${position}${options.was || options.now ? `, ETag ${options.was ?? '?'} -> ${options.now ?? '?'}` : ''})`,
      // Reading it again from the start gives a consistent copy of the new version.
      { cause: options.cause, retryable: true },
    );
  }
}

export interface ResumeOptions {
  /** What is read, for messages ("s3: bucket/key"). */
  target: string;
  /** Offset of the first byte of `first`. */
  offset: number;
  /** Offset just past the last byte wanted, if the read is bounded. */
  end?: number;
  /**
   * Opens the object again from `position` (to `end`), requiring the version `etag` when given;
   * undefined when nothing is left there. It may retry on its own; whatever it throws ends the read
   * (an ObjectChangedError when the version differs).
   */
  reopen(position: number, etag: string | undefined): Promise<OpenedBody | undefined>;
  policy: RetryPolicy;
  /** Whether a failure of the body is worth resuming (default: isRetryableError). */
  isResumable?(err: unknown): boolean;
  /** The read was given up on: a broken body is then not resumed (AbortedError instead). */
  signal?: AbortSignal;
  /** Told of each resume (for the DEBUG retry line). */
  onResume?(err: unknown, attempt: number, delayMs: number, position: number): void;
}

/**
 * The bytes of `first`, then of as many re-opened bodies as it takes. The retry budget
 * (policy.attempts) counts failures in a row without a byte delivered in between, so a long
 * read over a flaky link goes on as long as it makes progress.
 */
export async function* resumableBody(first: OpenedBody, options: ResumeOptions): AsyncGenerator<Uint8Array> {
  const resumable = options.isResumable ?? isRetryableError;
  const etag = first.etag;
  let current: OpenedBody | undefined = first;
  let position = options.offset;
  let failures = 0;
  while (current) {
    const iterator = current.body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        if (next.value.byteLength === 0) continue;
        position += next.value.byteLength;
        failures = 0;
        yield next.value;
      }
    } catch (err) {
      if (options.end !== undefined && position >= options.end) return;
      if (options.signal?.aborted) throw asAborted(err, options.signal);
      if (!resumable(err)) throw err;
      failures++;
      if (failures >= options.policy.attempts) {
        throw new ReadInterruptedError(options.target, position, { cause: err, attempts: failures });
      }
      const delay = backoffDelay(failures - 1, options.policy);
      options.onResume?.(err, failures, delay, position);
      await abortableSleep(delay, options.signal);
      current = await options.reopen(position, etag);
      if (current?.etag && etag && current.etag !== etag) {
        await cancelBody(current.body);
        throw new ObjectChangedError(options.target, position, { was: etag, now: current.etag });
      }
    } finally {
      // Stopped early (the reader broke off) or failed: release the connection.
      await iterator.return?.()?.catch?.(() => undefined);
    }
  }
}

async function cancelBody(body: AsyncIterable<Uint8Array>): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  await it.return?.()?.catch?.(() => undefined);
}
