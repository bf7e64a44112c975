// Runs the CLI in-process (faster than a child process), capturing stdout and
// everything written to stderr, log lines included.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface MainResult {
  code: number;
  /** stdout as bytes. */
  stdout: Buffer;
  /** stdout as text. */
  out: string;
  /** stderr and log lines. */
  err: string;
}

export async function runMain(argv: string[], stdin?: NodeJS.ReadableStream): Promise<MainResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const realWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(Buffer.from(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv, { stdout, stderr, ...(stdin ? { stdin } : {}) });
    const bytes = Buffer.concat(out);
    return { code, stdout: bytes, out: bytes.toString(), err: Buffer.concat(err).toString() };
  } finally {
    process.stderr.write = realWrite;
  }
}
