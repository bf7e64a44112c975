// Roots any remote at a sub-path: `bucket/dir` of an s3 remote, `a/b` of a crypt
// remote. Every path is prefixed on the way down and stripped on the way up.
import { DirNotFoundError, ObjectNotFoundError } from '../errors.js';
import type { ByteSource, HashType, ListOptions, Metadata, ReadOptions, ReadRange, ReadWithInfo, Remote, RemoteEntry, TransferOptions, WriteOptions } from './remote.js';
import { checkSegmentLengths, joinPath } from './remote.js';

export class SubRemote implements Remote {
  readonly type: string;
  readonly features;
  definitionId?: string;

  constructor(
    readonly inner: Remote,
    readonly base: string,
    readonly displayName: string = `${inner.displayName.replace(/\/$/, '')}/${base}`,
  ) {
    this.type = inner.type;
    this.features = inner.features;
    if (inner.move) this.move = (s, d, o) => inner.move!(this.down(s), this.down(d), o).then((e) => this.up(e));
    if (inner.copy) this.copy = (s, d, o) => inner.copy!(this.down(s), this.down(d), o).then((e) => this.up(e));
    if (inner.openReadWithInfo) {
      this.openReadWithInfo = (p, r, o) =>
        inner.openReadWithInfo!(this.down(p), r, o).then(
          ({ source, entry }) => ({ source, entry: this.up(entry) }),
          (err) => this.rename(err, p),
        );
    }
    if (inner.listRecursive) this.listRecursive = (d, o) => this.upEntries(inner.listRecursive!(this.down(d), o), d);
    if (inner.hash) this.hash = (p, t) => inner.hash!(this.down(p), t);
    if (inner.purge) this.purge = (d) => inner.purge!(this.down(d));
    if (inner.about) this.about = () => inner.about!();
    if (inner.close) this.close = () => inner.close!();
    if (inner.setMetadata) {
      this.setMetadata = (p, md, o) => inner.setMetadata!(this.down(p), md, o).catch((err) => this.rename(err, p));
    }
    if (inner.nameMax) this.nameMax = () => inner.nameMax!();
    if (inner.cacheKeySecret) this.cacheKeySecret = () => inner.cacheKeySecret!();
  }

  setMetadata?: (path: string, metadata: Metadata, options?: { isDir?: boolean }) => Promise<void>;
  nameMax?: () => number | undefined;
  cacheKeySecret?: () => Promise<Buffer>;

  /** The inner remote checks the whole path (for crypt, every segment of it is encrypted). */
  checkName(path: string, isDir: boolean): void {
    if (this.inner.checkName) this.inner.checkName(this.down(path), isDir);
    else checkSegmentLengths(path, this.features.maxSegmentBytes);
  }

  move?: (src: string, dst: string, options?: TransferOptions) => Promise<RemoteEntry>;
  copy?: (src: string, dst: string, options?: TransferOptions) => Promise<RemoteEntry>;
  openReadWithInfo?: (path: string, range?: ReadRange, options?: ReadOptions) => Promise<ReadWithInfo>;
  hash?: (path: string, type: HashType) => Promise<string | undefined>;
  purge?: (dir: string) => Promise<void>;
  about?: () => Promise<{ total?: number; used?: number; free?: number }>;
  close?: () => Promise<void>;

  private down(path: string): string {
    return joinPath(this.base, path);
  }

  private strip(path: string): string {
    if (path === this.base) return '';
    return path.startsWith(this.base + '/') ? path.slice(this.base.length + 1) : path;
  }

  private up(e: RemoteEntry): RemoteEntry {
    return { ...e, path: this.strip(e.path) };
  }

  /** Errors name the path the user gave, not the prefixed one. */
  private rename(err: unknown, path: string): never {
    if (err instanceof ObjectNotFoundError) throw new ObjectNotFoundError(path || this.base, { cause: err });
    if (err instanceof DirNotFoundError) throw new DirNotFoundError(path || this.base, { cause: err });
    throw err;
  }

  list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    return this.upEntries(this.inner.list(this.down(dir), options), dir);
  }

  listRecursive?: (dir: string, options?: ListOptions) => AsyncIterable<RemoteEntry>;

  /** The inner remote's listing of `dir`, in this remote's paths. */
  private async *upEntries(entries: AsyncIterable<RemoteEntry>, dir: string): AsyncIterable<RemoteEntry> {
    try {
      for await (const e of entries) yield this.up(e);
    } catch (err) {
      this.rename(err, dir);
    }
  }

  stat(path: string): Promise<RemoteEntry> {
    return this.inner.stat(this.down(path)).then(
      (e) => this.up(e),
      (err) => this.rename(err, path),
    );
  }

  openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    return this.inner.openRead(this.down(path), range, options).catch((err) => this.rename(err, path));
  }

  write(path: string, source: ByteSource, options?: WriteOptions): Promise<RemoteEntry> {
    return this.inner.write(this.down(path), source, options).then((e) => this.up(e));
  }

  delete(path: string): Promise<void> {
    return this.inner.delete(this.down(path)).catch((err) => this.rename(err, path));
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(this.down(dir));
  }

  rmdir(dir: string): Promise<void> {
    return this.inner.rmdir(this.down(dir)).catch((err) => this.rename(err, dir));
  }

  setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    return this.inner.setMtime(this.down(path), mtime, mtimeNs).catch((err) => this.rename(err, path));
  }
}
