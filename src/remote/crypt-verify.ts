// Checks a crypt object against its sealed record (crypt/seal.ts) before any of its plaintext is
// handed out, on every read (CLI and mount: both read through CryptRemote.openRead).
//
// The record comes with the header read that every read makes anyway: from the same response where
// the underlying remote has openReadWithInfo (local, S3, Swift), else from a stat started together
// with it. The header gives the nonce. The verdict (SECURITY.md, "the sealed record"):
//
//   no record                                  unsealed  default: read   strict: UnsealedFileError
//   record does not open                       mismatch  InvalidSealError (all modes but off)
//   record's path is another, existing object  mismatch  ContentMismatchError (swap or copy)
//   record's path is another, gone object      moved     default: NOTICE strict: MovedFileError
//   header nonce is not the record's           mismatch  ContentMismatchError (content swapped), unless the
//                                                        first chunk fails under its own header: damage (AuthenticationError)
//   object shorter than the record's size      mismatch  FileTruncatedError
//   all match                                  sealed    read
//
// A record whose path ends with this object's path on a segment boundary, or the other way round,
// is this object seen from a crypt remote rooted higher or lower in the same tree, unless the
// record's path under this root holds the same ciphertext (same header nonce): then it is a copy.
//
// A record under another password does not open, exactly like an altered one, and is an error in
// every mode: the record key derives from the same passwords as the data key, so a crypt remote
// whose password does not open the record cannot authenticate the content either. There is no
// "record of a neighbour sharing the storage" whose content would still read here. Which of the two
// it is, the first chunk tells (one more read, only then): when it does not authenticate either,
// the error is the content's ("failed to authenticate decrypted block - bad password?").
import {
  ContentMismatchError,
  DirNotFoundError,
  FileTruncatedError,
  InvalidSealError,
  MovedFileError,
  ObjectNotFoundError,
  UnsealedFileError,
  CryptFormatError,
  type IntegrityError,
} from '../errors.js';
import { ContentCipher, HEADER_SIZE } from '../crypt/content-cipher.js';
import { SealRecordError, sealFromMetadata, type SealKey, type SealRecord } from '../crypt/seal.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { NameCipher } from '../crypt/name-cipher.js';
import type { ByteSource, ReadOptions, ReadRange, Remote, RemoteEntry } from './remote.js';

/** How reads treat sealed records: crypt option `integrity`. */
export type IntegrityMode = 'default' | 'strict' | 'off';

export type SealVerdict =
  | { status: 'sealed'; record: SealRecord }
  | { status: 'unsealed' }
  /** The record names a path that no longer exists: another tool moved the object with its metadata. */
  | { status: 'moved'; record: SealRecord; detail: string }
  | { status: 'mismatch'; error: IntegrityError };

/** What the verifier needs of the crypt remote. */
export interface SealHost {
  readonly underlying: Remote;
  readonly sealKey: SealKey;
  readonly content: ContentCipher;
  readonly names: NameCipher;
}

type PathRelation = 'same' | 'nested' | 'different';

/** Whether two encrypted paths name the same object, possibly from crypt remotes rooted at different depths. */
function relation(recordPath: string, encPath: string): PathRelation {
  if (recordPath === encPath) return 'same';
  if (recordPath.endsWith(`/${encPath}`) || encPath.endsWith(`/${recordPath}`)) return 'nested';
  return 'different';
}

export class SealVerifier {
  /** Paths already given the "moved elsewhere" notice (a mount reads the same file many times). */
  private readonly noticed = new Set<string>();

  constructor(
    private readonly host: SealHost,
    readonly mode: IntegrityMode,
  ) {}

  /**
   * One checked read of `path` (stored at `encPath`): `open` for ContentCipher.decryptRange's
   * ciphertext reads (its first, the header's, also brings the record), and `onHeader`, the check
   * it runs on the header before handing out any plaintext (undefined in mode off).
   */
  forRead(
    path: string,
    encPath: string,
    options?: ReadOptions,
    withEntry = false,
  ): {
    open: (range: ReadRange) => Promise<ByteSource>;
    onHeader?: (headerNonce: Buffer) => Promise<void>;
    /** The underlying object's entry (once `open` has been called), where asked for or checked. */
    entry: () => Promise<RemoteEntry> | undefined;
  } {
    const u = this.host.underlying;
    let entry: Promise<RemoteEntry> | undefined;
    if (this.mode === 'off' && !withEntry) return { open: (range) => u.openRead(encPath, range, options), entry: () => entry };
    const settle = (p: Promise<RemoteEntry>) => {
      // The read's own error is the one reported.
      p.catch(() => undefined);
      return p;
    };
    if (!u.openReadWithInfo) entry = settle(u.stat(encPath));
    const open = async (range: ReadRange): Promise<ByteSource> => {
      if (entry !== undefined) return u.openRead(encPath, range, options);
      const read = u.openReadWithInfo!(encPath, range, options);
      entry = settle(read.then((r) => r.entry));
      return (await read).source;
    };
    if (this.mode === 'off') return { open, entry: () => entry };
    const onHeader = async (headerNonce: Buffer) => this.enforce(path, await this.judge(path, encPath, await entry!, headerNonce));
    return { open, onHeader, entry: () => entry };
  }

  /** Throws what the verdict means under this mode; logs the moved-elsewhere notice. */
  enforce(path: string, verdict: SealVerdict): void {
    switch (verdict.status) {
      case 'sealed':
        return;
      case 'unsealed':
        if (this.mode === 'strict') throw new UnsealedFileError(path);
        return;
      case 'moved':
        if (this.mode === 'strict') throw new MovedFileError(path, verdict.detail);
        if (!this.noticed.has(path)) {
          this.noticed.add(path);
          log.notice(`${logPath(path)}: moved elsewhere: ${verdict.detail}; read as is (\`cryptfs seal\` re-seals it under this name)`);
        }
        return;
      case 'mismatch':
        throw verdict.error;
    }
  }

  /** The verdict on the object `entry` (a stat of `encPath`) whose header holds `headerNonce`. */
  async judge(path: string, encPath: string, entry: RemoteEntry, headerNonce: Buffer): Promise<SealVerdict> {
    const text = sealFromMetadata(entry.metadata);
    if (text === undefined) return { status: 'unsealed' };
    let record: SealRecord;
    try {
      record = this.host.sealKey.open(text);
    } catch (err) {
      if (err instanceof SealRecordError) {
        const contentError = await this.firstChunkError(encPath);
        if (contentError) throw contentError;
        return mismatch(new InvalidSealError(path, err.message.replace(/^sealed record is not valid: /, ''), { cause: err }));
      }
      throw err;
    }
    const nonceMatches = record.headerNonce.equals(headerNonce);
    const other = () => this.describe(record.encryptedPath);
    let moved: string | undefined;
    switch (relation(record.encryptedPath, encPath)) {
      case 'same':
        break;
      case 'nested':
        if (nonceMatches && (await this.holdsNonce(record.encryptedPath, headerNonce))) {
          return mismatch(new ContentMismatchError(path, `a copy of ${other()}`));
        }
        break;
      case 'different':
        if (await this.objectExists(record.encryptedPath)) {
          return mismatch(new ContentMismatchError(path, `sealed for ${other()}, which still exists: swapped or copied`));
        }
        moved = `sealed for ${other()}, which no longer exists`;
        break;
    }
    if (!nonceMatches) {
      // A header whose content does not authenticate under it is damage (a flipped nonce byte),
      // reported as before records existed, not another file's content.
      const contentError = await this.firstChunkError(encPath);
      if (contentError) throw contentError;
      return mismatch(new ContentMismatchError(path, `its header is not the one sealed for ${moved ? other() : 'this name'}: another file's content`));
    }
    const size = plainSizeOf(entry.size);
    if (size !== record.size) {
      const was = `${size === undefined ? `${entry.size} encrypted bytes, not a valid size` : `${size} bytes`}, sealed as ${record.size}`;
      if (size === undefined || size < record.size) return mismatch(new FileTruncatedError(path, was));
      return mismatch(new ContentMismatchError(path, `${was}: longer than sealed`));
    }
    return moved === undefined ? { status: 'sealed', record } : { status: 'moved', record, detail: moved };
  }

  /** The plain path of an encrypted file path, for messages (the encrypted one when it does not decrypt). */
  private describe(encPath: string): string {
    try {
      return JSON.stringify(this.host.names.decryptFileName(encPath));
    } catch {
      return `encrypted path ${JSON.stringify(encPath)}`;
    }
  }

  private async objectExists(encPath: string): Promise<boolean> {
    try {
      return !(await this.host.underlying.stat(encPath)).isDir;
    } catch (err) {
      if (err instanceof ObjectNotFoundError || err instanceof DirNotFoundError) return false;
      throw err;
    }
  }

  /** Why the first chunk of the object at `encPath` does not decrypt (wrong password, damage), if it does not. */
  private async firstChunkError(encPath: string): Promise<CryptFormatError | undefined> {
    try {
      const u = this.host.underlying;
      for await (const _ of await this.host.content.decryptRange((r) => u.openRead(encPath, r), 0, 1)) void _;
      return undefined;
    } catch (err) {
      if (err instanceof CryptFormatError) return err;
      throw err;
    }
  }

  /** Whether the object at `encPath` (under this root) starts with a header holding `nonce`. */
  private async holdsNonce(encPath: string, nonce: Buffer): Promise<boolean> {
    const head: Buffer[] = [];
    try {
      for await (const piece of await this.host.underlying.openRead(encPath, { offset: 0, length: HEADER_SIZE })) {
        head.push(Buffer.from(piece));
      }
      return ContentCipher.readNonce(Buffer.concat(head)).equals(nonce);
    } catch (err) {
      if (err instanceof ObjectNotFoundError || err instanceof DirNotFoundError || err instanceof CryptFormatError) return false;
      throw err;
    }
  }
}

function mismatch(error: IntegrityError): SealVerdict {
  return { status: 'mismatch', error };
}

/** Plaintext size of an object of `encryptedSize` bytes; undefined for a size no valid file has. */
function plainSizeOf(encryptedSize: number): number | undefined {
  try {
    return ContentCipher.decryptedSize(encryptedSize);
  } catch {
    return undefined;
  }
}
