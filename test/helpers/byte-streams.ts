// Byte-stream helpers for cipher tests: feed data in awkward pieces, gather what comes out.

/** Yields `data` in pieces whose sizes cycle through `sizes`. */
export async function* pieces(data: Uint8Array, sizes: number[] = [data.length || 1]): AsyncGenerator<Uint8Array> {
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const size = sizes[i++ % sizes.length];
    yield data.subarray(pos, pos + size);
    pos += size;
  }
}

export async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of gen) parts.push(p);
  return Buffer.concat(parts);
}

/** Runs a decryption, returning what was yielded before it ended and the error it ended with, if any. */
export async function drain(gen: AsyncIterable<Uint8Array>): Promise<{ output: Buffer; error?: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const p of gen) parts.push(p);
    return { output: Buffer.concat(parts) };
  } catch (error) {
    return { output: Buffer.concat(parts), error };
  }
}
