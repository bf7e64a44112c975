// An in-memory filesystem on FuseOps, for the binding's tests: a Map of
// inodes, POSIX-ish semantics (ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR,
// RENAME_NOREPLACE), and counters the tests assert on (write sizes, readdir
// offsets). Run directly (`node mem-fs.js <mountpoint>`) it mounts itself and
// prints "mounted" - the stale-mount test kills such a child with SIGKILL.
import { constants as fsc } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  AlreadyExistsError,
  DirNotEmptyError,
  IsDirectoryError,
  NotDirectoryError,
  ErrnoError,
  ObjectNotFoundError,
} from '../../../src/errors.js';
import {
  FuseSession,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  type Attr,
  type Caller,
  type CreateResult,
  type DirEntry,
  type FuseOps,
  type OpenResult,
  type SetattrChanges,
  type StatfsResult,
} from '../../../src/fuse/fuse-session.js';

const S_IFMT = fsc.S_IFMT;
const S_IFDIR = fsc.S_IFDIR;
const S_IFREG = fsc.S_IFREG;
const S_IFLNK = fsc.S_IFLNK;

interface Inode {
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** regular file: bytes [0, size) of data are the contents */
  data: Buffer;
  size: number;
  /** directory */
  children?: Map<string, bigint>;
  parent: bigint;
  target?: string;
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export class MemFs implements FuseOps {
  readonly nodes = new Map<bigint, Inode>();
  /** Sizes of every write request seen. */
  readonly writeSizes: number[] = [];
  /** Offsets of every readdir request seen. */
  readonly readdirOffsets: number[] = [];
  /** lookup of this name fails with a plain Error (answers EIO). */
  failingName = 'eio-trigger';
  forgets = 0;
  #nextIno = 2n;
  #nextFh = 1n;
  #dirSnapshots = new Map<bigint, DirEntry[]>();

  constructor() {
    const t = nowNs();
    this.nodes.set(1n, {
      ino: 1n,
      mode: S_IFDIR | 0o755,
      uid: 0,
      gid: 0,
      nlink: 2,
      atimeNs: t,
      mtimeNs: t,
      ctimeNs: t,
      data: Buffer.alloc(0),
      size: 0,
      children: new Map(),
      parent: 1n,
    });
  }

  // ---- direct (non-FUSE) helpers for tests ----

  /** Adds a node under `parent` without going through the kernel. */
  add(parent: bigint, name: string, mode: number, content?: Buffer): Inode {
    const dir = this.#dir(parent);
    const t = nowNs();
    const node: Inode = {
      ino: this.#nextIno++,
      mode,
      uid: 0,
      gid: 0,
      nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1,
      atimeNs: t,
      mtimeNs: t,
      ctimeNs: t,
      data: content ?? Buffer.alloc(0),
      size: content?.length ?? 0,
      parent,
    };
    if ((mode & S_IFMT) === S_IFDIR) {
      node.children = new Map();
      this.#node(parent).nlink++;
    }
    this.nodes.set(node.ino, node);
    dir.set(name, node.ino);
    return node;
  }

  /** The node at a slash-separated path from the root. */
  resolve(path: string): Inode | undefined {
    let node = this.#node(1n);
    for (const part of path.split('/').filter(Boolean)) {
      const ino = node.children?.get(part);
      if (ino === undefined) return undefined;
      node = this.#node(ino);
    }
    return node;
  }

  contents(path: string): Buffer | undefined {
    const node = this.resolve(path);
    return node ? node.data.subarray(0, node.size) : undefined;
  }

  // ---- internals ----

  #node(ino: bigint): Inode {
    const node = this.nodes.get(ino);
    if (!node) throw new ErrnoError('ENOENT', `no inode ${ino}`);
    return node;
  }

  #dir(ino: bigint): Map<string, bigint> {
    const node = this.#node(ino);
    if (!node.children) throw new NotDirectoryError(String(ino));
    return node.children;
  }

  #attr(node: Inode): Attr {
    return {
      ino: node.ino,
      mode: node.mode,
      nlink: node.nlink,
      uid: node.uid,
      gid: node.gid,
      size: node.size,
      atimeNs: node.atimeNs,
      mtimeNs: node.mtimeNs,
      ctimeNs: node.ctimeNs,
    };
  }

  #newNode(parent: bigint, name: string, mode: number, caller: Caller): Inode {
    const dir = this.#dir(parent);
    if (dir.has(name)) throw new AlreadyExistsError(name);
    const node = this.add(parent, name, mode);
    node.uid = caller.uid;
    node.gid = caller.gid;
    this.#touchDir(parent);
    return node;
  }

  #touchDir(ino: bigint): void {
    const node = this.#node(ino);
    node.mtimeNs = node.ctimeNs = nowNs();
  }

  #resize(node: Inode, size: number): void {
    if (size > node.data.length) {
      const grown = Buffer.alloc(Math.max(size, node.data.length * 2));
      node.data.copy(grown, 0, 0, node.size);
      node.data = grown;
    } else if (size < node.size) {
      node.data.fill(0, size, node.size);
    }
    node.size = size;
    node.mtimeNs = node.ctimeNs = nowNs();
  }

  #unlinkNode(parent: bigint, name: string): void {
    const dir = this.#dir(parent);
    const ino = dir.get(name)!;
    const node = this.#node(ino);
    dir.delete(name);
    node.nlink--;
    if (node.children) this.#node(parent).nlink--;
    node.ctimeNs = nowNs();
    this.#touchDir(parent);
  }

  // ---- FuseOps ----

  lookup(parent: bigint, name: string): Attr {
    if (name === this.failingName) throw new Error('simulated backend failure');
    const ino = this.#dir(parent).get(name);
    if (ino === undefined) throw new ObjectNotFoundError(name);
    return this.#attr(this.#node(ino));
  }

  forget(_ino: bigint, _nlookup: number): void {
    this.forgets++;
  }

  getattr(ino: bigint): Attr {
    return this.#attr(this.#node(ino));
  }

  setattr(ino: bigint, changes: SetattrChanges): Attr {
    const node = this.#node(ino);
    if (changes.size !== undefined) {
      if (node.children) throw new IsDirectoryError(String(ino));
      this.#resize(node, changes.size);
    }
    if (changes.mode !== undefined) node.mode = (node.mode & S_IFMT) | (changes.mode & 0o7777);
    if (changes.uid !== undefined) node.uid = changes.uid;
    if (changes.gid !== undefined) node.gid = changes.gid;
    if (changes.atimeNs !== undefined) node.atimeNs = changes.atimeNs;
    if (changes.mtimeNs !== undefined) node.mtimeNs = changes.mtimeNs;
    node.ctimeNs = changes.ctimeNs ?? nowNs();
    return this.#attr(node);
  }

  readlink(ino: bigint): string {
    const node = this.#node(ino);
    if (node.target === undefined) throw new ErrnoError('EINVAL');
    return node.target;
  }

  mkdir(parent: bigint, name: string, mode: number, caller: Caller): Attr {
    return this.#attr(this.#newNode(parent, name, S_IFDIR | (mode & 0o7777), caller));
  }

  symlink(target: string, parent: bigint, name: string, caller: Caller): Attr {
    const node = this.#newNode(parent, name, S_IFLNK | 0o777, caller);
    node.target = target;
    node.size = Buffer.byteLength(target);
    return this.#attr(node);
  }

  unlink(parent: bigint, name: string): void {
    const ino = this.#dir(parent).get(name);
    if (ino === undefined) throw new ObjectNotFoundError(name);
    if (this.#node(ino).children) throw new IsDirectoryError(name);
    this.#unlinkNode(parent, name);
  }

  rmdir(parent: bigint, name: string): void {
    const ino = this.#dir(parent).get(name);
    if (ino === undefined) throw new ObjectNotFoundError(name);
    const node = this.#node(ino);
    if (!node.children) throw new NotDirectoryError(name);
    if (node.children.size > 0) throw new DirNotEmptyError(name);
    this.#unlinkNode(parent, name);
  }

  rename(parent: bigint, name: string, newParent: bigint, newName: string, flags: number): void {
    const from = this.#dir(parent);
    const to = this.#dir(newParent);
    const ino = from.get(name);
    if (ino === undefined) throw new ObjectNotFoundError(name);
    const existing = to.get(newName);
    if (flags & RENAME_EXCHANGE) {
      if (existing === undefined) throw new ObjectNotFoundError(newName);
      from.set(name, existing);
      to.set(newName, ino);
      this.#node(existing).parent = parent;
      this.#node(ino).parent = newParent;
      return;
    }
    if (existing !== undefined) {
      if (flags & RENAME_NOREPLACE) throw new AlreadyExistsError(newName);
      if (existing === ino) return;
      const node = this.#node(ino);
      const target = this.#node(existing);
      if (target.children && !node.children) throw new IsDirectoryError(newName);
      if (!target.children && node.children) throw new NotDirectoryError(newName);
      if (target.children && target.children.size > 0) throw new DirNotEmptyError(newName);
      this.#unlinkNode(newParent, newName);
    }
    from.delete(name);
    to.set(newName, ino);
    const node = this.#node(ino);
    if (node.children && parent !== newParent) {
      this.#node(parent).nlink--;
      this.#node(newParent).nlink++;
    }
    node.parent = newParent;
    node.ctimeNs = nowNs();
    this.#touchDir(parent);
    this.#touchDir(newParent);
  }

  open(ino: bigint, flags: number): OpenResult {
    const node = this.#node(ino);
    if (node.children) throw new IsDirectoryError(String(ino));
    if (flags & fsc.O_TRUNC) this.#resize(node, 0);
    return { fh: this.#nextFh++ };
  }

  create(parent: bigint, name: string, mode: number, flags: number, caller: Caller): CreateResult {
    const node = this.#newNode(parent, name, S_IFREG | (mode & 0o7777), caller);
    return { fh: this.#nextFh++, attr: this.#attr(node) };
  }

  read(ino: bigint, _fh: bigint, offset: number, size: number): Uint8Array {
    const node = this.#node(ino);
    node.atimeNs = nowNs();
    if (offset >= node.size) return Buffer.alloc(0);
    return node.data.subarray(offset, Math.min(node.size, offset + size));
  }

  async write(ino: bigint, _fh: bigint, data: Buffer, offset: number): Promise<number> {
    this.writeSizes.push(data.length);
    // Answer on a later turn, like a real backend would.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const node = this.#node(ino);
    const end = offset + data.length;
    if (end > node.size) this.#resize(node, end);
    data.copy(node.data, offset);
    node.mtimeNs = node.ctimeNs = nowNs();
    return data.length;
  }

  flush(): void {}
  release(): void {}
  fsync(): void {}

  opendir(ino: bigint): OpenResult {
    const node = this.#node(ino);
    if (!node.children) throw new NotDirectoryError(String(ino));
    // Snapshot the listing: offsets stay valid while entries change.
    const entries: DirEntry[] = [
      { name: '.', ino: node.ino, mode: S_IFDIR },
      { name: '..', ino: node.parent, mode: S_IFDIR },
    ];
    for (const [name, child] of node.children) entries.push({ name, ino: child, mode: this.#node(child).mode });
    const fh = this.#nextFh++;
    this.#dirSnapshots.set(fh, entries);
    return { fh };
  }

  readdir(_ino: bigint, fh: bigint | undefined, offset: number): DirEntry[] {
    this.readdirOffsets.push(offset);
    const entries = this.#dirSnapshots.get(fh!);
    if (!entries) throw new ErrnoError('EBADF');
    return entries.slice(offset);
  }

  releasedir(_ino: bigint, fh: bigint | undefined): void {
    this.#dirSnapshots.delete(fh!);
  }

  statfs(): StatfsResult {
    return { bsize: 4096, blocks: 1_000_000, bfree: 750_000, bavail: 700_000, files: 1_000_000, ffree: 999_000 };
  }
}

// Run as a program: mount a MemFs and wait (the parent kills us), or with
// "exit" as second argument call process.exit() right after mounting.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mountpoint = process.argv[2];
  if (!mountpoint) {
    process.stderr.write('usage: mem-fs.js <mountpoint> [exit]\n');
    process.exit(2);
  }
  const fs = new MemFs();
  fs.add(1n, 'hello.txt', S_IFREG | 0o644, Buffer.from('hello\n'));
  const session = await FuseSession.mount(mountpoint, fs, { fsName: 'memfs-child' });
  process.stdout.write('mounted\n');
  if (process.argv[3] === 'exit') process.exit(0);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void session.unmount());
  await session.closed;
}
