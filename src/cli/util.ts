// Small helpers for commands: backpressure-aware output, command-level errors.
import type { Writable } from 'node:stream';
import { ExitCode, ExitStatusError } from './exit-codes.js';

/** A command failed; the message is printed as "Failed to <cmd>: <message>". */
export class CommandFailedError extends ExitStatusError {
  constructor(message: string, exitCode: number = ExitCode.unclassified, options?: { cause?: unknown }) {
    super(message, exitCode, options);
  }
}

/** Writes text or bytes, waiting for the stream to drain when its buffer is full. */
export async function writeOut(out: Writable, data: string | Uint8Array): Promise<void> {
  if (!out.write(data)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        out.off('drain', onDrain);
        reject(err);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}

/**
 * Writes bytes and waits until the stream is done with them (its write callback), not only for
 * room: the caller may then refill the buffer. Only for streams that keep no reference to what was
 * written once they call back (the process's stdout: a file, pipe or terminal written synchronously
 * on Linux), never for one that collects its chunks.
 */
export function writeThrough(out: Writable, data: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    out.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Reads all of stdin as bytes (for `obscure -`). */
export async function readAllBytes(input: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of input as AsyncIterable<Buffer | string>) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(parts);
}
