// Interop with the real rclone, both directions, for every crypt name mode and
// encoding: rclone writes → cryptfs ls/lsl/lsf/cat/copy; cryptfs writes → rclone
// copy/cryptcheck/ls; cryptdecode both ways. Trees are freshly generated from a
// random seed (printed; set CRYPTFS_TEST_SEED to repeat a run).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeRun,
  expectSuccess,
  rcloneSkipReason,
  runCryptfs,
  runRclone,
  type RunResult,
} from '../../helpers/cli.js';
import {
  SeededRandom,
  diffTrees,
  expectedLsLines,
  interopTreeSpec,
  linkTree,
  nameOfBytes,
  randomName,
  readTree,
  sha256,
  writeTree,
  U2000_BLOCK_NAMES,
  type Tree,
  type TreeFileSpec,
} from '../../helpers/trees.js';

/** One crypt remote configuration under test. */
interface Variant {
  name: string;
  options: Record<string, string>;
  /** Omit password2 from the config. */
  noPassword2?: boolean;
  /** Extra files at this variant's name-length limit, which must work both ways. */
  okAtLimit: TreeFileSpec[];
  /**
   * Also store names whose encrypted form holds characters rclone's local backend writes to
   * disk differently (base32768 output can contain U+2400-U+241F, stored as control bytes).
   */
  controlPictureNames?: boolean;
  /** Plain paths that cannot be stored (encrypted segment > 255 bytes): refused before writing. */
  tooLong: string[];
}

const MS_NS = 1_000_000n;
// Both tools print times in the local zone; pin it so parsing is exact.
const ENV = { TZ: 'UTC' };

function variants(): Variant[] {
  const out: Variant[] = [];
  const limitFor: Record<string, { ok?: number; tooLong: number }> = {
    base32: { tooLong: 144 }, // 143 is in every tree
    base64: { ok: 175, tooLong: 176 },
    // 143 is in every tree; characters take 2 or 3 bytes, so there is no fixed boundary, but
    // 255 bytes (the most a source file system holds) always need ≥ 137 characters = 274 bytes.
    base32768: { tooLong: 255 },
  };
  for (const encoding of ['base32', 'base64', 'base32768']) {
    for (const dirEnc of [true, false]) {
      const lim = limitFor[encoding];
      const tooLong = [`limit/${nameOfBytes(lim.tooLong, 'toolong')}`];
      if (dirEnc) tooLong.push(`limit/${nameOfBytes(lim.tooLong, 'toolongdir')}/f`);
      out.push({
        name: `std_${encoding}_${dirEnc ? 'dir' : 'nodir'}`,
        options: {
          filename_encryption: 'standard',
          filename_encoding: encoding,
          directory_name_encryption: String(dirEnc),
        },
        okAtLimit: lim.ok ? [{ path: `limit/${nameOfBytes(lim.ok, 'atlimit')}`, size: 77 }] : [],
        controlPictureNames: encoding === 'base32768',
        tooLong,
      });
    }
  }
  for (const dirEnc of [true, false]) {
    // "<sum mod 256>." is prepended: 250 bytes always fit, 255 never do.
    out.push({
      name: `obf_${dirEnc ? 'dir' : 'nodir'}`,
      options: { filename_encryption: 'obfuscate', directory_name_encryption: String(dirEnc) },
      okAtLimit: [{ path: `limit/${nameOfBytes(250, 'atlimit')}`, size: 77 }],
      tooLong: [`limit/${nameOfBytes(255, 'toolong')}`, ...(dirEnc ? [`limit/${nameOfBytes(255, 'toolongdir')}/f`] : [])],
    });
    // Off: ".bin" is appended to file names only.
    out.push({
      name: `off_${dirEnc ? 'dir' : 'nodir'}`,
      options: { filename_encryption: 'off', directory_name_encryption: String(dirEnc) },
      okAtLimit: [{ path: `limit/${nameOfBytes(251, 'atlimit')}`, size: 77 }],
      tooLong: [`limit/${nameOfBytes(252, 'toolong')}`],
    });
  }
  out.push({
    name: 'nodata',
    options: { filename_encryption: 'standard', filename_encoding: 'base32', no_data_encryption: 'true' },
    okAtLimit: [],
    tooLong: [`limit/${nameOfBytes(144, 'toolong')}`],
  });
  out.push({
    name: 'nopass2',
    options: { filename_encryption: 'standard', filename_encoding: 'base32', directory_name_encryption: 'true' },
    noPassword2: true,
    okAtLimit: [],
    tooLong: [`limit/${nameOfBytes(144, 'toolong')}`],
  });
  return out;
}

interface Setup {
  tmp: string;
  config: string;
  rng: SeededRandom;
  common: Tree;
  /** Source tree per variant: the common tree (hard links) plus its files at the limit. */
  src: Map<string, Tree>;
  /** Underlying (encrypted) directory per variant. */
  enc: Map<string, string>;
}

async function obscureWithRclone(password: string): Promise<string> {
  const r = expectSuccess('rclone obscure', await runRclone(['obscure', '-'], { input: password + '\n' }));
  return r.stdout.toString('utf8').trim();
}

/** A random password of printable characters (some non-ASCII), never empty. */
function randomPassword(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#%&()*+,-.:;<=>?@[]^_{}~éß語😀';
  const chars = [...alphabet];
  return [...randomBytes(24)].map((b) => chars[b % chars.length]).join('');
}

/** Characters rclone's local backend stores differently from how crypt produced them. */
const BACKEND_ENCODED = /[\u2400-\u241f\u2421]/;

/** `want` random names whose encryption by `remote` (rclone's own) contains BACKEND_ENCODED characters. */
async function namesEncryptingToControlPictures(
  config: string,
  remote: string,
  rng: SeededRandom,
  want: number,
): Promise<string[]> {
  const found: string[] = [];
  for (let round = 0; round < 200 && found.length < want; round++) {
    const candidates = Array.from({ length: 10 }, (_, i) => `cp${round}.${i} ${randomName(rng, 30)}`);
    const r = await runRclone(['cryptdecode', '--reverse', '--', `${remote}:`, ...candidates], { config });
    for (const line of lines(expectSuccess('rclone cryptdecode --reverse', r))) {
      const [plain, encrypted] = line.split(' \t ');
      if (BACKEND_ENCODED.test(encrypted)) found.push(plain);
    }
  }
  assert.ok(found.length >= want, `no name of ${remote} encrypts to a control picture in 2000 tries`);
  return found.slice(0, want);
}

async function setUp(all: Variant[]): Promise<Setup> {
  const tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-interop-'));
  const seed = SeededRandom.newSeed();
  console.log(`# interop tree seed ${seed} (CRYPTFS_TEST_SEED=${seed} repeats it)`);
  const rng = new SeededRandom(seed);
  const enc = new Map<string, string>();
  const sections = await Promise.all(
    all.map(async (v) => {
      const dir = join(tmp, 'enc', v.name);
      await fsp.mkdir(dir, { recursive: true });
      enc.set(v.name, dir);
      const lines = [`[${v.name}]`, 'type = crypt', `remote = ${dir}`];
      lines.push(`password = ${await obscureWithRclone(randomPassword())}`);
      if (!v.noPassword2) lines.push(`password2 = ${await obscureWithRclone(randomPassword())}`);
      for (const [k, val] of Object.entries(v.options)) lines.push(`${k} = ${val}`);
      return lines.join('\n');
    }),
  );
  const config = join(tmp, 'rclone.conf');
  await fsp.writeFile(config, sections.join('\n\n') + '\n', { mode: 0o600 });

  const common = await writeTree(join(tmp, 'common'), interopTreeSpec(rng.fork('common')), rng.fork('common-data'));
  const src = new Map<string, Tree>();
  await Promise.all(
    all.map(async (v) => {
      const root = join(tmp, 'src', v.name);
      await linkTree(common, root);
      const extra = [...v.okAtLimit];
      if (v.options.filename_encryption !== 'obfuscate') {
        for (const name of U2000_BLOCK_NAMES) extra.push({ path: `names/${name}`, size: 99 });
      }
      if (v.controlPictureNames) {
        const [file, dir] = await namesEncryptingToControlPictures(config, v.name, rng.fork(`cp-${v.name}`), 2);
        extra.push({ path: `ctlpic/${file}`, size: 33 }, { path: `ctlpic-dir/${dir}/f`, size: 34 });
      }
      await writeTree(root, extra, rng.fork(`extra-${v.name}`));
      src.set(v.name, await readTree(root));
    }),
  );
  return { tmp, config, rng, common, src, enc };
}

function lines(r: RunResult): string[] {
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

interface LslEntry {
  size: number;
  mtimeNs: bigint;
  path: string;
}

/** Parses rclone's lsl lines: "%9d YYYY-MM-DD HH:MM:SS.nnnnnnnnn path" (times in UTC here). */
function parseLsl(r: RunResult): Map<string, LslEntry> {
  const out = new Map<string, LslEntry>();
  for (const line of lines(r)) {
    const m = /^ *(\d+) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{9}) (.*)$/.exec(line);
    assert.ok(m, `lsl line not in rclone's format: ${JSON.stringify(line)}`);
    const ms = Date.parse(`${m[2]}T${m[3]}Z`);
    out.set(m[5], { size: Number(m[1]), mtimeNs: BigInt(ms) * MS_NS + BigInt(m[4]), path: m[5] });
  }
  return out;
}

function absDiff(a: bigint, b: bigint): bigint {
  return a > b ? a - b : b - a;
}

/** Relative paths of every file under `dir` (the underlying, encrypted, view). */
async function underlyingFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string) => {
    for (const e of await fsp.readdir(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(p);
      else out.push(p);
    }
  };
  await visit('');
  return out.sort();
}

/** A snapshot of an underlying directory: every entry with its size, to prove nothing was written. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string) => {
    for (const e of await fsp.readdir(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${p}/`);
        await visit(p);
      } else out.push(`${p} ${(await fsp.stat(join(dir, p))).size}`);
    }
  };
  await visit('');
  return out.sort();
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Files to `cat` one by one: every boundary size, the long names, and a rotating few others. */
function catSelection(tree: Tree, index: number): string[] {
  const pick = new Set<string>();
  for (const f of tree.files) {
    if (f.path.startsWith('sizes/') || f.path.startsWith('limit/') || f.path.startsWith('long/')) pick.add(f.path);
  }
  const others = tree.files.filter((f) => !pick.has(f.path));
  for (let i = 0; i < 4; i++) pick.add(others[(index * 4 + i * 7) % others.length].path);
  return [...pick];
}

const skip = rcloneSkipReason();
const ALL = variants();
/** A remote of its own for the names rclone's local backend rewrites, so no other test sees them. */
const CTL: Variant = {
  name: 'ctlnames',
  options: { filename_encryption: 'standard', filename_encoding: 'base32' },
  okAtLimit: [],
  tooLong: [],
};
/**
 * rclone keeps names internally in its "Standard" encoding: its local backend maps control
 * characters to U+2400+c and DEL to U+2421 (quoting literal look-alikes with U+201B), and crypt
 * encrypts that form. A tool that encrypts the raw on-disk name stores a different object name.
 */
const CTL_NAMES = ['tab\there', 'bell\u0007 and \u0001', 'del\u007fx', 'literal \u2409 symbol', 'full\uff0fwidth slash'];

describe('rclone crypt interop', { skip, concurrency: 2 }, () => {
  let s: Setup;
  before(async () => {
    s = await setUp([...ALL, CTL]);
  });
  after(async () => {
    if (s) await fsp.rm(s.tmp, { recursive: true, force: true });
  });

  ALL.forEach((v, index) => {
    describe(v.name, () => {
      const cfg = () => ({ config: s.config, env: ENV });

      it(`${v.name}: rclone writes → cryptfs ls, lsl, lsf, cat and copy read it back exactly`, async () => {
        const src = s.src.get(v.name)!;
        const remote = `${v.name}:rw`;
        expectSuccess('rclone copy', await runRclone(['copy', src.root, remote], cfg()));

        const [oursLs, theirsLs] = await Promise.all([
          runCryptfs(['ls', remote], cfg()),
          runRclone(['ls', remote], cfg()),
        ]);
        expectSuccess('cryptfs ls', oursLs);
        expectSuccess('rclone ls', theirsLs);
        assert.deepEqual(lines(oursLs).sort(), lines(theirsLs).sort(), 'cryptfs ls differs from rclone ls');
        assert.deepEqual(lines(oursLs).sort(), expectedLsLines(src), 'cryptfs ls differs from the source tree');

        const [oursLsl, theirsLsl] = await Promise.all([
          runCryptfs(['lsl', remote], cfg()),
          runRclone(['lsl', remote], cfg()),
        ]);
        const ours = parseLsl(expectSuccess('cryptfs lsl', oursLsl));
        const theirs = parseLsl(expectSuccess('rclone lsl', theirsLsl));
        assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'lsl paths differ');
        for (const f of src.files) {
          const o = ours.get(f.path)!;
          assert.equal(o.size, f.size, `lsl size of ${f.path}`);
          assert.equal(o.size, theirs.get(f.path)!.size, `lsl size of ${f.path} vs rclone`);
          assert.ok(absDiff(o.mtimeNs, f.mtimeNs) < MS_NS, `lsl mtime of ${f.path}: ${o.mtimeNs} vs source ${f.mtimeNs}`);
          assert.ok(absDiff(o.mtimeNs, theirs.get(f.path)!.mtimeNs) < MS_NS, `lsl mtime of ${f.path} vs rclone`);
        }

        const [oursLsf, theirsLsf] = await Promise.all([
          runCryptfs(['lsf', '-R', remote], cfg()),
          runRclone(['lsf', '-R', remote], cfg()),
        ]);
        assert.deepEqual(
          lines(expectSuccess('cryptfs lsf -R', oursLsf)).sort(),
          lines(expectSuccess('rclone lsf -R', theirsLsf)).sort(),
          'lsf -R differs',
        );

        const bySha = new Map(src.files.map((f) => [f.path, f.sha256]));
        await inParallel(catSelection(src, index), 2, async (path) => {
          const r = expectSuccess(`cryptfs cat ${path}`, await runCryptfs(['cat', `${remote}/${path}`], cfg()));
          assert.equal(sha256(r.stdout), bySha.get(path), `cat ${JSON.stringify(path)}: ${r.stdout.length} bytes, contents differ`);
        });

        const out = join(s.tmp, 'out', `${v.name}-from-rclone`);
        expectSuccess('cryptfs copy remote: dir', await runCryptfs(['copy', remote, out], cfg()));
        assert.deepEqual(diffTrees(src, await readTree(out), { mtimeToleranceNs: MS_NS }), []);
        await fsp.rm(out, { recursive: true });
      });

      it(`${v.name}: cryptfs writes → rclone copy, cryptcheck and ls read it back exactly`, async () => {
        const src = s.src.get(v.name)!;
        const remote = `${v.name}:cw`;
        const copied = await runCryptfs(['copy', src.root, remote], cfg());
        expectSuccess('cryptfs copy', copied);

        const out = join(s.tmp, 'out', `${v.name}-from-cryptfs`);
        expectSuccess('rclone copy remote: dir', await runRclone(['copy', remote, out], cfg()));
        assert.deepEqual(diffTrees(src, await readTree(out), { mtimeToleranceNs: MS_NS }), []);
        await fsp.rm(out, { recursive: true });

        const check = await runRclone(['cryptcheck', src.root, remote], cfg());
        assert.equal(check.code, 0, describeRun('rclone cryptcheck', check));
        assert.match(check.stderr, /0 differences found/, describeRun('rclone cryptcheck', check));
        assert.match(check.stderr, new RegExp(`${src.files.length} matching files`), describeRun('rclone cryptcheck', check));

        const [oursLs, theirsLs] = await Promise.all([
          runCryptfs(['ls', remote], cfg()),
          runRclone(['ls', remote], cfg()),
        ]);
        assert.deepEqual(lines(expectSuccess('cryptfs ls', oursLs)).sort(), expectedLsLines(src));
        assert.deepEqual(lines(expectSuccess('rclone ls', theirsLs)).sort(), expectedLsLines(src));
      });

      it(`${v.name}: names too long once encrypted are refused before anything is written`, async () => {
        const dir = s.enc.get(v.name)!;
        for (const path of v.tooLong) {
          const srcRoot = join(s.tmp, 'toolong', v.name, String(v.tooLong.indexOf(path)));
          const file = join(srcRoot, ...path.split('/'));
          await fsp.mkdir(join(file, '..'), { recursive: true });
          await fsp.writeFile(file, randomBytes(100));
          const before = await snapshot(dir);
          const r = await runCryptfs(['copy', srcRoot, `${v.name}:cw`], cfg());
          assert.notEqual(r.code, 0, describeRun(`cryptfs copy of ${path}`, r));
          assert.match(r.stderr, /name too long/i, describeRun(`cryptfs copy of ${path}`, r));
          assert.match(r.stderr, /255/, `the message should give the limit: ${r.stderr}`);
          assert.deepEqual(await snapshot(dir), before, `copy of ${path} changed the underlying directory`);
          // A single file, by name.
          const single = await runCryptfs(['copyto', file, `${v.name}:cw/single/${path}`], cfg());
          assert.notEqual(single.code, 0, describeRun(`cryptfs copyto of ${path}`, single));
          assert.match(single.stderr, /name too long/i, describeRun(`cryptfs copyto of ${path}`, single));
          assert.deepEqual(await snapshot(dir), before, `copyto of ${path} changed the underlying directory`);
        }
      });

      it(`${v.name}: cryptdecode and cryptdecode --reverse print what rclone prints`, async () => {
        const src = s.src.get(v.name)!;
        const encrypted = (await underlyingFiles(s.enc.get(v.name)!)).filter((p) => !p.includes('.cryptfs-partial'));
        // Up to 10 names per call (rclone's limit); a spread of encrypted names plus one that is not.
        const step = Math.max(1, Math.floor(encrypted.length / 9));
        const encNames = encrypted.filter((_, i) => i % step === index % step).slice(0, 9);
        encNames.push('not-an-encrypted-name!');
        const plainNames = src.files
          .map((f) => `rw/${f.path}`)
          .filter((_, i) => i % 5 === index % 5)
          .slice(0, 10);
        for (const [args, what] of [
          // "--": base64 names may start with "-".
          [['cryptdecode', '--', `${v.name}:`, ...encNames], 'cryptdecode'],
          [['cryptdecode', '--reverse', '--', `${v.name}:`, ...plainNames], 'cryptdecode --reverse'],
        ] as const) {
          const [ours, theirs] = await Promise.all([runCryptfs([...args], cfg()), runRclone([...args], cfg())]);
          expectSuccess(`cryptfs ${what}`, ours);
          expectSuccess(`rclone ${what}`, theirs);
          assert.equal(ours.stdout.toString('utf8'), theirs.stdout.toString('utf8'), `${what} output differs`);
        }
      });
    });
  });

  it(
    "names rclone's local backend encodes (control characters, DEL, look-alike symbols) interoperate",
    async () => {
      const src = join(s.tmp, 'ctl-src');
      await fsp.mkdir(src);
      for (const name of CTL_NAMES) await fsp.writeFile(join(src, name), randomBytes(50));
      const tree = await readTree(src);
      // rclone writes, cryptfs reads: same listing, same tree back.
      expectSuccess('rclone copy', await runRclone(['copy', src, `${CTL.name}:rw`], { config: s.config, env: ENV }));
      const [ours, theirs] = await Promise.all([
        runCryptfs(['ls', `${CTL.name}:rw`], { config: s.config, env: ENV }),
        runRclone(['ls', `${CTL.name}:rw`], { config: s.config, env: ENV }),
      ]);
      assert.deepEqual(lines(expectSuccess('cryptfs ls', ours)).sort(), lines(expectSuccess('rclone ls', theirs)).sort());
      const out = join(s.tmp, 'ctl-out');
      expectSuccess('cryptfs copy', await runCryptfs(['copy', `${CTL.name}:rw`, out], { config: s.config, env: ENV }));
      assert.deepEqual(diffTrees(tree, await readTree(out)), []);
      // cryptfs writes, rclone checks.
      expectSuccess('cryptfs copy', await runCryptfs(['copy', src, `${CTL.name}:cw`], { config: s.config, env: ENV }));
      const check = await runRclone(['cryptcheck', src, `${CTL.name}:cw`], { config: s.config, env: ENV });
      assert.equal(check.code, 0, describeRun('rclone cryptcheck', check));
    },
  );
});
