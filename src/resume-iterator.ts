// A byte stream that was partly read ahead (to look at its front, or to see whether it fits a buffer)
// and goes on as one stream again.

/**
 * Yields `taken` (its non-empty pieces, in order), then the rest of `iterator`; closes `iterator`
 * when the rest ends or the consumer stops early, so its file or connection is never left open.
 */
export async function* resumeIterator(taken: readonly (Uint8Array | undefined)[], iterator: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for (const piece of taken) if (piece !== undefined && piece.length > 0) yield piece;
    for (;;) {
      const step = await iterator.next();
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}
