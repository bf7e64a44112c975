// Waiting for a condition instead of sleeping: checks `cond` until it holds,
// pausing `intervalMs` between checks, and fails with `what` (and the last
// value or error seen) once `timeoutMs` has passed. The timeout is only a
// bound for a broken build; a passing test returns as soon as it can.
export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** More about the state at the timeout, for the failure message (e.g. what is still missing). */
  detail?: () => string;
}

export class PollTimeoutError extends Error {}

/**
 * Resolves to the first truthy value of `cond` (sync or async). An error
 * thrown by `cond` counts as "not yet" (the thing may not exist yet) and is
 * reported if the time runs out.
 */
export async function pollUntil<T>(what: string, cond: () => T | Promise<T>, opts: PollOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await cond();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const seen = opts.detail?.() ?? (lastError !== undefined ? `last error: ${String(lastError)}` : `last value: ${JSON.stringify(last)}`);
      throw new PollTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
