// Cancellation: an operation nobody waits for any more (a released handle, an unmount, Ctrl-C)
// stops, releases what it holds, and rejects with AbortedError. Helpers shared by the drivers,
// the VFS and the CLI.
import { setMaxListeners } from 'node:events';
import { AbortedError } from './errors.js';

/** The error an operation ends with when `signal` fired: its reason when that already is one. */
export function abortedError(signal: AbortSignal): AbortedError {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortedError) return reason;
  return new AbortedError(reason instanceof Error && reason.name !== 'AbortError' ? `aborted: ${reason.message}` : 'operation aborted', {
    cause: reason,
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/**
 * Whether `err` is the end of an aborted operation: ours, or what fetch/the SDK/Node streams
 * throw for an aborted signal (AbortError). Only consulted once the signal has fired.
 */
export function isAbortError(err: unknown): boolean {
  if (err instanceof AbortedError) return true;
  const name = (err as { name?: unknown } | null)?.name;
  const code = (err as { code?: unknown } | null)?.code;
  return name === 'AbortError' || code === 'ABORT_ERR';
}

/** `err` as the typed error when `signal` has fired (whatever the aborted layer threw), else unchanged. */
export function asAborted(err: unknown, signal: AbortSignal | undefined): unknown {
  if (!signal?.aborted || err instanceof AbortedError) return err;
  const e = abortedError(signal);
  return e.cause === undefined ? new AbortedError(e.message, { cause: err }) : e;
}

/** Settles as `promise` does, or rejects with AbortedError as soon as `signal` fires. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortedError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortedError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(asAborted(err, signal));
      },
    );
  });
}

/** Waits `ms`, or rejects with AbortedError at once when `signal` fires (a backoff nobody waits out). */
export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return raceAbort(new Promise<void>((r) => setTimeout(r, ms)), signal);
}

/**
 * The items of `source`, ending with AbortedError as soon as `signal` fires, also while a
 * `next()` is pending (a stalled connection, a slow listing page): the source is then closed
 * (its `return()`, which releases fds and connections) without waiting for it.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (!signal) {
    yield* source;
    return;
  }
  throwIfAborted(signal);
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  // One listener for the whole iteration, not one added and removed per item (raceAbort): with
  // many small files that was ~5% of the event loop. It rejects the next() being waited for.
  let abortPending: (() => void) | undefined;
  const onAbort = () => abortPending?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const pending = it.next();
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        abortPending = () => {
          pending.catch(() => undefined);
          reject(abortedError(signal));
        };
        pending.then(resolve, (err: unknown) => reject(asAborted(err, signal)));
      });
      abortPending = undefined;
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
      throwIfAborted(signal);
    }
  } finally {
    abortPending = undefined;
    signal.removeEventListener('abort', onAbort);
    // Not awaited when aborted: a generator busy in next() runs its return() only after that settles.
    if (!finished) {
      const closing = Promise.resolve()
        .then(() => it.return?.())
        .catch(() => undefined);
      if (!signal.aborted) await closing;
    }
  }
}

/** One signal for two (either firing fires it); the other when one is undefined. */
export function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b || a === b) return a;
  return AbortSignal.any([a, b]);
}

/**
 * An AbortController whose signal many operations wait on at once (a command's transfers, a VFS's
 * reads, a handle's parallel parts): each adds an abort listener, so Node's default limit of 10
 * would print a leak warning on every busy run. Listeners go with their operations.
 */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
