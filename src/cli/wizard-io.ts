// Where the config wizard (wizard.ts) reads answers and writes questions: a
// terminal (TtyIO: raw mode, echo off for passwords), piped stdin
// (LineStreamIO, as rclone reads lines when stdin is not a terminal), or
// scripted answers under test (any WizardIO).
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ReadStream } from 'node:tty';
import { ConfigError } from '../errors.js';

/** Where the wizard reads answers and writes its questions. */
export interface WizardIO {
  /** Writes `prompt` and reads one line (without its line end); undefined at end of input. */
  readLine(prompt: string): Promise<string | undefined>;
  /** The same with echo off, for passwords. */
  readPassword(prompt: string): Promise<string | undefined>;
  write(text: string): void;
}

/** Input ended in the middle of a question (nothing unsaved is written). */
export class EndOfInputError extends ConfigError {
  constructor() {
    super('input ended before the configuration was complete; unsaved changes were dropped');
  }
}

/** The user pressed Ctrl-C. */
export class WizardInterruptedError extends ConfigError {
  constructor() {
    super('interrupted; unsaved changes were dropped');
  }
}

// ---------------------------------------------------------------------------------------------
// Input/output implementations.

/**
 * Lines from a stream (piped stdin, or a PassThrough in tests). Nothing is
 * echoed: the input is not a terminal. Passwords are read as plain lines, as
 * rclone does when stdin is not a terminal.
 */
export class LineStreamIO implements WizardIO {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private readonly lines: string[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer | string) => {
    this.partial += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      this.lines.push(this.partial.slice(0, nl).replace(/\r$/, ''));
      this.partial = this.partial.slice(nl + 1);
    }
    this.notify();
  };
  private readonly onEnd = () => {
    this.partial += this.decoder.end();
    if (this.partial !== '') this.lines.push(this.partial.replace(/\r$/, ''));
    this.partial = '';
    this.ended = true;
    this.notify();
  };

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly output: Writable,
  ) {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.onEnd);
    input.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async next(): Promise<string | undefined> {
    while (this.lines.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.lines.shift();
  }

  async readLine(prompt: string): Promise<string | undefined> {
    this.write(prompt);
    return this.next();
  }

  async readPassword(prompt: string): Promise<string | undefined> {
    this.write(prompt);
    const line = await this.next();
    this.write('\n');
    return line;
  }

  write(text: string): void {
    this.output.write(text);
  }

  /** Stops reading so the process can exit. */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onEnd);
    this.input.pause();
  }
}

/**
 * A terminal in raw mode with a small line editor: typed characters are echoed
 * (not for passwords), Backspace and Ctrl-U edit, Enter ends the line, Ctrl-D on
 * an empty line is end of input, Ctrl-C interrupts. Raw mode for the whole
 * session means type-ahead is kept in order and never echoed out of turn.
 */
export class TtyIO implements WizardIO {
  private readonly pending: string[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly wasRaw: boolean;
  private readonly onData = (chunk: string | Buffer) => {
    for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) this.pending.push(ch);
    this.notify();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };
  private readonly restoreOnExit = () => this.restore();

  constructor(
    private readonly input: ReadStream,
    private readonly output: Writable,
  ) {
    this.wasRaw = input.isRaw;
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    process.once('exit', this.restoreOnExit);
    input.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async nextChar(): Promise<string | undefined> {
    while (this.pending.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.pending.shift();
  }

  /** Drops the rest of an escape sequence (arrow keys etc.) that arrived with its ESC. */
  private skipEscape(): void {
    const first = this.pending[0];
    if (first === undefined) return;
    this.pending.shift();
    if (first === '[') {
      while (this.pending.length > 0) {
        const c = this.pending.shift()!;
        if (c >= '@' && c <= '~') return;
      }
    } else if (first === 'O') {
      this.pending.shift();
    }
  }

  private async edit(prompt: string, echo: boolean): Promise<string | undefined> {
    this.write(prompt);
    let chars: string[] = [];
    for (;;) {
      const ch = await this.nextChar();
      if (ch === undefined) {
        this.write('\n');
        return chars.length > 0 ? chars.join('') : undefined;
      }
      switch (ch) {
        case '\r':
        case '\n':
          if (ch === '\r' && this.pending[0] === '\n') this.pending.shift();
          this.write('\n');
          return chars.join('');
        case '\u0003': // Ctrl-C
          this.write('^C\n');
          throw new WizardInterruptedError();
        case '\u0004': // Ctrl-D
          if (chars.length === 0) {
            this.write('\n');
            return undefined;
          }
          break;
        case '\u007f':
        case '\b':
          if (chars.length > 0) {
            chars.pop();
            if (echo) this.write('\b \b');
          }
          break;
        case '\u0015': // Ctrl-U
          if (echo) this.write('\b \b'.repeat(chars.length));
          chars = [];
          break;
        case '\u001b':
          this.skipEscape();
          break;
        default:
          if (ch >= ' ') {
            chars.push(ch);
            if (echo) this.write(ch);
          }
      }
    }
  }

  readLine(prompt: string): Promise<string | undefined> {
    return this.edit(prompt, true);
  }

  readPassword(prompt: string): Promise<string | undefined> {
    return this.edit(prompt, false);
  }

  write(text: string): void {
    this.output.write(text);
  }

  private restore(): void {
    try {
      this.input.setRawMode(this.wasRaw);
    } catch {
      // the terminal may be gone already
    }
  }

  /** Leaves raw mode and stops reading. */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    process.off('exit', this.restoreOnExit);
    this.restore();
    this.input.pause();
  }
}
