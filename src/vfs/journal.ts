// The journal of dirty files in the cache directory: which cache file holds
// the newest contents of which path, so that a daemon killed before uploading
// re-uploads on the next mount. Names are sensitive, so every record is sealed
// (XSalsa20-Poly1305, random nonce) with a key derived from the cache key.
//
// Format: records appended one write() each: u32 LE length ‖ nonce (24) ‖
// secretbox(JSON). A torn last record (power loss mid-append) ends the replay.
// On open the live records are rewritten into a fresh file (temp + rename).
import { writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { randomNonce } from '../crypt/nonce.js';
import { openChunk, sealChunk } from '../crypt/secretbox.js';
import { log } from '../log.js';
import { subKey, writeFileAtomic } from './cache-key.js';

const NONCE_SIZE = 24;
const TAG_SIZE = 16;
const MAX_RECORD = 1 << 20;

/** A dirty file as the journal knows it. */
export interface JournalEntry {
  /** Cache file id (names the block file). */
  id: string;
  /** Path in the remote the contents belong to. */
  path: string;
  /** Size as of the last size change (truncate); writes past it show in the block file. */
  size: number;
  mtimeMs: number;
  /** When mtime was set explicitly (utimens): later writes make the block file's mtime win. */
  mtimeSetAtMs?: number;
  /** The remote object that blocks not in the cache come from, as it was when the file was opened. */
  source?: { size: number; mtimeMs: number };
  /** Bytes at the start of the file still to be taken from `source` where not cached. */
  sourceBytes?: number;
  /**
   * A program had the file open for writing and had neither closed nor fsynced
   * it since its last change: after a crash its contents may be half-written.
   */
  writing?: boolean;
  /** rclone metadata (mode, owner) set while dirty, which the upload carries. */
  metadata?: Record<string, string>;
}

type JournalRecord = { t: 'put'; e: JournalEntry } | { t: 'del'; id: string };

function seal(key: Buffer, record: JournalRecord): Buffer {
  const plain = Buffer.from(JSON.stringify(record), 'utf8');
  const out = Buffer.allocUnsafe(4 + NONCE_SIZE + TAG_SIZE + plain.length);
  out.writeUInt32LE(NONCE_SIZE + TAG_SIZE + plain.length, 0);
  const nonce = out.subarray(4, 4 + NONCE_SIZE);
  randomNonce().copy(nonce);
  sealChunk(out.subarray(4 + NONCE_SIZE), plain, nonce, key);
  plain.fill(0);
  return out;
}

/** Replays the records in `data`; `ok` is false when a record failed to open (wrong key or damage). */
function replay(key: Buffer, data: Buffer): { entries: Map<string, JournalEntry>; ok: boolean } {
  const entries = new Map<string, JournalEntry>();
  let at = 0;
  while (at < data.length) {
    if (at + 4 > data.length) return { entries, ok: false };
    const len = data.readUInt32LE(at);
    if (len < NONCE_SIZE + TAG_SIZE || len > MAX_RECORD || at + 4 + len > data.length) return { entries, ok: false };
    const nonce = data.subarray(at + 4, at + 4 + NONCE_SIZE);
    const box = data.subarray(at + 4 + NONCE_SIZE, at + 4 + len);
    const plain = Buffer.alloc(box.length - TAG_SIZE);
    if (!openChunk(plain, box, nonce, key)) return { entries, ok: false };
    let record: JournalRecord;
    try {
      record = JSON.parse(plain.toString('utf8')) as JournalRecord;
    } catch {
      return { entries, ok: false };
    }
    if (record.t === 'put') entries.set(record.e.id, record.e);
    else if (record.t === 'del') entries.delete(record.id);
    at += 4 + len;
  }
  return { entries, ok: true };
}

/** Whether the journal in `dir` opens whole with this cache key (an empty journal does too). */
export async function journalOpensWith(dir: string, cacheKey: Buffer): Promise<boolean> {
  const data = await fsp.readFile(join(dir, 'journal')).catch(() => undefined);
  if (!data) return false;
  return replay(subKey(cacheKey, 'journal'), data).ok;
}

export class Journal {
  /** Bytes appended after which the journal is rewritten with the live records only. */
  static compactAfterBytes = 4 * 1024 * 1024;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private appended = 0;

  /** The live entries, as a replay of the file would give them. */
  private readonly live: Map<string, JournalEntry>;

  private constructor(
    private readonly file: string,
    private readonly key: Buffer,
    private handle: fsp.FileHandle,
    entries: Map<string, JournalEntry>,
  ) {
    this.live = new Map(entries);
  }

  /**
   * Opens (or creates) the journal in `dir`, returning the dirty entries it
   * lists. A journal that does not open with this key (the crypt passwords
   * changed) is set aside, not deleted, and reported. `complete` is false when
   * any record could not be read: then block files it does not list may still
   * hold someone's unsaved changes.
   */
  static async open(
    dir: string,
    cacheKey: Buffer,
  ): Promise<{ journal: Journal; entries: Map<string, JournalEntry>; complete: boolean; setAside?: string }> {
    const key = subKey(cacheKey, 'journal');
    const file = join(dir, 'journal');
    let entries = new Map<string, JournalEntry>();
    let data: Buffer | undefined;
    let complete = true;
    let setAside: string | undefined;
    try {
      data = await fsp.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (data) {
      const r = replay(key, data);
      entries = r.entries;
      if (!r.ok) {
        complete = false;
        if (r.entries.size === 0 && data.length > 0) {
          const aside = `${file}.unreadable-${Date.now()}`;
          await fsp.rename(file, aside);
          setAside = aside;
          log.error(
            `vfs cache: the journal does not open with this remote's key (were the crypt passwords changed?); ` +
              `kept as ${aside}`,
          );
        } else {
          log.error('vfs cache: the journal ends in a damaged record; using the records before it');
        }
      }
    }
    await Journal.rewrite(file, key, entries);
    const handle = await fsp.open(file, 'a', 0o600);
    return { journal: new Journal(file, key, handle, entries), entries, complete, setAside };
  }

  /** Compaction: the live records into a fresh file (temp + rename). */
  private static async rewrite(file: string, key: Buffer, entries: Map<string, JournalEntry>): Promise<void> {
    const parts = [...entries.values()].map((e) => seal(key, { t: 'put', e }));
    await writeFileAtomic(file, Buffer.concat(parts));
  }

  /** Records a dirty file's current state (replacing earlier records of the id). */
  put(entry: JournalEntry): Promise<void> {
    this.live.set(entry.id, entry);
    return this.append({ t: 'put', e: entry });
  }

  /** The file is clean (uploaded) or gone. */
  remove(id: string): Promise<void> {
    this.live.delete(id);
    return this.append({ t: 'del', id });
  }

  /** Makes the records written so far durable (for fsync). */
  sync(): Promise<void> {
    const next = this.chain.then(() => this.handle.datasync());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Closes the journal, leaving it compacted to the entries still dirty. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.handle.close();
    await Journal.rewrite(this.file, this.key, this.live);
  }

  private append(record: JournalRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.file} is closed`));
    const bytes = seal(this.key, record);
    const next = this.chain.then(async () => {
      // A record is a few hundred bytes: written from the event loop (O_APPEND, one write(2), so it
      // still lands whole), not through a thread-pool round trip (block-file.ts SYNC_WRITE_MAX).
      for (let at = 0; at < bytes.length; ) at += writeSync(this.handle.fd, bytes, at, bytes.length - at);
      this.appended += bytes.length;
      // A long-running mount writes a put and a del per file: compact now and then.
      if (this.appended > Journal.compactAfterBytes) {
        await this.handle.close();
        await Journal.rewrite(this.file, this.key, this.live);
        this.handle = await fsp.open(this.file, 'a', 0o600);
        this.appended = 0;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
