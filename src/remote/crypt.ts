// The crypt overlay: a remote that stores rclone-crypt-format data in another
// remote. Names go through NameCipher, contents through ContentCipher.
import { ConfigError, NameTooLongError, CryptfsError, DirNotFoundError, ObjectNotFoundError } from '../errors.js';
import { createHash } from 'node:crypto';
import { BLOCK_OVERHEAD, ContentCipher, HEADER_SIZE } from '../crypt/content-cipher.js';
import { NONCE_SIZE, randomNonce } from '../crypt/nonce.js';
import { deriveKeys, wipeKeys, type CryptKeys } from '../crypt/keys.js';
import { NameCipher, type FilenameEncodingName, type FilenameEncryptionMode } from '../crypt/name-cipher.js';
import { log } from '../log.js';
import { registerBackend } from './registry.js';
import { isUtf8 } from 'node:buffer';
import { abortable } from '../abort.js';
import type { ByteSource, HashType, ListOptions, ReadOptions, ReadRange, ReadWithInfo, Remote, RemoteEntry, RemoteFeatures, WriteOptions, Metadata } from './remote.js';
import { SealKey } from '../crypt/seal.js';
import { HashingSource, Sealer, lazySealedEntry, recordHash, recordedHash, resealIfChanged, resealing, sealedEntry, withoutSealKeys, type PlaintextDigests } from './crypt-seal.js';
import { baseName, joinPath, metadataPending, parentPath, PieceReuse, withLazyMetadata } from './remote.js';
import { SubRemote } from './sub-remote.js';
import { redactSpec } from './redact.js';
import { SealVerifier, type IntegrityMode } from './crypt-verify.js';
import { cryptOptions } from './crypt-options.js';
import { OffThreadHasher } from './hash-worker.js';

/** The label of the nonce cacheKeySecret encrypts under (kept as first shipped: caches keyed by it must still open). */
const CACHE_KEY_NONCE_LABEL = 'cryptfs vfs cache key v1 nonce';

export interface CryptRemoteOptions {
  mode: FilenameEncryptionMode;
  encoding: FilenameEncodingName;
  directoryNameEncryption: boolean;
  noDataEncryption: boolean;
  suffix?: string;
  strictNames?: boolean;
  showMapping?: boolean;
  /** How reads check sealed records (crypt-verify.ts); 'default' when not given. */
  integrity?: IntegrityMode;
}

export class CryptRemote implements Remote {
  readonly type = 'crypt';
  readonly features: RemoteFeatures;
  readonly names: NameCipher;
  readonly content: ContentCipher;
  /** The key of the records kept with each object; derived from (never equal to) the crypt keys. */
  readonly sealKey: SealKey;
  /** Seals and opens the records kept with each object (crypt-seal.ts). */
  readonly sealer: Sealer;
  /** Checks reads against the records (crypt-verify.ts). */
  readonly verifier: SealVerifier;

  constructor(
    readonly underlying: Remote,
    keys: CryptKeys,
    readonly options: CryptRemoteOptions,
    readonly displayName: string = `crypt(${underlying.displayName})`,
  ) {
    this.names = new NameCipher({
      mode: options.mode,
      encoding: options.encoding,
      directoryNameEncryption: options.directoryNameEncryption,
      suffix: options.suffix,
      nameKey: keys.nameKey,
      nameTweak: keys.nameTweak,
    });
    this.content = new ContentCipher(keys.dataKey);
    this.sealKey = SealKey.derive(keys);
    this.sealer = new Sealer(this.sealKey);
    this.verifier = new SealVerifier(this, options.integrity ?? 'default');
    const plainNames = options.mode === 'off';
    this.features = {
      realDirectories: underlying.features.realDirectories,
      // The underlying hashes are of ciphertext; the plaintext's come from sealed records (one
      // metadata read per object; undefined for objects without a record).
      hashes: options.noDataEncryption ? underlying.features.hashes : ['md5', 'sha1', 'sha256'],
      caseInsensitive: plainNames ? underlying.features.caseInsensitive : false,
      maxSegmentBytes: underlying.features.maxSegmentBytes,
    };
    if (!underlying.move) this.move = undefined;
    if (!underlying.copy) this.copy = undefined;
    if (!underlying.purge) this.purge = undefined;
    if (!underlying.listRecursive) this.listRecursive = undefined;
    if (!underlying.about) this.about = undefined;
    if (!underlying.setMetadata) this.setMetadata = undefined;
    if (options.noDataEncryption && !underlying.hash) this.hash = undefined;
  }

  // ---- names ----

  /** Encrypted path of a file; checks every segment against the underlying limit first. */
  encryptFilePath(path: string): string {
    return this.checkLength(path, this.names.encryptFileName(path));
  }

  encryptDirPath(path: string): string {
    if (path === '') return '';
    return this.checkLength(path, this.names.encryptDirName(path));
  }

  private checkLength(plain: string, encrypted: string): string {
    const limit = this.underlying.features.maxSegmentBytes;
    if (limit === undefined) return encrypted;
    const plainSegs = plain.split('/');
    const encSegs = encrypted.split('/');
    encSegs.forEach((seg, i) => {
      const len = Buffer.byteLength(seg);
      if (len > limit) {
        throw new NameTooLongError(
          plainSegs[i] ?? seg,
          len,
          limit,
          `bytes once encrypted (${this.options.mode}/${this.options.encoding} names; a plain segment may be at most ` +
            `${this.maxPlainSegmentBytes(limit)} bytes here)`,
        );
      }
    });
    return encrypted;
  }

  /** Remote.checkName: a name fits when every segment does once encrypted (checkLength). */
  checkName(path: string, isDir: boolean): void {
    if (isDir) this.encryptDirPath(path);
    else this.encryptFilePath(path);
  }

  /** Remote.nameMax: the longest plain segment whose stored form fits the remote underneath. */
  nameMax(): number | undefined {
    const limit = this.underlying.features.maxSegmentBytes;
    if (limit === undefined) return undefined;
    return this.options.mode === 'off' ? limit : this.maxPlainSegmentBytes(limit);
  }

  /**
   * Remote.cacheKeySecret: 64 bytes of the content cipher's keystream under a fixed nonce
   * derived from a label (no real file uses it: files take random nonces), so a function of
   * the data key alone, which only the holder of the passwords can compute.
   */
  async cacheKeySecret(): Promise<Buffer> {
    const nonce = createHash('sha256').update(CACHE_KEY_NONCE_LABEL).digest().subarray(0, 24);
    const zeros = Buffer.alloc(64);
    const parts: Buffer[] = [];
    for await (const p of this.content.encrypt((async function* () { yield zeros; })(), nonce)) parts.push(Buffer.from(p));
    const sealed = Buffer.concat(parts);
    // header (32) ‖ tag (16) ‖ keystream ⊕ zeros
    const secret = Buffer.from(sealed.subarray(HEADER_SIZE + BLOCK_OVERHEAD));
    sealed.fill(0);
    return secret;
  }

  /** Longest plain segment (UTF-8 bytes, ASCII) whose encrypted form fits `limit`. */
  maxPlainSegmentBytes(limit: number): number {
    let lo = 0;
    for (let n = 1; n < 2048; n++) {
      const probe = 'a'.repeat(n);
      let enc: string;
      try {
        enc = this.options.mode === 'off' ? probe + (this.options.suffix ?? '.bin') : this.names.encryptSegment(probe);
      } catch {
        break;
      }
      if (Buffer.byteLength(enc) > limit) break;
      lo = n;
    }
    return lo;
  }

  /** The plain name of an underlying entry, or the reason it does not decrypt. */
  private tryDecryptName(entry: RemoteEntry): { plain: string } | { error: CryptfsError } {
    const seg = baseName(entry.path);
    try {
      return { plain: entry.isDir ? this.names.decryptDirName(seg) : this.names.decryptFileName(seg) };
    } catch (err) {
      if (err instanceof CryptfsError) return { error: err };
      throw err;
    }
  }

  /** The plain name of a listed entry; undefined (logged) when it does not decrypt, unless strict_names. */
  private decryptEntryName(entry: RemoteEntry): string | undefined {
    const r = this.tryDecryptName(entry);
    if ('plain' in r) return r.plain;
    if (this.options.strictNames) throw r.error;
    log.debug(`${entry.path}: Skipping undecryptable ${entry.isDir ? 'dir' : 'file'} name: ${r.error.message}`);
    return undefined;
  }

  /**
   * Whether a decrypted name can be a real one. A wrong key still gets through
   * the padding check about once in 256 names (rclone does not check the result
   * either), but then the bytes are random: not UTF-8 (decoded here as U+FFFD),
   * or holding a '/' or NUL that no stored name can hold.
   */
  private static plausiblePlainName(plain: string): boolean {
    return !/[\uFFFD/\0]/.test(plain);
  }

  /** Whether the password can be judged by names at all: with names off it never touches them. */
  private get namesDependOnPassword(): boolean {
    return this.options.mode !== 'off';
  }

  /** `secret:photos` for the plain directory `photos` of this remote. */
  describeDir(dir: string): string {
    return `${this.displayName}${dir}`;
  }

  /** The wrong-password hint, worded the same by the listing and by the write guard. */
  static undecryptableMessage(count: number, where: string): string {
    return `${count} ${count === 1 ? 'name' : 'names'} in ${where} ${count === 1 ? 'does' : 'do'} not decrypt with this password — wrong password?`;
  }

  /**
   * How the names directly inside `dir` fare with this password: how many entries
   * the underlying remote holds there, and whether at least one decrypts. Stops
   * at the first name that decrypts. A missing directory has no entries.
   */
  async nameFit(dir: string): Promise<{ entries: number; anyDecrypts: boolean }> {
    let entries = 0;
    try {
      // Names only: over S3 or Swift a listing with modification times is a HEAD per object.
      for await (const e of this.underlying.list(this.encryptDirPath(dir), { modTimes: false })) {
        entries++;
        if (!this.namesDependOnPassword) return { entries, anyDecrypts: true };
        const r = this.tryDecryptName(e);
        if ('plain' in r && CryptRemote.plausiblePlainName(r.plain)) return { entries, anyDecrypts: true };
      }
    } catch (err) {
      if (!(err instanceof DirNotFoundError || err instanceof ObjectNotFoundError)) throw err;
    }
    return { entries, anyDecrypts: false };
  }

  private plainSize(encryptedSize: number, path: string): number {
    if (this.options.noDataEncryption || encryptedSize < 0) return encryptedSize;
    try {
      return ContentCipher.decryptedSize(encryptedSize);
    } catch (err) {
      // rclone lists objects of impossible size as 0 bytes rather than hiding them.
      log.debug(`${path}: Bad size for decrypt: ${(err as Error).message}`);
      return 0;
    }
  }

  // ---- Remote ----

  async *list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    const encDir = this.encryptDirPath(dir);
    let decrypted = 0;
    let entries = 0;
    for await (const e of this.underlying.list(encDir, options)) {
      entries++;
      const plain = this.decryptEntryName(e);
      if (plain === undefined) continue;
      if (CryptRemote.plausiblePlainName(plain)) decrypted++;
      yield this.plainEntry(joinPath(dir, plain), e);
    }
    this.warnIfNoneDecrypt(dir, entries, decrypted);
  }

  /**
   * The underlying remote's recursive listing (S3, Swift), decrypted: each entry's path is its
   * parent directory's (decrypted when that directory was listed, which comes first) and its own
   * name. Entries under a directory whose name does not decrypt are left out, as a walk by
   * directories would never enter it.
   */
  listRecursive? = async function* (this: CryptRemote, dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    const encDir = this.encryptDirPath(dir);
    // Encrypted directory path → its plain path; undefined: it did not decrypt.
    const plainDirs = new Map<string, string | undefined>([[encDir, dir]]);
    let decrypted = 0;
    let entries = 0;
    for await (const e of this.underlying.listRecursive!(encDir, options)) {
      const parent = e.path.slice(0, Math.max(0, e.path.lastIndexOf('/')));
      const plainParent = plainDirs.get(parent);
      if (plainParent === undefined) {
        // Inside a directory that did not decrypt (or one not listed first: then nothing to go by).
        if (e.isDir) plainDirs.set(e.path, undefined);
        continue;
      }
      entries++;
      const plain = this.decryptEntryName(e);
      if (e.isDir) plainDirs.set(e.path, plain === undefined ? undefined : joinPath(plainParent, plain));
      if (plain === undefined) continue;
      if (CryptRemote.plausiblePlainName(plain)) decrypted++;
      yield this.plainEntry(joinPath(plainParent, plain), e);
    }
    this.warnIfNoneDecrypt(dir, entries, decrypted);
  };

  /** A listed underlying entry as this remote's entry at `path`. */
  private plainEntry(path: string, e: RemoteEntry): RemoteEntry {
    if (this.options.showMapping) log.notice(`${path}: Encrypts to ${JSON.stringify(e.path)}`);
    const size = e.isDir ? e.size : this.plainSize(e.size, e.path);
    const fields = { path, isDir: e.isDir, size, mtime: e.mtime, mtimeNs: e.mtimeNs };
    if (metadataPending(e)) return lazySealedEntry(fields, e);
    const entry: RemoteEntry = { ...fields, ...sealedEntry(e) };
    if (e.mtimeUnread) entry.mtimeUnread = true;
    return entry;
  }

  /** An underlying file's stored entry (a stat's, a read's) as this remote's file at `path`. */
  private plainFileEntry(path: string, e: RemoteEntry): RemoteEntry {
    return { path, isDir: false, size: this.plainSize(e.size, e.path), mtime: e.mtime, mtimeNs: e.mtimeNs, ...sealedEntry(e) };
  }

  /** A wrong password otherwise looks like an empty directory: say so, once per directory. */
  private warnIfNoneDecrypt(dir: string, entries: number, decrypted: number): void {
    if (decrypted === 0 && entries > 0 && this.namesDependOnPassword && !this.warnedDirs.has(dir)) {
      this.warnedDirs.add(dir);
      log.notice(CryptRemote.undecryptableMessage(entries, this.describeDir(dir)));
    }
  }

  /** Directories already reported as not decrypting (mounts list the same ones again and again). */
  private readonly warnedDirs = new Set<string>();

  async stat(path: string): Promise<RemoteEntry> {
    if (path === '') {
      const e = await this.underlying.stat('');
      return { ...e, path: '' };
    }
    const encFile = this.encryptFilePath(path);
    try {
      const e = await this.underlying.stat(encFile);
      if (!e.isDir) return this.plainFileEntry(path, e);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError || err instanceof DirNotFoundError)) throw err;
    }
    const encDir = this.encryptDirPath(path);
    try {
      const e = await this.underlying.stat(encDir);
      if (e.isDir) return { path, isDir: true, size: e.size, mtime: e.mtime, mtimeNs: e.mtimeNs, metadata: e.metadata };
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError || err instanceof DirNotFoundError)) throw err;
    }
    throw new ObjectNotFoundError(path);
  }

  async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    return (await this.openDecrypted(path, range, options, false)).source;
  }

  /**
   * The read, and the file's entry from the underlying read's own response (S3/Swift: the GET's
   * headers; a stat alongside where the underlying remote has no openReadWithInfo).
   */
  async openReadWithInfo(path: string, range?: ReadRange, options?: ReadOptions): Promise<ReadWithInfo> {
    const { source, entry } = await this.openDecrypted(path, range, options, true);
    return { source, entry: this.plainFileEntry(path, await entry!) };
  }

  private async openDecrypted(
    path: string,
    range: ReadRange | undefined,
    options: ReadOptions | undefined,
    withEntry: boolean,
  ): Promise<{ source: ByteSource; entry?: Promise<RemoteEntry> }> {
    const enc = this.encryptFilePath(path);
    const rename = (err: unknown): never => {
      if (err instanceof ObjectNotFoundError) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    };
    if (this.options.noDataEncryption) {
      const u = this.underlying;
      if (!withEntry) return { source: await u.openRead(enc, range, options).catch(rename) };
      if (u.openReadWithInfo) {
        const { source, entry } = await u.openReadWithInfo(enc, range, options).catch(rename);
        return { source, entry: Promise.resolve(entry) };
      }
      const entry = u.stat(enc).catch(rename);
      return { source: await u.openRead(enc, range, options).catch(rename), entry };
    }
    const { open, onHeader, entry } = this.verifier.forRead(path, enc, options, withEntry);
    // The plaintext buffers are refilled if the consumer allows it (options.reuse), as the underlying
    // source's are: the decryption is done with each ciphertext piece when it asks for the next.
    const source = await this.content.decryptRange(open, range?.offset ?? 0, range?.length, undefined, onHeader, options?.reuse).catch(rename);
    // No underlying read at all for an empty range: then a stat.
    return { source, entry: withEntry ? (entry() ?? this.underlying.stat(enc)).catch(rename) : undefined };
  }

  async write(path: string, source: ByteSource, options: WriteOptions = {}): Promise<RemoteEntry> {
    const enc = this.encryptFilePath(path);
    const size = options.size === undefined ? undefined : this.encryptedSize(options.size);
    // A user's metadata never sets or removes a record.
    const userMetadata = withoutSealKeys(options.metadata);
    if (this.options.noDataEncryption) {
      // No record: the stored bytes are the plaintext, which the underlying remote's own hashes cover,
      // and there is no header nonce to bind.
      const e = await this.underlying.write(enc, source, { ...options, size: options.size, metadata: userMetadata, lateMetadata: undefined });
      return { path, isDir: false, size: e.size, mtime: e.mtime, mtimeNs: e.mtimeNs, metadata: withoutSealKeys(e.metadata) };
    }
    // Where the underlying remote can't hash what it stores (S3 multipart), hash the ciphertext in a
    // first pass over a re-opened source, as rclone does for local files, so cryptcheck can verify it.
    // The same pass hashes the plaintext, so the record goes with the upload itself.
    const nonce = randomNonce();
    let md5: string | undefined;
    let firstPass: PlaintextDigests | undefined;
    const from = this.underlying.features.md5UpfrontFrom;
    if (options.reopen && from !== undefined && (size === undefined || size >= from)) {
      // The ciphertext's MD5 on the hash thread too: the upload waits for this pass, which then
      // costs about what the slowest hash thread takes rather than all hashing in a row.
      const h = new OffThreadHasher(['md5']);
      // Every piece of this pass, plaintext and ciphertext, is hashed (copied) before the next is asked for.
      const passReuse = PieceReuse.allowed();
      const plain = new HashingSource(abortable(await options.reopen({ reuse: passReuse }), options.signal));
      try {
        for await (const chunk of this.content.encrypt(plain, nonce, passReuse)) await h.update(chunk);
      } catch (err) {
        h.abort();
        throw err;
      }
      md5 = (await h.digests()).md5;
      firstPass = await plain.digests();
    }
    // The plaintext source ends with the signal too: a hashing job for a stalled source never outlives the write.
    // A remote that checks the first pass's MD5 against what it stores fails a source changed in
    // between: what it keeps is what the first pass hashed, so the plaintext is not hashed twice
    // (three hashes of every byte, a large part of an S3 upload's CPU).
    const trustFirstPass = firstPass !== undefined && md5 !== undefined && this.underlying.features.md5Checked === true;
    const hashing = trustFirstPass ? undefined : new HashingSource(abortable(source, options.signal), options.size);
    // Encryption is done with each plaintext piece (sealed, or its tail copied) when it asks for the next.
    options.reusePieces?.();
    const cipherReuse = new PieceReuse();
    const data = this.content.encrypt(hashing ?? abortable(source, options.signal), nonce, cipherReuse);
    const sealNow = firstPass && this.sealer.metadataFor(nonce, firstPass, enc);
    const e = await this.underlying.write(enc, data, {
      signal: options.signal,
      reusePieces: cipherReuse.allow,
      mtime: options.mtime,
      mtimeNs: options.mtimeNs,
      size,
      md5,
      metadata: sealNow ? { ...userMetadata, ...sealNow } : userMetadata,
      lateMetadata: sealNow ? undefined : async () => this.sealer.metadataFor(nonce, await hashing!.digests(), enc),
      absent: options.absent,
    });
    // A source that changed between the passes: the record must state what was stored.
    if (hashing) await resealIfChanged(this.underlying, this.sealer, { path, enc, nonce, firstPass, sent: await hashing.digests() });
    const written = { path, isDir: false, size: this.plainSize(e.size, enc), mtime: e.mtime, mtimeNs: e.mtimeNs };
    // Made if asked for (a copy looks only at the size); the underlying entry's may be lazy too.
    return withLazyMetadata(written, () => withoutSealKeys(e.metadata));
  }

  /** Size the underlying object will have for `plainSize` bytes. */
  encryptedSize(plainSize: number): number {
    return this.options.noDataEncryption ? plainSize : ContentCipher.encryptedSize(plainSize);
  }

  async delete(path: string): Promise<void> {
    try {
      await this.underlying.delete(this.encryptFilePath(path));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  mkdir(dir: string): Promise<void> {
    return this.underlying.mkdir(this.encryptDirPath(dir));
  }

  async rmdir(dir: string): Promise<void> {
    try {
      await this.underlying.rmdir(this.encryptDirPath(dir));
    } catch (err) {
      if (err instanceof DirNotFoundError) throw new DirNotFoundError(dir, { cause: err });
      throw err;
    }
  }

  setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    return this.underlying.setMtime(this.encryptFilePath(path), mtime, mtimeNs);
  }

  /** Metadata passes through to the underlying object unchanged, as rclone's crypt does (the record's keys excepted). */
  setMetadata? = (path: string, metadata: Metadata, options: { isDir?: boolean } = {}): Promise<void> =>
    this.underlying.setMetadata!(
      options.isDir ? this.encryptDirPath(path) : this.encryptFilePath(path),
      withoutSealKeys(metadata) ?? {},
      options,
    );

  /** Server-side move; the record moves with the object and is re-sealed for its new path. */
  move? = async (src: string, dst: string): Promise<RemoteEntry> => {
    const [from, to] = [this.encryptFilePath(src), this.encryptFilePath(dst)];
    const e = await this.underlying.move!(from, to, this.options.noDataEncryption ? {} : await resealing(this.underlying, this.sealer, from, to));
    return { path: dst, isDir: false, size: this.plainSize(e.size, e.path), mtime: e.mtime, mtimeNs: e.mtimeNs };
  };

  /** Server-side copy; the copy gets the source's record re-sealed for its own path. */
  copy? = async (src: string, dst: string): Promise<RemoteEntry> => {
    const [from, to] = [this.encryptFilePath(src), this.encryptFilePath(dst)];
    const e = await this.underlying.copy!(from, to, this.options.noDataEncryption ? {} : await resealing(this.underlying, this.sealer, from, to));
    return { path: dst, isDir: false, size: this.plainSize(e.size, e.path), mtime: e.mtime, mtimeNs: e.mtimeNs };
  };


  /**
   * With no_data_encryption the stored bytes are the plaintext, so underlying hashes are valid;
   * otherwise the plaintext hashes a sealed record states (undefined for an object without one).
   */
  hash? = async (path: string, type: HashType): Promise<string | undefined> => {
    const enc = this.encryptFilePath(path);
    if (this.options.noDataEncryption) return this.underlying.hash?.(enc, type);
    const e = await this.underlying.stat(enc).catch((err) => {
      if (err instanceof ObjectNotFoundError) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    });
    return recordedHash(this.underlying, this.sealer, enc, e, this.plainSize(e.size, enc), type, this.recordsMayGoStale);
  };

  /**
   * Whether another tool can rewrite an object and leave its record behind: rclone's local backend
   * rewrites a file in place, keeping its xattrs (an object store's PUT replaces all metadata).
   * There a record states this object's hashes only if its header nonce still matches.
   */
  private get recordsMayGoStale(): boolean {
    return this.underlying.type === 'local';
  }

  /**
   * Whether hashOfSealText can answer: not where records may go stale (hash() checks the nonce
   * there), so a caller need not read a listed entry's record (a local file's xattrs) for nothing.
   */
  get listedRecordsStateHashes(): boolean {
    return !this.recordsMayGoStale;
  }

  /**
   * The plaintext hash the record text of a listed entry (RemoteEntry.sealText) states; undefined
   * when it does not open, states another size, or may be stale (then hash() checks the nonce).
   */
  hashOfSealText(sealText: string, type: HashType, plainSize: number): string | undefined {
    if (this.recordsMayGoStale) return undefined;
    const record = this.sealer.openText(sealText);
    return record && record.size === plainSize ? recordHash(record, type) : undefined;
  }

  purge? = (dir: string) => this.underlying.purge!(this.encryptDirPath(dir));

  about? = () => this.underlying.about!();

  close(): Promise<void> {
    this.content.wipe();
    this.names.wipe();
    this.sealer.wipe();
    return this.underlying.close?.() ?? Promise.resolve();
  }

  /** The encrypted object path for a plain file path: `cryptdecode --reverse`. */
  encryptName(path: string): string {
    return this.names.encryptFileName(path);
  }

  /** The plain path for an encrypted one: `cryptdecode`. */
  decryptName(path: string): string {
    return this.names.decryptFileName(path);
  }

  /** The parent directory of a plain path, encrypted. */
  encryptedParent(path: string): string {
    return this.encryptDirPath(parentPath(path));
  }
}

registerBackend({
  type: 'crypt',
  description: 'Encrypt/Decrypt a remote',
  options: cryptOptions,
  async create(ctx) {
    const o = ctx.options;
    const target = o.string('remote');
    if (target === '') throw new ConfigError(`${ctx.name || 'crypt'}: remote not set in config file`);
    const targetName = /^([^:/]+):/.exec(target)?.[1];
    if (ctx.name && targetName === ctx.name) {
      throw new ConfigError(`can't point crypt remote at itself - check the value of the remote setting`);
    }
    if (o.bool('pass_bad_blocks')) {
      throw new ConfigError('pass_bad_blocks is not supported: cryptfs never returns unauthenticated data');
    }
    if (o.bool('server_side_across_configs')) {
      // rclone copies server-side between two crypt remotes over the same storage; our
      // copy/move go server-side only within one remote (cli/operations.ts serverSideMove).
      log.notice(
        `${ctx.name || 'crypt'}: server_side_across_configs has no effect in cryptfs: ` +
          `server-side moves happen only within one remote`,
      );
    }
    const password = o.secret('password');
    const password2 = o.secret('password2');
    if (!o.bool('allow_binary_password')) {
      for (const [name, bytes] of [['password', password], ['password2', password2]] as const) {
        if (isUtf8(bytes)) continue;
        password.fill(0);
        password2.fill(0);
        throw new ConfigError(
          `${ctx.name ? `${ctx.name}: ` : ''}${name} does not reveal to text: it looks like a plain password stored without ` +
            `being obscured (store \`cryptfs obscure\` of it, or use ${name}_command); ` +
            `if rclone already wrote data with this exact value, set allow_binary_password = true`,
        );
      }
    }
    // Key derivation (scrypt, on the thread pool) and opening the remote underneath (an object
    // store's client and its authentication request) run side by side: a cold start pays for
    // the longer of the two, not both.
    const deriving = deriveKeys(password, password2).finally(() => {
      // The revealed passwords are not needed again: don't leave them on the heap.
      password.fill(0);
      password2.fill(0);
    });
    const opening = ctx.openRemote(target);
    const [derived, opened] = await Promise.allSettled([deriving, opening]);
    if (derived.status === 'rejected' || opened.status === 'rejected') {
      if (derived.status === 'fulfilled') wipeKeys(derived.value);
      if (opened.status === 'fulfilled') await opened.value.close?.().catch(() => undefined);
      throw derived.status === 'rejected' ? derived.reason : (opened as PromiseRejectedResult).reason;
    }
    const keys = derived.value;
    const underlying = opened.value;
    const remote = new CryptRemote(
      underlying,
      keys,
      {
        mode: o.choice('filename_encryption') as FilenameEncryptionMode,
        encoding: o.choice('filename_encoding') as FilenameEncodingName,
        directoryNameEncryption: o.bool('directory_name_encryption'),
        noDataEncryption: o.bool('no_data_encryption'),
        suffix: o.has('suffix') ? o.string('suffix') : undefined,
        strictNames: o.bool('strict_names'),
        showMapping: o.bool('show_mapping'),
        integrity: o.choice('integrity') as IntegrityMode,
      },
      ctx.name ? `${ctx.name}:` : `crypt(${redactSpec(target)})`,
    );
    // The ciphers hold their own copies in secure memory.
    wipeKeys(keys);
    if (!o.has('password2')) {
      log.info(
        `${ctx.name || 'crypt'}: password2 is not set: the built-in salt is the same for every rclone/cryptfs user; set password2 for a unique salt`,
      );
    }
    return ctx.root === '' ? remote : new SubRemote(remote, ctx.root, `${ctx.name}:${ctx.root}`);
  },
});
