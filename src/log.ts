// Logging to stderr in rclone's format: "2006/01/02 15:04:05 LEVEL : message".
// Levels as rclone: ERROR, NOTICE (default), INFO (-v), DEBUG (-vv); -q shows errors only.
//
// Logging never throws: a mount daemon logs from inside FUSE operations and
// upload callbacks, and a log file that cannot be written (deleted directory,
// EMFILE, full disk) must not end the process. A failed line goes to stderr
// instead, with one note saying why; the file is tried again for every line.
import { appendFileSync } from 'node:fs';

export type LogLevel = 'error' | 'notice' | 'info' | 'debug';
const order: Record<LogLevel, number> = { error: 0, notice: 1, info: 2, debug: 3 };
const label: Record<LogLevel, string> = { error: 'ERROR', notice: 'NOTICE', info: 'INFO', debug: 'DEBUG' };

interface LogSettings {
  level: LogLevel;
  file?: string;
  json: boolean;
}

const settings: LogSettings = { level: 'notice', json: false };

export function configureLog(next: Partial<LogSettings>): void {
  const opening = next.file !== undefined && next.file !== settings.file;
  Object.assign(settings, next);
  // The log file exists from the start, as rclone opens it at start-up (0600): not first at the
  // first line, which for a mount may come after the mount is already visible.
  if (opening && settings.file) appendToFile(settings.file, '');
}

export function logLevel(): LogLevel {
  return settings.level;
}

/** The time as log lines show it (for lines written to the terminal directly). */
export function logTimestamp(): string {
  return stamp(new Date());
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Scrubs secrets from every line (set by the CLI: the secret values it has seen). */
let redact: (text: string) => string = (text) => text;

export function setLogRedactor(fn: (text: string) => string): void {
  redact = fn;
}

function emit(level: LogLevel, raw: string): void {
  if (order[level] > order[settings.level]) return;
  const message = redact(raw);
  const now = new Date();
  const line = settings.json
    ? JSON.stringify({ time: now.toISOString(), level: label[level].toLowerCase(), msg: message, source: 'cryptfs' }) + '\n'
    : `${stamp(now)} ${label[level].padEnd(6)}: ${message}\n`;
  if (settings.file) appendToFile(settings.file, line);
  else writeStderr(line);
}

/** The file whose last append failed (so that its note is written once per outage). */
let failingFile: string | undefined;

function appendToFile(file: string, line: string): boolean {
  try {
    // 0600: at -v the lines name decrypted paths (an existing file keeps its mode).
    appendFileSync(file, line, { mode: 0o600 });
    failingFile = undefined;
    return true;
  } catch (err) {
    if (failingFile !== file) {
      failingFile = file;
      writeStderr(`${stamp(new Date())} ERROR : cannot write to the log file ${file}: ${(err as Error).message}; logging to stderr\n`);
    }
    writeStderr(line);
    return false;
  }
}

let stderrBroken = false;

function writeStderr(line: string): void {
  if (stderrBroken) return;
  try {
    if (process.stderr.listenerCount('error') === 0) {
      // EPIPE on a closed stderr arrives as an 'error' event, which would end the process.
      process.stderr.on('error', () => (stderrBroken = true));
    }
    process.stderr.write(line);
  } catch {
    stderrBroken = true;
  }
}

/**
 * The last line of a failed command ("Failed to copy: …"), unlabelled as rclone prints it;
 * goes to the log file when there is one. Returns false when it went to stderr via `fallback`.
 */
export function logFatalLine(line: string): boolean {
  if (!settings.file) return false;
  // When the file cannot take it, the line went to stderr already.
  appendToFile(settings.file, `${stamp(new Date())} ${line}\n`);
  return true;
}

export const log = {
  error: (m: string) => emit('error', m),
  notice: (m: string) => emit('notice', m),
  info: (m: string) => emit('info', m),
  debug: (m: string) => emit('debug', m),
  enabled: (level: LogLevel) => order[level] <= order[settings.level],
};
