// Logging to stderr in rclone's format: "2006/01/02 15:04:05 LEVEL : message".
// Levels as rclone: ERROR, NOTICE (default), INFO (-v), DEBUG (-vv); -q shows errors only.
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
  Object.assign(settings, next);
}

export function logLevel(): LogLevel {
  return settings.level;
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function emit(level: LogLevel, message: string): void {
  if (order[level] > order[settings.level]) return;
  const now = new Date();
  const line = settings.json
    ? JSON.stringify({ time: now.toISOString(), level: label[level].toLowerCase(), msg: message, source: 'cryptfs' }) + '\n'
    : `${stamp(now)} ${label[level].padEnd(6)}: ${message}\n`;
  if (settings.file) appendFileSync(settings.file, line);
  else process.stderr.write(line);
}

/**
 * The last line of a failed command ("Failed to copy: …"), unlabelled as rclone prints it;
 * goes to the log file when there is one. Returns false when it went to stderr via `fallback`.
 */
export function logFatalLine(line: string): boolean {
  if (!settings.file) return false;
  appendFileSync(settings.file, `${stamp(new Date())} ${line}\n`);
  return true;
}

export const log = {
  error: (m: string) => emit('error', m),
  notice: (m: string) => emit('notice', m),
  info: (m: string) => emit('info', m),
  debug: (m: string) => emit('debug', m),
  enabled: (level: LogLevel) => order[level] <= order[settings.level],
};
