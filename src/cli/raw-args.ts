// Command-line arguments as bytes. Node decodes argv as UTF-8 and turns every
// invalid byte into U+FFFD, while rclone (Go) takes an argument's bytes as they
// are; `obscure` must see the same bytes rclone would.
import { readFileSync } from 'node:fs';

/** This process's argv as the kernel holds it (Linux); [] where that can't be read. */
function kernelArgv(): Buffer[] {
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      out.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * The bytes of a command-line argument: its UTF-8 when it decoded cleanly, else
 * the kernel's copy of the one argument that decodes to it (found by decoding
 * each the way Node did). Falls back to the UTF-8 of the lossy text.
 */
export function argumentBytes(arg: string): Buffer {
  if (!arg.includes('\uFFFD')) return Buffer.from(arg, 'utf8');
  const matches = kernelArgv().filter((a) => a.toString('utf8') === arg);
  // Two different byte strings that decode alike can't be told apart: they are never guessed between.
  if (matches.length > 0 && matches.every((m) => m.equals(matches[0]))) return Buffer.from(matches[0]);
  return Buffer.from(arg, 'utf8');
}

/** The first line of `input` as Go's bufio.ScanLines gives it: up to '\n', without a final '\r'; undefined when empty. */
export function firstLine(input: Buffer): Buffer | undefined {
  if (input.length === 0) return undefined;
  const nl = input.indexOf(0x0a);
  const line = nl < 0 ? input : input.subarray(0, nl);
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}
