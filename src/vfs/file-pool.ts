// A bounded set of open file descriptors shared by the cache's block files.
//
// A mount can have tens of thousands of files waiting for upload; holding one
// descriptor per pending file would run into RLIMIT_NOFILE (EMFILE for every
// later create, and for the logger). Block files therefore open on use and the
// least recently used idle descriptors are closed once more than `max` are open.
import * as fsp from 'node:fs/promises';

/** One file whose descriptor the pool opens on demand (flags 'r+': the file exists). */
export class PooledFile {
  /** The open descriptor, while the pool keeps one. */
  fh: fsp.FileHandle | undefined;
  /** Operations running on the descriptor: it is never closed under them. */
  users = 0;
  opening: Promise<fsp.FileHandle> | undefined;
  closed = false;

  constructor(
    readonly path: string,
    private readonly pool: FilePool,
  ) {}

  /** Runs `fn` with an open descriptor of the file. */
  use<T>(fn: (fh: fsp.FileHandle) => Promise<T>): Promise<T> {
    return this.pool.use(this, fn);
  }

  /** Closes the descriptor (if open) for good. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool.forget(this);
  }
}

export class FilePool {
  /** Files with an open descriptor, least recently used first (Map keeps insertion order). */
  private readonly open = new Map<PooledFile, true>();

  constructor(readonly max = 128) {}

  /** A file of the pool; `fh`, when given, is an already open descriptor of it. */
  add(path: string, fh?: fsp.FileHandle): PooledFile {
    const file = new PooledFile(path, this);
    if (fh) {
      file.fh = fh;
      this.open.set(file, true);
      void this.trim();
    }
    return file;
  }

  get openCount(): number {
    return this.open.size;
  }

  async use<T>(file: PooledFile, fn: (fh: fsp.FileHandle) => Promise<T>): Promise<T> {
    if (file.closed) throw new Error(`${file.path}: file is closed`);
    file.users++;
    try {
      const fh = file.fh ?? (await this.reopen(file));
      // Most recently used goes last.
      this.open.delete(file);
      this.open.set(file, true);
      return await fn(fh);
    } finally {
      file.users--;
      if (file.closed) await this.forget(file);
      else void this.trim();
    }
  }

  async forget(file: PooledFile): Promise<void> {
    if (file.users > 0) return; // the last user closes it
    const fh = file.fh ?? (await file.opening?.catch(() => undefined));
    file.fh = undefined;
    this.open.delete(file);
    await fh?.close().catch(() => undefined);
  }

  private reopen(file: PooledFile): Promise<fsp.FileHandle> {
    file.opening ??= (async () => {
      try {
        let fh: fsp.FileHandle;
        try {
          fh = await fsp.open(file.path, 'r+');
        } catch (err) {
          // Out of descriptors: give back every idle one and try once more.
          if ((err as NodeJS.ErrnoException).code !== 'EMFILE' && (err as NodeJS.ErrnoException).code !== 'ENFILE') throw err;
          await this.trim(0);
          fh = await fsp.open(file.path, 'r+');
        }
        file.fh = fh;
        this.open.set(file, true);
        return fh;
      } finally {
        file.opening = undefined;
      }
    })();
    return file.opening;
  }

  /** Closes idle descriptors, least recently used first, until at most `keep` are open. */
  private async trim(keep = this.max): Promise<void> {
    if (this.open.size <= keep) return;
    const closing: Promise<void>[] = [];
    for (const file of this.open.keys()) {
      if (this.open.size <= keep) break;
      if (file.users > 0 || !file.fh) continue;
      const fh = file.fh;
      file.fh = undefined;
      this.open.delete(file);
      closing.push(fh.close().catch(() => undefined));
    }
    await Promise.all(closing);
  }
}
