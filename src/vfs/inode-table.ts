// Inode numbers for paths, as the FUSE frontend needs them. A path's number is
// derived from a hash of the path, so it is the same in every listing and
// across remounts; a node keeps its number when renamed (the kernel holds on to
// it), and numbers in use are never handed to another path. The kernel's
// lookup counts decide when a node is dropped (forget).
import { createHash } from 'node:crypto';
import { joinPath } from '../remote/remote.js';

export const ROOT_INO = 1n;

interface InodeNode {
  ino: bigint;
  /** Current path; undefined once unlinked or replaced (the kernel may still hold the number). */
  path: string | undefined;
  isDir: boolean;
  /** References the kernel holds (lookup, create, mkdir add one; forget drops). */
  lookups: number;
}

/** 64-bit inode number for a path: 2..2^63-1, never 0 or 1 (the root). */
export function hashInode(path: string): bigint {
  const h = createHash('sha256').update(path).digest();
  const n = h.readBigUInt64LE(0) & 0x7fff_ffff_ffff_ffffn;
  return n < 2n ? n + 2n : n;
}

export class InodeTable {
  private readonly byIno = new Map<bigint, InodeNode>();
  private readonly byPath = new Map<string, InodeNode>();

  constructor() {
    const root: InodeNode = { ino: ROOT_INO, path: '', isDir: true, lookups: 1 };
    this.byIno.set(ROOT_INO, root);
    this.byPath.set('', root);
  }

  get size(): number {
    return this.byIno.size;
  }

  /** The path of an inode, or undefined when unknown or no longer linked. */
  path(ino: bigint): string | undefined {
    return this.byIno.get(ino)?.path;
  }

  /** Path of a child name of a directory inode. */
  childPath(parent: bigint, name: string): string | undefined {
    const dir = this.path(parent);
    return dir === undefined ? undefined : joinPath(dir, name);
  }

  /** The number a path has or would get, without taking a reference (for readdir). */
  peek(path: string): bigint {
    const node = this.byPath.get(path);
    if (node) return node.ino;
    return this.freeNumber(path);
  }

  /** The number for a path with one more kernel reference (lookup, create, mkdir). */
  ref(path: string, isDir: boolean): bigint {
    let node = this.byPath.get(path);
    if (!node) {
      node = { ino: this.freeNumber(path), path, isDir, lookups: 0 };
      this.byIno.set(node.ino, node);
      this.byPath.set(path, node);
    }
    node.isDir = isDir;
    node.lookups++;
    return node.ino;
  }

  /** The kernel dropped `count` references. */
  forget(ino: bigint, count: number): void {
    if (ino === ROOT_INO) return;
    const node = this.byIno.get(ino);
    if (!node) return;
    node.lookups -= count;
    if (node.lookups > 0) return;
    this.byIno.delete(ino);
    if (node.path !== undefined && this.byPath.get(node.path) === node) this.byPath.delete(node.path);
  }

  /** The path no longer names this node (unlink, rmdir, replaced by a rename). */
  unlink(path: string): void {
    const node = this.byPath.get(path);
    if (!node || node.ino === ROOT_INO) return;
    this.byPath.delete(path);
    node.path = undefined;
    if (node.lookups <= 0) this.byIno.delete(node.ino);
  }

  /** A rename: the node at `from` (and, for a directory, every node below it) moves to `to`. */
  rename(from: string, to: string): void {
    if (from === to) return;
    this.unlink(to);
    const prefix = from + '/';
    const moved: InodeNode[] = [];
    for (const [p, node] of this.byPath) {
      if (p === from || p.startsWith(prefix)) moved.push(node);
    }
    // Targets below `to` are replaced (rename over an empty directory leaves none, but be safe).
    for (const node of moved) this.byPath.delete(node.path!);
    for (const node of moved) {
      const next = node.path === from ? to : to + node.path!.slice(from.length);
      const stale = this.byPath.get(next);
      if (stale && stale !== node) stale.path = undefined;
      node.path = next;
      this.byPath.set(next, node);
    }
  }

  private freeNumber(path: string): bigint {
    let ino = hashInode(path);
    // Collisions (or a number kept by a renamed node) move on to the next free one.
    while (this.byIno.has(ino) || ino === ROOT_INO) ino = ino >= 0x7fff_ffff_ffff_ffffn ? 2n : ino + 1n;
    return ino;
  }
}
