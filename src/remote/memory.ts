// An in-memory remote with object-store semantics (directories are prefixes,
// plus explicitly made empty ones). For unit tests of the layers above.
import { createHash } from 'node:crypto';
import {
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  ObjectNotFoundError,
} from '../errors.js';
import { abortable, throwIfAborted } from '../abort.js';
import { registerBackend } from './registry.js';
import type { ByteSource, HashType, ListOptions, ReadOptions, ReadRange, ReadWithInfo, Remote, RemoteEntry, RemoteFeatures, TransferOptions, WriteOptions } from './remote.js';
import { parentPath } from './remote.js';
import { mergeMetadata, type Metadata } from './metadata.js';

interface MemoryObject {
  data: Buffer;
  mtime: Date;
  /** User metadata, as an object store keeps it (never for directories). */
  metadata?: Metadata;
}

export class MemoryRemote implements Remote {
  readonly type = 'memory';
  readonly features: RemoteFeatures = {
    realDirectories: false,
    hashes: ['md5', 'sha1'],
    caseInsensitive: false,
  };
  readonly objects = new Map<string, MemoryObject>();
  readonly dirs = new Set<string>();

  constructor(readonly displayName = ':memory:') {}

  private dirExists(dir: string): boolean {
    if (dir === '' || this.dirs.has(dir)) return true;
    const prefix = dir + '/';
    for (const k of this.objects.keys()) if (k.startsWith(prefix)) return true;
    for (const d of this.dirs) if (d.startsWith(prefix)) return true;
    return false;
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    throwIfAborted(options.signal);
    if (!this.dirExists(dir)) throw new DirNotFoundError(dir);
    const prefix = dir === '' ? '' : dir + '/';
    const subdirs = new Set<string>();
    const out: RemoteEntry[] = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) out.push({ path: k, isDir: false, size: o.data.length, mtime: o.mtime, metadata: o.metadata });
      else subdirs.add(prefix + rest.slice(0, slash));
    }
    for (const d of this.dirs) {
      if (!d.startsWith(prefix)) continue;
      const rest = d.slice(prefix.length);
      if (rest === '') continue;
      const slash = rest.indexOf('/');
      subdirs.add(prefix + (slash < 0 ? rest : rest.slice(0, slash)));
    }
    for (const d of subdirs) out.push({ path: d, isDir: true, size: -1, mtime: new Date(0) });
    for (const e of out) {
      throwIfAborted(options.signal);
      yield e;
    }
  }

  async stat(path: string): Promise<RemoteEntry> {
    const o = this.objects.get(path);
    if (o) return { path, isDir: false, size: o.data.length, mtime: o.mtime, metadata: o.metadata };
    if (this.dirExists(path)) return { path, isDir: true, size: -1, mtime: new Date(0) };
    throw new ObjectNotFoundError(path);
  }

  async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    return (await this.openReadWithInfo(path, range, options)).source;
  }

  async openReadWithInfo(path: string, range?: ReadRange, options: ReadOptions = {}): Promise<ReadWithInfo> {
    throwIfAborted(options.signal);
    const o = this.objects.get(path);
    if (!o) {
      if (this.dirExists(path)) throw new IsDirectoryError(path);
      throw new ObjectNotFoundError(path);
    }
    const start = Math.min(range?.offset ?? 0, o.data.length);
    const end = range?.length === undefined ? o.data.length : Math.min(o.data.length, start + range.length);
    const slice = o.data.subarray(start, end);
    const pieces = (async function* () {
      // Odd-sized pieces, as a network would deliver them.
      for (let i = 0; i < slice.length; i += 40_000) yield slice.subarray(i, i + 40_000);
    })();
    const source = abortable(pieces, options.signal);
    return { source, entry: { path, isDir: false, size: o.data.length, mtime: o.mtime, metadata: o.metadata } };
  }

  async write(path: string, source: ByteSource, options: WriteOptions = {}): Promise<RemoteEntry> {
    if (this.dirExists(path) && !this.objects.has(path)) throw new IsDirectoryError(path);
    throwIfAborted(options.signal);
    const parts: Buffer[] = [];
    // Aborted midway: nothing is stored, as for a source that fails.
    for await (const c of abortable(source, options.signal)) parts.push(Buffer.from(c));
    const given = options.lateMetadata ? { ...options.metadata, ...(await options.lateMetadata()) } : options.metadata;
    for (const [k, v] of Object.entries(given ?? {})) if (v === '') delete given![k];
    const metadata = given && Object.keys(given).length > 0 ? { ...given } : undefined;
    if (metadata) delete metadata.mtime;
    const o = { data: Buffer.concat(parts), mtime: options.mtime ?? new Date(), metadata };
    this.objects.set(path, o);
    return { path, isDir: false, size: o.data.length, mtime: o.mtime, metadata: o.metadata };
  }

  async delete(path: string): Promise<void> {
    if (!this.objects.delete(path)) throw new ObjectNotFoundError(path);
  }

  async mkdir(dir: string): Promise<void> {
    if (dir !== '') this.dirs.add(dir);
  }

  async rmdir(dir: string): Promise<void> {
    if (!this.dirExists(dir)) throw new DirNotFoundError(dir);
    for await (const _ of this.list(dir)) throw new DirNotEmptyError(dir);
    this.dirs.delete(dir);
  }

  async setMtime(path: string, mtime: Date): Promise<void> {
    const o = this.objects.get(path);
    if (!o) throw new ObjectNotFoundError(path);
    o.mtime = mtime;
  }

  async setMetadata(path: string, metadata: Metadata, options: { isDir?: boolean } = {}): Promise<void> {
    if (options.isDir) throw new IsDirectoryError(path);
    const o = this.objects.get(path);
    if (!o) throw new ObjectNotFoundError(path);
    o.metadata = mergeMetadata(o.metadata, metadata);
  }

  async move(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const e = await this.copy(src, dst, options);
    if (src !== dst) this.objects.delete(src);
    return e;
  }

  async copy(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const o = this.objects.get(src);
    if (!o) throw new ObjectNotFoundError(src);
    const metadata = options.metadata ? mergeMetadata(o.metadata, options.metadata) : o.metadata;
    this.objects.set(dst, { data: o.data, mtime: o.mtime, metadata });
    if (parentPath(dst) !== '') this.dirs.add(parentPath(dst));
    return { path: dst, isDir: false, size: o.data.length, mtime: o.mtime, metadata };
  }

  async hash(path: string, type: HashType): Promise<string | undefined> {
    const o = this.objects.get(path);
    if (!o) throw new ObjectNotFoundError(path);
    return createHash(type).update(o.data).digest('hex');
  }
}

// Shared stores, so that `mem:` opened twice in one process sees the same data.
const stores = new Map<string, MemoryRemote>();

registerBackend({
  type: 'memory',
  description: 'In memory object storage (for tests)',
  options: [],
  async create(ctx) {
    let r = stores.get(ctx.name);
    if (!r) stores.set(ctx.name, (r = new MemoryRemote(`${ctx.name}:`)));
    return r;
  },
});
