// Random file trees for interop tests: awkward names (unicode in NFC and NFD,
// CJK, emoji, spaces, punctuation, names at the encrypted-length limits),
// chunk-boundary sizes and nested directories, with random contents and
// sub-millisecond modification times. Everything derives from one seed, so a
// failing run can be repeated with the seed it printed.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Deterministic random numbers and bytes from a seed (AES-256-CTR keystream). */
export class SeededRandom {
  private readonly stream;
  private pool = Buffer.alloc(0);
  private pos = 0;

  constructor(readonly seed: string) {
    const key = createHash('sha256').update(`cryptfs-tree:${seed}`).digest();
    this.stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** A fresh random seed, or $CRYPTFS_TEST_SEED to repeat a run. */
  static newSeed(): string {
    return process.env.CRYPTFS_TEST_SEED || randomBytes(8).toString('hex');
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.pool.length) {
      const rest = this.pool.subarray(this.pos);
      this.pool = Buffer.concat([rest, this.stream.update(Buffer.alloc(Math.max(4096, n)))]);
      this.pos = 0;
    }
    const out = this.pool.subarray(this.pos, this.pos + n);
    this.pos += n;
    return Buffer.from(out);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return this.bytes(4).readUInt32LE() % n;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A child generator whose output depends only on this seed and `label`. */
  fork(label: string): SeededRandom {
    return new SeededRandom(`${this.seed}/${label}`);
  }
}

/** A file to create: path relative to the tree root ('/'-separated) and size in bytes. */
export interface TreeFileSpec {
  path: string;
  size: number;
}

/** A file as found on disk. */
export interface TreeFile {
  path: string;
  size: number;
  sha256: string;
  /** Modification time in nanoseconds since the epoch, as the file system keeps it. */
  mtimeNs: bigint;
}

export interface Tree {
  root: string;
  /** Files sorted by path (code unit order). */
  files: TreeFile[];
  /** Directories (relative paths) sorted. */
  dirs: string[];
}

export const MiB = 1024 * 1024;
export const CHUNK = 65536;

/** The chunk-boundary sizes every interop tree holds. */
export const BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * MiB + 17] as const;

/**
 * An ASCII-and-CJK name of exactly `bytes` UTF-8 bytes, unique by `tag`.
 * `cjk` fills with 3-byte characters as far as possible.
 */
export function nameOfBytes(bytes: number, tag: string, cjk = false): string {
  let name = `${tag}-`;
  if (cjk) while (Buffer.byteLength(name) + 3 <= bytes) name += '漢';
  while (Buffer.byteLength(name) < bytes) name += 'n';
  if (Buffer.byteLength(name) !== bytes) throw new Error(`cannot make a ${bytes}-byte name from tag ${tag}`);
  return name;
}

/**
 * Names every tree holds, each valid on every tool and backend involved. Left out on purpose:
 * control characters and the look-alike characters rclone's local backend uses to encode
 * them (U+2400 block, full-width '/', '.', the U+201B quote), since those are rewritten by
 * rclone's local backend and are covered by their own test.
 */
export const AWKWARD_NAMES: readonly string[] = [
  'plain.txt',
  'with space.txt',
  ' leading space',
  'trailing space ',
  '  two  inner  and  outer  ',
  '   ',
  'UPPER lower MiXeD.TXT',
  'dots.in.the.middle.tar.gz',
  'trailing dot.',
  '.hidden',
  '..two leading dots',
  '-starts-with-dash',
  'bang!name!!',
  `quote's "double"`,
  'back\\slash',
  'colon:star*question?',
  '<angle>|pipe',
  '#hash %percent &amp; +plus =eq @at',
  '[brackets] {braces} (parens)',
  '~tilde`grave^caret',
  'caf\u00e9 na\u00efve r\u00e9sum\u00e9', // NFC
  '\u00f1and\u00fa \u00c0\u00ff\u00de\u00a0nbsp', // Latin-1 incl. no-break space
  '日本語のファイル名.txt',
  '中文目录文件',
  '한국어 파일',
  'Ωμέγα Ελληνικά',
  'кириллица файл',
  'עברית ערבית العربية',
  '😀🎉 party 🦄.bin',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral 𐍈',
  'report-v2021-01-01-000000-000.pdf', // rclone's version-suffix rule applies
  'not-a-version-v2021-13-01-000000-000.pdf', // month 13: encrypted whole
];

/**
 * Names with characters of the U+2000 block. Obfuscation rotates them within that block; when
 * one lands on U+201B, rclone's own local backend cannot read the file back (it takes U+201B
 * for its escape character: rclone issue 6098), so these go only into non-obfuscated trees.
 */
export const U2000_BLOCK_NAMES: readonly string[] = ['👩‍👩‍👧‍👦 family zwj', 'euro € and ‰ per mille'];

/** The same words in NFC and in NFD form: distinct names on Linux. */
export const NFC_NFD_PAIRS: readonly [string, string][] = [
  ['café.txt'.normalize('NFC'), 'café.txt'.normalize('NFD')],
  ['Ångström Årsta'.normalize('NFC'), 'Ångström Årsta'.normalize('NFD')],
  ['한글'.normalize('NFC'), '한글'.normalize('NFD')],
];

const RANDOM_PIECES = [
  'a', 'b', 'z', 'Q', '0', '7', ' ', ' ', '-', '_', '.', ',', '!', '+', '(', ')', "'",
  'é', 'ß', 'ø', 'Ж', 'λ', '語', '字', '😀', '🚀', 'ä', 'ñ', '한', 'ÿ', '\u0301',
];

/** A random name of at most `maxBytes` UTF-8 bytes that any tool accepts. */
export function randomName(rng: SeededRandom, maxBytes = 60): string {
  for (;;) {
    let name = '';
    const len = 1 + rng.int(24);
    for (let i = 0; i < len; i++) name += rng.pick(RANDOM_PIECES);
    if (name === '.' || name === '..' || /^\u0301/.test(name)) continue;
    if (Buffer.byteLength(name) <= maxBytes) return name;
  }
}

export interface InteropTreeOptions {
  /** Extra files (e.g. names at one encoding's length limit). */
  extra?: TreeFileSpec[];
  /** How many random-named files to add (default 12). */
  randomFiles?: number;
}

/**
 * The files of an interop tree. Names of at most 143 bytes, so that the tree fits every
 * name mode and encoding over a 255-byte file system; no empty directories (copy does not
 * create them by default).
 */
export function interopTreeSpec(rng: SeededRandom, opts: InteropTreeOptions = {}): TreeFileSpec[] {
  const files: TreeFileSpec[] = [];
  const small = () => rng.int(300);
  for (const size of BOUNDARY_SIZES) files.push({ path: `sizes/size-${size}`, size });
  files.push({ path: 'top level file.txt', size: 1000 + rng.int(5000) });
  for (const name of AWKWARD_NAMES) files.push({ path: `names/${name}`, size: small() });
  // Awkward directory names, each holding one file, two levels down.
  for (const name of AWKWARD_NAMES.slice(0, 12)) files.push({ path: `dirs/${name}/${name}/f`, size: small() });
  for (const [nfc, nfd] of NFC_NFD_PAIRS) {
    files.push({ path: `nfc/${nfc}`, size: small() });
    files.push({ path: `nfd/${nfd}`, size: small() });
    files.push({ path: `nfc-dir/${nfc}/x`, size: small() });
    files.push({ path: `nfd-dir/${nfd}/x`, size: small() });
  }
  files.push({ path: 'deep/1/2/3/4/5/6/7/8/leaf.bin', size: CHUNK + 1 + rng.int(CHUNK) });
  // 143 bytes: the longest name base32 fits into 255 characters.
  files.push({ path: `long/${nameOfBytes(143, 'ascii143')}`, size: small() });
  files.push({ path: `long/${nameOfBytes(143, 'cjk143', true)}`, size: small() });
  files.push({ path: `long/${nameOfBytes(143, 'dir143')}/${nameOfBytes(143, 'inner143')}`, size: small() });
  const seen = new Set(files.map((f) => f.path));
  const count = opts.randomFiles ?? 12;
  for (let i = 0; i < count; i++) {
    const depth = rng.int(3);
    const parts = ['random'];
    for (let d = 0; d < depth; d++) parts.push(randomName(rng, 40));
    parts.push(randomName(rng));
    const path = parts.join('/');
    if (seen.has(path) || [...seen].some((p) => p.startsWith(path + '/'))) continue;
    seen.add(path);
    files.push({ path, size: rng.int(3) === 0 ? rng.int(3 * CHUNK) : rng.int(2000) });
  }
  for (const f of opts.extra ?? []) files.push(f);
  return files;
}

/** A random modification time between 2001 and 2035 with microsecond digits. */
function randomMtimeSeconds(rng: SeededRandom): number {
  const base = 978_307_200; // 2001-01-01
  return base + rng.int(1_080_000_000) + rng.int(1_000_000) / 1e6;
}

/** Writes random contents for `specs` under `root` and returns the tree as it landed on disk. */
export async function writeTree(root: string, specs: TreeFileSpec[], rng: SeededRandom): Promise<Tree> {
  for (const spec of specs) {
    const file = join(root, ...spec.path.split('/'));
    await fsp.mkdir(dirname(file), { recursive: true });
    const data = rng.fork(`data:${spec.path}`);
    const fh = await fsp.open(file, 'wx');
    try {
      for (let done = 0; done < spec.size; ) {
        const n = Math.min(MiB, spec.size - done);
        await fh.write(data.bytes(n));
        done += n;
      }
    } finally {
      await fh.close();
    }
    const t = randomMtimeSeconds(rng);
    await fsp.utimes(file, t, t);
  }
  return readTree(root);
}

/** Hard-links every file of `tree` under `toRoot` (same contents and times, no copying). */
export async function linkTree(tree: Tree, toRoot: string): Promise<void> {
  for (const f of tree.files) {
    const dst = join(toRoot, ...f.path.split('/'));
    await fsp.mkdir(dirname(dst), { recursive: true });
    await fsp.link(join(tree.root, ...f.path.split('/')), dst);
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads the files and directories under `root`. */
export async function readTree(root: string): Promise<Tree> {
  const files: TreeFile[] = [];
  const dirs: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await fsp.readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      const abs = join(root, path);
      if (e.isDirectory()) {
        dirs.push(path);
        await visit(path);
      } else if (e.isFile()) {
        const st = await fsp.stat(abs, { bigint: true });
        files.push({ path, size: Number(st.size), sha256: await sha256File(abs), mtimeNs: st.mtimeNs });
      } else {
        throw new Error(`unexpected non-regular file in tree: ${abs}`);
      }
    }
  };
  await visit('');
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  dirs.sort();
  return { root, files, dirs };
}

export interface DiffOptions {
  /** Allowed modification time difference in ns; undefined = do not compare times. */
  mtimeToleranceNs?: bigint;
}

/** Differences between two trees, one line each; empty when they match. */
export function diffTrees(expected: Tree, actual: Tree, opts: DiffOptions = {}): string[] {
  const out: string[] = [];
  const got = new Map(actual.files.map((f) => [f.path, f]));
  for (const want of expected.files) {
    const f = got.get(want.path);
    if (!f) {
      out.push(`missing file ${JSON.stringify(want.path)}`);
      continue;
    }
    got.delete(want.path);
    if (f.size !== want.size) out.push(`${JSON.stringify(want.path)}: size ${f.size}, want ${want.size}`);
    else if (f.sha256 !== want.sha256) out.push(`${JSON.stringify(want.path)}: contents differ`);
    if (opts.mtimeToleranceNs !== undefined) {
      const d = f.mtimeNs > want.mtimeNs ? f.mtimeNs - want.mtimeNs : want.mtimeNs - f.mtimeNs;
      if (d >= opts.mtimeToleranceNs) {
        out.push(`${JSON.stringify(want.path)}: mtime ${f.mtimeNs} ns differs from ${want.mtimeNs} ns by ${d} ns`);
      }
    }
  }
  for (const p of got.keys()) out.push(`unexpected file ${JSON.stringify(p)}`);
  const wantDirs = new Set(expected.dirs);
  for (const d of actual.dirs) if (!wantDirs.has(d)) out.push(`unexpected directory ${JSON.stringify(d)}`);
  const gotDirs = new Set(actual.dirs);
  for (const d of expected.dirs) if (!gotDirs.has(d)) out.push(`missing directory ${JSON.stringify(d)}`);
  return out;
}

/** rclone's `ls` lines for a tree ("%9d %s"), sorted. */
export function expectedLsLines(tree: Tree): string[] {
  return tree.files.map((f) => `${String(f.size).padStart(9)} ${f.path}`).sort();
}
