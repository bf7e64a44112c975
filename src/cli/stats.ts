// Transfer accounting: bytes, files, checks, errors; printed as rclone's stats block.
import type { ByteSource } from '../remote/remote.js';
import { formatDuration, humanSize } from './format.js';

export class TransferStats {
  readonly started = Date.now();
  bytes = 0;
  totalBytes = 0;
  files = 0;
  totalFiles = 0;
  checks = 0;
  deletes = 0;
  renames = 0;
  errors = 0;
  lastError?: unknown;
  /** Files being transferred now: name → bytes done / size. */
  readonly active = new Map<string, { done: number; size: number }>();

  /** Wraps a byte stream so its bytes are counted against `name`. */
  async *count(name: string, source: ByteSource, size: number): AsyncGenerator<Uint8Array> {
    const slot = { done: 0, size };
    this.active.set(name, slot);
    try {
      for await (const chunk of source) {
        slot.done += chunk.length;
        this.bytes += chunk.length;
        yield chunk;
      }
    } finally {
      this.active.delete(name);
    }
  }

  error(err: unknown): void {
    this.errors++;
    this.lastError = err;
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }

  /** Average bytes per second since the start. */
  rate(): number {
    const s = this.elapsedMs() / 1000;
    return s > 0 ? this.bytes / s : 0;
  }

  eta(): string {
    const rate = this.rate();
    if (rate <= 0 || this.totalBytes <= this.bytes) return '-';
    return formatDuration(((this.totalBytes - this.bytes) / rate) * 1000);
  }

  /** The block rclone prints at the end of a transfer with -v, and periodically with --stats. */
  summary(): string {
    const pct = (a: number, b: number) => (b > 0 ? `${Math.floor((a / b) * 100)}%` : '-');
    const lines = [
      `Transferred:   \t${humanSize(this.bytes).padStart(14)} / ${humanSize(this.totalBytes)}, ${pct(this.bytes, this.totalBytes)}, ${humanSize(Math.round(this.rate()))}/s, ETA ${this.eta()}`,
    ];
    if (this.errors) lines.push(`Errors:        ${String(this.errors).padStart(10)}`);
    if (this.checks) lines.push(`Checks:        ${String(this.checks).padStart(10)} / ${this.checks}, 100%`);
    if (this.deletes) lines.push(`Deleted:       ${String(this.deletes).padStart(10)} (files), 0 (dirs)`);
    if (this.renames) lines.push(`Renamed:       ${String(this.renames).padStart(10)}`);
    if (this.totalFiles || this.files) {
      lines.push(`Transferred:   ${String(this.files).padStart(10)} / ${this.totalFiles}, ${pct(this.files, this.totalFiles)}`);
    }
    lines.push(`Elapsed time:  ${formatDuration(this.elapsedMs()).padStart(10)}`);
    return lines.join('\n') + '\n';
  }
}
