// Whole-object checks behind `cryptfs verify` and `cryptfs seal`: the verdict on one crypt object
// without reading its content (the header only), or after a full authenticated read; and adding a
// record to an object that has none (rclone-written) or whose record names a path it was moved from.
//
// Everything reads the underlying object directly, not through CryptRemote.openRead, so that the
// objects an integrity = strict remote refuses can still be looked at and sealed.
import { createHash } from 'node:crypto';
import { ContentMismatchError, FileTruncatedError, NotSupportedError } from '../errors.js';
import { ContentCipher, HEADER_SIZE } from '../crypt/content-cipher.js';
import type { SealRecord } from '../crypt/seal.js';
import { recordMetadata } from './crypt-seal.js';
import type { CryptRemote } from './crypt.js';
import type { SealVerdict } from './crypt-verify.js';
import type { ByteSource, RemoteEntry } from './remote.js';

/** What a full authenticated read of an object establishes: the facts a record states. */
export type ContentFacts = Omit<SealRecord, 'encryptedPath'>;

/**
 * The first HEADER_SIZE bytes of the object at `encPath` (fewer if it is shorter) and its entry:
 * from the read's own response where the remote can (one request), else with a stat.
 */
async function readHeader(crypt: CryptRemote, encPath: string): Promise<{ header: Buffer; entry: RemoteEntry }> {
  const u = crypt.underlying;
  const range = { offset: 0, length: HEADER_SIZE };
  const { source, entry } = u.openReadWithInfo
    ? await u.openReadWithInfo(encPath, range)
    : { entry: await u.stat(encPath), source: await u.openRead(encPath, range) };
  const parts: Buffer[] = [];
  for await (const piece of source) parts.push(Buffer.from(piece));
  return { header: Buffer.concat(parts), entry };
}

/**
 * Reads the whole object at `encPath`, authenticating every chunk (throws the crypt format's
 * errors), and returns its header nonce, plaintext size and hashes. Streams: memory stays bounded.
 */
export async function readContentFacts(crypt: CryptRemote, encPath: string): Promise<ContentFacts & { entry?: RemoteEntry }> {
  let header: Buffer | undefined;
  const headerParts: Buffer[] = [];
  let headerBytes = 0;
  const u = crypt.underlying;
  const { source, entry } = u.openReadWithInfo ? await u.openReadWithInfo(encPath) : { source: await u.openRead(encPath), entry: undefined };
  // Keeps a copy of the header as the ciphertext goes by, for its nonce.
  async function* tap(): ByteSource {
    for await (const piece of source) {
      if (headerBytes < HEADER_SIZE) {
        const take = piece.subarray(0, HEADER_SIZE - headerBytes);
        headerParts.push(Buffer.from(take));
        headerBytes += take.length;
        if (headerBytes === HEADER_SIZE) header = Buffer.concat(headerParts);
      }
      yield piece;
    }
  }
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  let size = 0;
  for await (const plain of crypt.content.decrypt(tap())) {
    sha256.update(plain);
    md5.update(plain);
    sha1.update(plain);
    size += plain.length;
  }
  // decrypt() has checked the header; a stream that ended before it threw FileTooShortError.
  return {
    entry,
    headerNonce: ContentCipher.readNonce(header!),
    size,
    sha256: sha256.digest('hex'),
    md5: md5.digest('hex'),
    sha1: sha1.digest('hex'),
  };
}

export interface Audit {
  /** Plain path, relative to the crypt remote's root. */
  path: string;
  verdict: SealVerdict;
}

/**
 * The verdict on the object of plain `path` (relative to the crypt remote's root). Reads only the
 * header, unless `download`: then every chunk is authenticated and a sealed object's size and
 * hashes are compared with its record. Crypt format errors (a chunk that does not authenticate)
 * propagate.
 */
export async function auditObject(crypt: CryptRemote, path: string, options: { download?: boolean } = {}): Promise<Audit> {
  const enc = crypt.encryptFilePath(path);
  if (!options.download) {
    const { header, entry } = await readHeader(crypt, enc);
    return { path, verdict: await crypt.verifier.judge(path, enc, entry, ContentCipher.readNonce(header)) };
  }
  const facts = await readContentFacts(crypt, enc);
  const entry = facts.entry ?? (await crypt.underlying.stat(enc));
  const verdict = await crypt.verifier.judge(path, enc, entry, facts.headerNonce);
  if (verdict.status === 'sealed' || verdict.status === 'moved') {
    const r = verdict.record;
    if (facts.size < r.size) {
      return mismatched(path, new FileTruncatedError(path, `${facts.size} bytes read, sealed as ${r.size}`));
    }
    if (facts.size !== r.size || facts.sha256 !== r.sha256 || facts.md5 !== r.md5 || facts.sha1 !== r.sha1) {
      return mismatched(path, new ContentMismatchError(path, 'its content does not hash to the sealed hashes'));
    }
  }
  return { path, verdict };
}

function mismatched(path: string, error: ContentMismatchError | FileTruncatedError): Audit {
  return { path, verdict: { status: 'mismatch', error } };
}

export type SealOutcome =
  /** Already sealed for this name: left alone. */
  | 'sealed'
  /** A record was written (or would be, with dryRun). */
  | 'added'
  /** The record does not match: left alone (without `force`), `audit` says why. */
  | 'mismatch'
  /** The record did not match and was replaced (`force`). */
  | 'resealed';

/**
 * Adds a record to the object of plain `path` when it has none or was moved here by another tool,
 * after a full authenticated read; with `force` also one whose record does not match (the user
 * vouches for its content). The record goes into the object's metadata through the underlying
 * remote's setMetadata, other metadata kept.
 */
export async function sealObject(
  crypt: CryptRemote,
  path: string,
  options: { dryRun?: boolean; force?: boolean } = {},
): Promise<{ outcome: SealOutcome; audit: Audit }> {
  const audit = await auditObject(crypt, path);
  if (audit.verdict.status === 'sealed') return { outcome: 'sealed', audit };
  if (audit.verdict.status === 'mismatch' && !options.force) return { outcome: 'mismatch', audit };
  const setMetadata = crypt.underlying.setMetadata;
  if (!setMetadata) throw new NotSupportedError(`${crypt.underlying.displayName} keeps no metadata: its objects cannot be sealed`);
  const enc = crypt.encryptFilePath(path);
  const facts = await readContentFacts(crypt, enc);
  if (!options.dryRun) {
    const { entry: _entry, ...sealed } = facts;
    const text = crypt.sealKey.seal({ ...sealed, encryptedPath: enc });
    // recordMetadata also removes the pieces of a longer old record (a moved object's).
    await setMetadata.call(crypt.underlying, enc, recordMetadata(text));
  }
  return { outcome: audit.verdict.status === 'mismatch' ? 'resealed' : 'added', audit };
}
