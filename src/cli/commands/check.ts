// check and cryptcheck (rclone's operations.CheckFn): march source and
// destination, report files missing on either side and pairs that differ by
// size, by hash (when both sides share one), by content (--download), or, for
// cryptcheck, by the hash of the source re-encrypted with each destination
// file's own nonce against the hash of the stored ciphertext.
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { flagBool, flagString } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { runCommand } from '../command-run.js';
import { JobQueue, Limiter, WorkSet } from '../concurrency.js';
import { march } from '../march.js';
import { commonHash, fsName, fsString } from '../operations.js';
import { entryHash } from '../entry-hash.js';
import { transferOptionsFromFlags } from '../transfer-flags.js';
import type { TransferStats } from '../stats.js';
import { log } from '../../log.js';
import { logPath } from '../../log-names.js';
import { CryptfsError, errorMessage } from '../../errors.js';
import { ExitStatusError, exitCodeOf } from '../exit-codes.js';
import type { ByteSource, HashType, Remote, RemoteEntry } from '../../remote/remote.js';
import { joinPath, PieceReuse } from '../../remote/remote.js';
import { SubRemote } from '../../remote/sub-remote.js';
import { CryptRemote } from '../../remote/crypt.js';
import { ContentCipher, HEADER_SIZE } from '../../crypt/content-cipher.js';

/** The outcome of comparing one pair. */
type Verdict = 'same' | 'differ' | 'nohash';

/** Compares a pair of the same size; throws for errors (reported as "failed to ..."). */
type Comparer = (src: RemoteEntry, dst: RemoteEntry, rel: string) => Promise<Verdict>;

/** The check finished with differences: exit 1, counted already (one error per difference). */
class DifferencesFoundError extends CryptfsError {}

/** The report files of --combined, --match, --differ, --missing-on-src, --missing-on-dst, --error. */
class Reports {
  private readonly open = new Map<string, Writable>();
  constructor(private readonly ctx: CommandContext) {}

  private stream(path: string): Writable {
    let s = this.open.get(path);
    if (!s) {
      s = path === '-' ? this.ctx.stdout : createWriteStream(path);
      this.open.set(path, s);
    }
    return s;
  }

  /** rclone's report(): the path into its own list, and "<sign> path" into --combined. */
  report(rel: string, flag: string, sign: string): void {
    const file = flagString(this.ctx.flags, flag);
    if (file) this.stream(file).write(`${rel}\n`);
    const combined = flagString(this.ctx.flags, 'combined');
    if (combined) this.stream(combined).write(`${sign} ${rel}\n`);
  }

  async close(): Promise<void> {
    for (const s of this.open.values()) {
      if (s === this.ctx.stdout) continue;
      await new Promise<void>((resolve) => (s as WriteStream).end(resolve));
    }
  }
}

/** Compares two byte streams piece by piece, without holding either whole. */
export async function streamsEqual(a: ByteSource, b: ByteSource): Promise<boolean> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let bufA = Buffer.alloc(0);
  let bufB = Buffer.alloc(0);
  let doneA = false;
  let doneB = false;
  try {
    for (;;) {
      while (!doneA && bufA.length === 0) {
        const r = await ia.next();
        if (r.done) doneA = true;
        else bufA = Buffer.from(r.value);
      }
      while (!doneB && bufB.length === 0) {
        const r = await ib.next();
        if (r.done) doneB = true;
        else bufB = Buffer.from(r.value);
      }
      if (bufA.length === 0 || bufB.length === 0) return bufA.length === 0 && bufB.length === 0 && doneA && doneB;
      const n = Math.min(bufA.length, bufB.length);
      if (!bufA.subarray(0, n).equals(bufB.subarray(0, n))) return false;
      bufA = bufA.subarray(n);
      bufB = bufB.subarray(n);
    }
  } finally {
    await ia.return?.();
    await ib.return?.();
  }
}

async function hashStream(source: ByteSource, type: HashType): Promise<string> {
  const h = createHash(type);
  for await (const chunk of source) h.update(chunk);
  return h.digest('hex');
}

/**
 * Source hashes started as soon as a source directory is listed, while the destination's listing
 * is still on its way (a far object store): at most `limit` at once, in listing order. A file the
 * destination turns out not to have, or to have at another size, is dropped before its turn.
 */
class SourceHashAhead {
  private readonly jobs = new Map<string, { dropped: boolean; hash: Promise<string | undefined> }>();
  private readonly limiter: Limiter;

  constructor(
    private readonly src: Remote,
    private readonly type: HashType,
    limit: number,
  ) {
    this.limiter = new Limiter(limit);
  }

  listed(files: RemoteEntry[]): void {
    for (const e of files) {
      const job = { dropped: false, hash: Promise.resolve<string | undefined>(undefined) };
      job.hash = this.limiter.run(() => (job.dropped ? Promise.resolve(undefined) : entryHash(this.src, e, this.type)));
      job.hash.catch(() => undefined); // awaited, and reported, by the pair's check
      this.jobs.set(e.path, job);
    }
  }

  /** The hash started for `e`, if one was (the caller awaits it). */
  take(e: RemoteEntry): Promise<string | undefined> | undefined {
    const job = this.jobs.get(e.path);
    this.jobs.delete(e.path);
    return job?.hash;
  }

  drop(e: RemoteEntry): void {
    const job = this.jobs.get(e.path);
    if (job) job.dropped = true;
    this.jobs.delete(e.path);
  }
}

/**
 * The check walk shared by check and cryptcheck. Differences are logged at
 * ERROR and counted; the summary lines are NOTICEs on the destination, as rclone.
 */
async function checkTrees(
  ctx: CommandContext,
  stats: TransferStats,
  src: Remote,
  dst: Remote,
  compare: Comparer,
  ahead?: SourceHashAhead,
): Promise<void> {
  const opts = transferOptionsFromFlags(ctx.flags, stats);
  const oneWay = flagBool(ctx.flags, 'one-way');
  const sizeOnly = flagBool(ctx.flags, 'size-only');
  const reports = new Reports(ctx);
  const pending = new WorkSet();
  let differences = 0;
  let dstMissing = 0;
  let srcMissing = 0;
  let noHashes = 0;
  let matches = 0;
  /** The last pair that could not be compared (rclone ends with that error). */
  let compareError: unknown;

  const difference = (err: Error) => {
    differences++;
    stats.error(err);
  };

  const checkPair = async (rel: string, s: RemoteEntry, d: RemoteEntry) => {
    stats.startCheck(rel);
    try {
      if (s.size !== d.size) {
        ahead?.drop(s);
        log.error(`${logPath(rel)}: sizes differ`);
        difference(new Error('sizes differ'));
        reports.report(rel, 'differ', '*');
        return;
      }
      if (sizeOnly) {
        matches++;
        reports.report(rel, 'match', '=');
        return;
      }
      let verdict: Verdict;
      try {
        verdict = await compare(s, d, rel);
      } catch (err) {
        log.error(`${logPath(rel)}: ${errorMessage(err)}`);
        differences++;
        stats.error(err);
        compareError = err;
        reports.report(rel, 'error', '!');
        return;
      }
      if (verdict === 'differ') {
        difference(new Error(`${rel}: differ`));
        reports.report(rel, 'differ', '*');
        return;
      }
      if (verdict === 'nohash') noHashes++;
      else log.debug(`${logPath(rel)}: OK`);
      matches++;
      reports.report(rel, 'match', '=');
    } finally {
      stats.endCheck(rel);
    }
  };
  const pairs = new JobQueue<{ rel: string; s: RemoteEntry; d: RemoteEntry }>(pending, opts.checkers, (p) => checkPair(p.rel, p.s, p.d));

  let marchErr: unknown;
  try {
    // Sizes and hashes only: listings need no modification times (no HEAD per object on S3/Swift).
    await march(src, dst, { filter: opts.filter, checkers: opts.checkers, maxDepth: opts.maxDepth, stats, modTimes: false, fastList: opts.fastList, onSourceListed: ahead && ((files) => ahead.listed(files)) }, async (item) => {
      const { rel, src: s, dst: d } = item;
      if (s?.isDir || (!s && d?.isDir)) return s !== undefined || !oneWay;
      if (s && d) {
        // The walk lists far faster than pairs are checked: bound what waits (as a copy does).
        await pending.below(opts.maxBacklog);
        stats.queueCheck();
        pairs.push({ rel, s, d });
      } else if (s) {
        ahead?.drop(s);
        log.error(`${logPath(rel)}: file not in ${fsString(dst)}`);
        difference(new Error(`file not in ${fsString(dst)}`));
        dstMissing++;
        reports.report(rel, 'missing-on-dst', '+');
      } else if (d && !oneWay) {
        log.error(`${logPath(rel)}: file not in ${fsString(src)}`);
        difference(new Error(`file not in ${fsString(src)}`));
        srcMissing++;
        reports.report(rel, 'missing-on-src', '-');
      }
      return false;
    });
  } catch (err) {
    marchErr = err;
  }
  await pending.drain();
  await reports.close();

  const where = fsString(dst);
  if (dstMissing) log.notice(`${where}: ${dstMissing} files missing`);
  if (srcMissing) log.notice(`${fsString(src)}: ${srcMissing} files missing`);
  log.notice(`${where}: ${stats.errors} differences found`);
  if (stats.errors) log.notice(`${where}: ${stats.errors} errors while checking`);
  if (noHashes) log.notice(`${where}: ${noHashes} hashes could not be checked`);
  if (matches) log.notice(`${where}: ${matches} matching files`);
  if (marchErr) throw marchErr;
  if (compareError) throw compareError;
  if (differences) {
    const err = new DifferencesFoundError(`${differences} differences found`);
    stats.markCounted(err);
    throw err;
  }
}

const checkFlags = [
  { name: 'download', type: 'bool' as const, help: 'Check by downloading rather than with hash' },
  { name: 'one-way', type: 'bool' as const, help: 'Check one way only, source files must exist on remote' },
  { name: 'combined', type: 'string' as const, help: 'Make a combined report of changes to this file' },
  { name: 'missing-on-src', type: 'string' as const, help: 'Report all files missing from the source to this file' },
  { name: 'missing-on-dst', type: 'string' as const, help: 'Report all files missing from the destination to this file' },
  { name: 'match', type: 'string' as const, help: 'Report all matching files to this file' },
  { name: 'differ', type: 'string' as const, help: 'Report all non-matching files to this file' },
  { name: 'error', type: 'string' as const, help: 'Report all files with errors (hashing or reading) to this file' },
];

registerCommand({
  name: 'check',
  use: 'source:path dest:path',
  short: 'Checks the files in the source and destination match.',
  long:
    'Checks the files in the source and destination match. It compares\n' +
    'sizes and hashes (MD5 or SHA1) and logs a report of files that don\'t\n' +
    'match. It doesn\'t alter the source or destination.\n\n' +
    'If you supply the --size-only flag, it will only compare the sizes not\n' +
    'the hashes as well. Use this for a quick check.\n\n' +
    'If you supply the --download flag, it will download the data from\n' +
    'both remotes and check them against each other on the fly. This can\n' +
    'be useful for remotes that don\'t support hashes (crypt) or if you\n' +
    'really want to check all the data.\n\n' +
    'If you supply the --one-way flag, it will only check that files in\n' +
    'the source match the files in the destination, not the other way\n' +
    'around. Exits 1 when differences were found.',
  minArgs: 2,
  maxArgs: 2,
  flags: checkFlags,
  async run(ctx, [srcSpec, dstSpec]) {
    const checkerCount = transferOptionsFromFlags(ctx.flags).checkers;
    const src = await ctx.factory.open(srcSpec);
    const dst = await ctx.factory.open(dstSpec);
    const download = flagBool(ctx.flags, 'download');
    let compare: Comparer;
    let ahead: SourceHashAhead | undefined;
    if (download) {
      compare = async (s, d, rel) => {
        try {
          const same = await streamsEqual(await src.openRead(s.path), await dst.openRead(d.path));
          if (!same) log.error(`${logPath(rel)}: files differ`);
          return same ? 'same' : 'differ';
        } catch (err) {
          throw new DownloadError(`failed to download: ${errorMessage(err)}`, err);
        }
      };
    } else {
      const ht = flagBool(ctx.flags, 'size-only') ? undefined : commonHash(src, dst);
      if (!flagBool(ctx.flags, 'size-only')) {
        if (ht) log.info(`Using ${ht} for hash comparisons`);
        else log.error('No common hash found - not using a hash for checks');
      }
      if (ht) ahead = new SourceHashAhead(src, ht, checkerCount);
      compare = async (s, d, rel) => {
        if (!ht) return 'nohash';
        // A crypt side states its plaintext hashes in sealed records: no download, no re-encryption.
        const [a, b] = await Promise.all([ahead?.take(s) ?? entryHash(src, s, ht), entryHash(dst, d, ht)]);
        if (!a || !b) return 'nohash';
        if (a !== b) {
          log.error(`${logPath(rel)}: ${ht} differ`);
          return 'differ';
        }
        return 'same';
      };
    }
    return runCommand(ctx, 'check', { retry: false, showStats: true }, (stats) => checkTrees(ctx, stats, src, dst, compare, ahead));
  },
});

/** Reading one side failed during check --download; keeps the exit code of the cause. */
class DownloadError extends ExitStatusError {
  constructor(message: string, cause: unknown) {
    super(message, exitCodeOf(cause), { cause });
  }
}

/** The crypt remote under any sub-path layers, with the plain path prefix inside it. */
function cryptOf(remote: Remote): { crypt: CryptRemote; prefix: string } | undefined {
  let prefix = '';
  let r = remote;
  while (r instanceof SubRemote) {
    prefix = joinPath(r.base, prefix);
    r = r.inner;
  }
  return r instanceof CryptRemote ? { crypt: r, prefix } : undefined;
}

/** Reads the first `n` bytes of an object (a ranged read). */
async function readHead(remote: Remote, path: string, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const chunk of await remote.openRead(path, { offset: 0, length: n })) {
    parts.push(Buffer.from(chunk));
    got += chunk.length;
    if (got >= n) break;
  }
  return Buffer.concat(parts).subarray(0, n);
}

registerCommand({
  name: 'cryptcheck',
  use: 'remote:path cryptedremote:path',
  short: 'Cryptcheck checks the integrity of a crypted remote.',
  long:
    'rclone cryptcheck checks a remote against a crypted remote. This is\n' +
    'the equivalent of running rclone check, but able to check the\n' +
    'checksums of the crypted remote.\n\n' +
    'For it to work the underlying remote of the cryptedremote must support\n' +
    'some kind of checksum.\n\n' +
    'It works by reading the nonce from each file on the cryptedremote: and\n' +
    'using that to encrypt each file on the remote:. It then checks the\n' +
    'checksum of the underlying file on the cryptedremote: against the\n' +
    'checksum of the file it has just encrypted.\n\n' +
    'Use it like this\n\n    cryptfs cryptcheck /path/to/files encryptedremote:path\n\n' +
    'After it has run it will log the status of the encryptedremote:.',
  minArgs: 2,
  maxArgs: 2,
  flags: checkFlags.filter((f) => f.name !== 'download'),
  async run(ctx, [srcSpec, dstSpec]) {
    transferOptionsFromFlags(ctx.flags);
    const src = await ctx.factory.open(srcSpec);
    const dst = await ctx.factory.open(dstSpec);
    return runCommand(ctx, 'cryptcheck', { retry: false, showStats: true }, async (stats) => {
      const found = cryptOf(dst);
      if (!found) throw new CryptfsError(`${fsName(dst)} is not a crypt remote`);
      const { crypt, prefix } = found;
      const under = crypt.underlying;
      const ht = under.hash ? under.features.hashes[0] : undefined;
      if (!ht) throw new CryptfsError(`${fsName(under)} does not support any hashes`);
      log.info(`Using ${ht} for hash comparisons`);
      const noData = crypt.options.noDataEncryption;
      await checkTrees(ctx, stats, src, dst, async (s, d, rel) => {
        const encPath = crypt.encryptFilePath(joinPath(prefix, d.path));
        let underlyingHash: string | undefined;
        try {
          underlyingHash = await under.hash!(encPath, ht);
        } catch (err) {
          throw new CryptfsError(`error reading hash from underlying ${encPath}: ${errorMessage(err)}`, { cause: err });
        }
        if (!underlyingHash) return 'nohash';
        let computed: string;
        try {
          if (noData) {
            computed = await hashStream(await src.openRead(s.path, undefined, { reuse: PieceReuse.allowed() }), ht);
          } else {
            const nonce = ContentCipher.readNonce(await readHead(under, encPath, HEADER_SIZE));
            // Hashing is done with each piece at once, encryption with each plaintext piece when it
            // asks for the next: both sides may refill their buffers.
            const source = await src.openRead(s.path, undefined, { reuse: PieceReuse.allowed() }).catch((err) => {
              throw new CryptfsError(`failed to open src: ${errorMessage(err)}`, { cause: err });
            });
            computed = await hashStream(crypt.content.encrypt(source, nonce, PieceReuse.allowed()), ht);
          }
        } catch (err) {
          throw new CryptfsError(`error computing hash: ${errorMessage(err)}`, { cause: err });
        }
        if (computed !== underlyingHash) {
          // rclone's message, labels as rclone prints them.
          const msg = `hashes differ (${fsName(dst)}) ${JSON.stringify(computed)} vs (${fsName(src)}) ${JSON.stringify(underlyingHash)}`;
          log.error(`${logPath(rel)}: ${msg}`);
          return 'differ';
        }
        return 'same';
      });
    });
  },
});
