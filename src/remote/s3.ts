// The S3 driver: any S3-compatible object store (AWS, Ceph, Minio, Swift's s3api, ...), laid out
// the way rclone's s3 backend lays it out, so rclone and cryptfs read each other's objects:
// buckets are top-level directories, directories inside a bucket are key prefixes, the
// modification time lives in `X-Amz-Meta-Mtime` (seconds as a decimal string) and an MD5 the
// ETag cannot carry lives in `X-Amz-Meta-Md5chksum` (base64).
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
// Types only: the SDK itself (~150 ms to load) is imported when an s3 remote is first opened,
// so registering the backend costs nothing to commands that never touch S3.
import type * as S3Sdk from '@aws-sdk/client-s3';
import type {
  BucketCannedACL,
  CompletedPart,
  HeadObjectCommandOutput,
  ObjectCannedACL,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  ConfigError,
  CryptfsError,
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  NotSupportedError,
  ObjectNotFoundError,
  RemoteIOError,
  SseNotEnforcedError,
  errorMessage,
} from '../errors.js';
import { log } from '../log.js';
import { registerBackend, type BackendContext, type OptionSpec, type OptionValues } from './registry.js';
import {
  cleanPath,
  dateToNs,
  nsToDate,
  joinPath,
  type ByteSource,
  type HashType,
  type ReadRange,
  type Remote,
  type RemoteEntry,
  type RemoteFeatures,
  type WriteOptions,
} from './remote.js';
import { formatMtime, formatMtimeNs, parseMtime, parseMtimeNs } from './object-store-util.js';
import { mapLimit } from '../concurrency.js';
import { parseMetadataTime, type Metadata } from './metadata.js';
import { ObjectChangedError, resumableBody, type OpenedBody } from './resumable-read.js';
import { backoffDelay, defaultRetryPolicy, isRetryableError, isRetryableStatus, type RetryPolicy } from './retry.js';

const MiB = 1024 * 1024;
/** S3 rejects parts below 5 MiB except the last one. */
export const MIN_PART_SIZE = 5 * MiB;
/** Largest single PUT (and single CopyObject) S3 accepts. */
const MAX_SINGLE_SIZE = 5 * 1024 * MiB;
const MAX_UPLOAD_PARTS = 10_000;
/** Metadata keys as rclone writes them (the SDK lower-cases them on the way back). */
const META_MTIME = 'mtime';
const META_MD5 = 'md5chksum';
/** rclone metadata an object's user metadata carries: everything but the keys the backend itself keeps (mtime, MD5). */
function userMetadataOf(stored: Record<string, string>): Metadata {
  const out: Metadata = {};
  for (const [k, v] of Object.entries(stored)) if (k !== META_MTIME && k !== META_MD5) out[k] = v;
  return out;
}

/** WriteOptions.metadata as S3 user metadata: keys lower-cased, never the backend's own. */
function storableMetadata(md: Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md ?? {})) {
    const key = k.toLowerCase();
    if (key !== META_MTIME && key !== META_MD5 && v !== '') out[key] = v;
  }
  return out;
}

/** HEADs in flight while listing one page (listing needs each object's metadata mtime). */
const LIST_HEAD_CONCURRENCY = 8;

// ---------------------------------------------------------------------------------------------
// Options, declared as data with rclone's names.

export const s3OptionSpecs: OptionSpec[] = [
  {
    name: 'provider',
    help: 'Choose your S3 provider.',
    examples: [
      { value: 'AWS', help: 'Amazon Web Services (AWS) S3' },
      { value: 'Alibaba', help: 'Alibaba Cloud Object Storage System (OSS) formerly Aliyun' },
      { value: 'Ceph', help: 'Ceph Object Storage' },
      { value: 'Cloudflare', help: 'Cloudflare R2 Storage' },
      { value: 'DigitalOcean', help: 'Digital Ocean Spaces' },
      { value: 'Dreamhost', help: 'Dreamhost DreamObjects' },
      { value: 'IBMCOS', help: 'IBM COS S3' },
      { value: 'Minio', help: 'Minio Object Storage' },
      { value: 'Scaleway', help: 'Scaleway Object Storage' },
      { value: 'Wasabi', help: 'Wasabi Object Storage' },
      { value: 'Other', help: 'Any other S3 compatible provider (OpenStack Swift s3api, e.g. CSC Allas, Cleura)' },
    ],
  },
  {
    name: 'env_auth',
    help:
      'Get AWS credentials from runtime (environment variables or EC2/ECS meta data if no env vars).\n\n' +
      'Only applies if access_key_id and secret_access_key is blank.',
    type: 'bool',
    default: false,
    examples: [
      { value: 'false', help: 'Enter AWS credentials in the next step.' },
      { value: 'true', help: 'Get AWS credentials from the environment (env vars or IAM).' },
    ],
  },
  {
    name: 'access_key_id',
    help: 'AWS Access Key ID.\n\nLeave blank for anonymous access or runtime credentials.',
  },
  {
    name: 'secret_access_key',
    help: 'AWS Secret Access Key (password).\n\nLeave blank for anonymous access or runtime credentials.',
    sensitive: true,
  },
  {
    name: 'region',
    help:
      'Region to connect to.\n\nLeave blank if you are using an S3 clone and you don\'t have a region ' +
      '(us-east-1 is used for signing then).',
    examples: [
      { value: '', help: 'Use this if unsure.\nWill use v4 signatures and an empty region.' },
      { value: 'us-east-1', help: 'US Region, Northern Virginia (the AWS default).' },
    ],
  },
  {
    name: 'endpoint',
    help:
      'Endpoint for S3 API.\n\nLeave blank if using AWS to use the default endpoint for the region.\n' +
      'Required when using an S3 clone, e.g. https://a3s.fi or http://127.0.0.1:8080.',
  },
  {
    name: 'location_constraint',
    help: 'Location constraint - must be set to match the Region.\n\nLeave blank if not sure. Used when creating buckets only.',
  },
  {
    name: 'acl',
    help:
      'Canned ACL used when creating buckets and storing or copying objects.\n\n' +
      'Left blank, no ACL header is sent and the server applies its default (private on AWS).',
    examples: [
      { value: 'private', help: 'Owner gets FULL_CONTROL.\nNo one else has access rights (default).' },
      { value: 'public-read', help: 'Owner gets FULL_CONTROL.\nThe AllUsers group gets READ access.' },
      {
        value: 'public-read-write',
        help: 'Owner gets FULL_CONTROL.\nThe AllUsers group gets READ and WRITE access.\nGranting this on a bucket is generally not recommended.',
      },
      { value: 'authenticated-read', help: 'Owner gets FULL_CONTROL.\nThe AuthenticatedUsers group gets READ access.' },
      { value: 'bucket-owner-read', help: 'Object owner gets FULL_CONTROL.\nBucket owner gets READ access.' },
      { value: 'bucket-owner-full-control', help: 'Both the object owner and the bucket owner get FULL_CONTROL over the object.' },
    ],
  },
  {
    name: 'sse_customer_algorithm',
    help: 'If using SSE-C, the server-side encryption algorithm used when storing this object in S3.',
    advanced: true,
    examples: [
      { value: '', help: 'None' },
      { value: 'AES256', help: 'AES256' },
    ],
  },
  {
    name: 'sse_customer_key',
    help:
      'To use SSE-C you may provide the secret encryption key used to encrypt/decrypt your data.\n\n' +
      'Alternatively you can provide --sse-customer-key-base64.\n\n' +
      'Some servers (OpenStack Swift\'s s3api among them) accept SSE-C headers and store the data ' +
      'unencrypted anyway; before the first upload to each bucket cryptfs probes it and warns when that happens ' +
      '(see sse_customer_require_enforced to make it an error).',
    sensitive: true,
    advanced: true,
  },
  {
    name: 'sse_customer_key_base64',
    help:
      'If using SSE-C you must provide the secret encryption key encoded in base64 format to encrypt/decrypt your data.\n\n' +
      'Alternatively you can provide --sse-customer-key.',
    sensitive: true,
    advanced: true,
  },
  {
    name: 'sse_customer_require_enforced',
    help:
      'Refuse to upload unless the server is seen to enforce SSE-C.\n\n' +
      'Before the first upload to a bucket with an SSE-C key, cryptfs stores a 1-byte probe object with the key ' +
      'and reads it back without it: a server that honours SSE-C refuses. With this set, a server that serves ' +
      'the probe anyway (so would store your data unencrypted), or a probe that still has no answer after ' +
      'its retries, fails the upload instead of only logging.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'sse_customer_key_md5',
    help:
      'If using SSE-C you may provide the secret encryption key MD5 checksum (optional).\n\n' +
      'If you leave it blank, this is calculated automatically from the sse_customer_key provided.',
    advanced: true,
  },
  {
    name: 'upload_cutoff',
    help:
      'Cutoff for switching to chunked upload.\n\nAny files larger than this will be uploaded in chunks of chunk_size.\n' +
      'The minimum is 0 and the maximum is 5 GiB.',
    type: 'size',
    default: '200Mi',
    advanced: true,
  },
  {
    name: 'chunk_size',
    help:
      'Chunk size to use for uploading.\n\nWhen uploading files larger than upload_cutoff or files with unknown size ' +
      'they will be uploaded as multipart uploads using this chunk size.\n\n' +
      'Note that "upload_concurrency" chunks of this size are buffered in memory per transfer.\n\n' +
      'The chunk size is raised automatically for large files of known size to stay below max_upload_parts. ' +
      'Files of unknown size are uploaded with the configured chunk_size, so with the default 5 MiB and ' +
      '10,000 parts the largest stream is 48 GiB.',
    type: 'size',
    default: '5Mi',
    advanced: true,
  },
  {
    name: 'max_upload_parts',
    help: 'Maximum number of parts in a multipart upload.\n\nUseful if a service does not support the AWS S3 limit of 10,000 parts.',
    type: 'int',
    default: MAX_UPLOAD_PARTS,
    advanced: true,
  },
  {
    name: 'copy_cutoff',
    help:
      'Cutoff for switching to multipart copy.\n\nAny files larger than this that need to be server-side copied ' +
      'will be copied in chunks of this size.\n\nThe minimum is 0 and the maximum is 5 GiB.',
    type: 'size',
    default: '4768Mi',
    advanced: true,
  },
  {
    name: 'disable_checksum',
    help:
      'Don\'t store MD5 checksum with object metadata.\n\nNormally the MD5 of multipart uploads (and of SSE-C ' +
      'objects, whose ETag is not an MD5) is stored in metadata when it is known before the upload.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'session_token',
    help: 'An AWS session token.',
    sensitive: true,
    advanced: true,
  },
  {
    name: 'upload_concurrency',
    help:
      'Concurrency for multipart uploads.\n\nThis is the number of chunks of the same file that are uploaded concurrently.',
    type: 'int',
    default: 4,
    advanced: true,
  },
  {
    name: 'force_path_style',
    help:
      'If true use path style access if false use virtual hosted style.\n\n' +
      'If this is true (the default) then path style access is used, if false then virtual host style. ' +
      'Some providers (e.g. AWS, Aliyun OSS, Netease COS, or Tencent COS) require this set to false - ' +
      'this is done automatically based on the provider setting.',
    type: 'bool',
    default: true,
    advanced: true,
  },
  {
    name: 'list_chunk',
    help: 'Size of listing chunk (response list for each ListObject S3 request).\n\nAlso known as "MaxKeys", "max-items", or "page-size".',
    type: 'int',
    default: 1000,
    advanced: true,
  },
  {
    name: 'no_check_bucket',
    help:
      'If set, don\'t attempt to check the bucket exists or create it.\n\n' +
      'This can be useful when trying to minimise the number of transactions if you know the bucket exists already, ' +
      'or when the user has no permission to create buckets.',
    type: 'bool',
    default: false,
    advanced: true,
  },
];

/** Providers rclone addresses with virtual-host style (bucket in the host name); all others use paths. */
const VIRTUAL_HOST_PROVIDERS = new Set(
  ['AWS', 'Alibaba', 'HuaweiOBS', 'DigitalOcean', 'Dreamhost', 'LyveCloud', 'Netease', 'RackCorp', 'Scaleway', 'Storj', 'TencentCOS', 'Wasabi'].map(
    (p) => p.toLowerCase(),
  ),
);

// ---------------------------------------------------------------------------------------------
// Public types.

export interface S3Logger {
  debug(message: string): void;
  warn(message: string): void;
}

/**
 * The default: the project log (src/log.ts), so -vv shows retries and SDK chatter as DEBUG lines;
 * warnings (the server ignoring SSE-C, an upload that could not be aborted) are ERROR lines, which
 * even -q shows, as rclone's Errorf does.
 */
export const projectLogger: S3Logger = {
  debug(message) {
    log.debug(message);
  },
  warn(message) {
    log.error(message);
  },
};

export interface SseCustomerKey {
  algorithm: string;
  /** The raw key bytes (32 for AES256). */
  key: Uint8Array;
}

export interface S3RemoteOptions {
  /** Config section name, for messages (`name:`). */
  name?: string;
  /** Path inside the store: '' (all buckets), 'bucket' or 'bucket/dir'. */
  root?: string;
  endpoint?: string;
  region?: string;
  /** Static credentials; omit with envAuth for the SDK's default chain, omit both for anonymous access. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  envAuth?: boolean;
  forcePathStyle?: boolean;
  chunkSize?: number;
  uploadCutoff?: number;
  uploadConcurrency?: number;
  maxUploadParts?: number;
  copyCutoff?: number;
  listChunk?: number;
  acl?: string;
  locationConstraint?: string;
  noCheckBucket?: boolean;
  disableChecksum?: boolean;
  sse?: SseCustomerKey;
  /** Fail uploads unless the SSE-C probe shows the server enforcing the key (sse_customer_require_enforced). */
  sseRequireEnforced?: boolean;
  /** Take mtimes from the server's Last-Modified instead of the metadata (saves a HEAD per listed object). */
  useServerModtime?: boolean;
  retryPolicy?: RetryPolicy;
  logger?: S3Logger;
  /** Socket idle timeout in ms (default 5 minutes). */
  requestTimeoutMs?: number;
  /**
   * Largest single-part object collected in memory so its PUT can be repeated after a failure
   * (default 16 MiB, as the swift driver); larger ones below upload_cutoff are streamed once.
   */
  replayBufferBytes?: number;
}

/** WriteOptions plus what S3 can record when it is known before the upload starts. */
/** WriteOptions.md5, when given, is stored as X-Amz-Meta-Md5chksum on multipart uploads, as rclone does. */
export type S3WriteOptions = WriteOptions;

// rclone's mtime text, shared with the swift driver; still exported here as part of this driver's API.
export { formatMtime, parseMtime };

// ---------------------------------------------------------------------------------------------
// Errors and retries.

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; attempts?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function sdkStatus(err: unknown): number | undefined {
  const status = (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status > 0 ? status : undefined;
}

function sdkRequestId(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.$metadata?.requestId ?? e?.$response?.headers?.['x-amz-request-id'] ?? undefined;
}

function sdkCode(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  return e?.name ?? e?.code ?? 'Error';
}

/**
 * Whether an S3 failure is worth repeating: 5xx (but not 501/505, which are permanent), 408, 429,
 * S3's own RequestTimeout (sent as 400), and network failures. Other 4xx never are.
 */
export function isRetryableS3Error(err: unknown): boolean {
  const status = sdkStatus(err);
  // A success whose body broke off while being read (the SDK tags it with the 2xx status): the
  // connection failed, not the request.
  if (status !== undefined && status < 300) return isRetryableError(err) || isBrokenBody(err);
  if (status !== undefined) {
    if (status === 501 || status === 505) return false;
    if (isRetryableStatus(status)) return true;
    return sdkCode(err) === 'RequestTimeout';
  }
  if (sdkCode(err) === 'AbortError') return false;
  return isRetryableError(err);
}

/** Whether an error says a response body ended early (Node's "aborted", undici's "terminated", ...). */
function isBrokenBody(err: unknown): boolean {
  return /\baborted\b|premature|terminated|socket hang up/i.test(errorMessage(err));
}

/** The SDK's retry hook, driven by the project's policy (attempts, backoff with full jitter). */
export class S3RetryStrategy {
  readonly mode = 'cryptfs';
  constructor(
    readonly policy: RetryPolicy,
    private readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  ) {}

  async acquireInitialRetryToken(_scope: string): Promise<RetryTokenImpl> {
    return new RetryTokenImpl(0, 0);
  }

  async refreshRetryTokenForRetry(
    token: { getRetryCount(): number },
    info: { error?: unknown; retryAfterHint?: Date },
  ): Promise<RetryTokenImpl> {
    const retries = token.getRetryCount();
    if (retries + 1 >= this.policy.attempts || !isRetryableS3Error(info.error)) {
      throw new Error('no retry');
    }
    let delay = backoffDelay(retries, this.policy);
    if (info.retryAfterHint instanceof Date) {
      delay = Math.max(delay, Math.min(info.retryAfterHint.getTime() - Date.now(), this.policy.maxDelayMs));
    }
    this.onRetry?.(info.error, retries + 1, delay);
    return new RetryTokenImpl(retries + 1, delay);
  }

  recordSuccess(_token: unknown): void {}
}

class RetryTokenImpl {
  constructor(
    private readonly count: number,
    private readonly delay: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
  getRetryCost(): number | undefined {
    return undefined;
  }
}

type NotFoundKind = 'object' | 'dir' | 'none';

/** Turns an SDK or network failure into the project's typed errors. */
export function toRemoteError(err: unknown, what: string, path: string, notFound: NotFoundKind = 'object'): Error {
  if (err instanceof CryptfsError) return err;
  const status = sdkStatus(err);
  const code = sdkCode(err);
  if (notFound !== 'none') {
    const missing = code === 'NoSuchKey' || code === 'NoSuchBucket' || code === 'NotFound' || status === 404;
    if (missing) {
      return notFound === 'dir' ? new DirNotFoundError(path, { cause: err }) : new ObjectNotFoundError(path, { cause: err });
    }
  }
  const requestId = sdkRequestId(err);
  const attempts = (err as SdkErrorShape | undefined)?.$metadata?.attempts;
  const details = [
    status !== undefined ? `HTTP ${status}` : undefined,
    requestId ? `request id ${requestId}` : undefined,
    attempts && attempts > 1 ? `${attempts} attempts` : undefined,
  ].filter(Boolean);
  const message = (err as SdkErrorShape | undefined)?.message;
  const text = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
  return new RemoteIOError(`s3: ${what} ${JSON.stringify(path)}: ${text}${details.length ? ` (${details.join(', ')})` : ''}`, {
    cause: err,
    status,
    requestId,
    retryable: isRetryableS3Error(err),
  });
}

// ---------------------------------------------------------------------------------------------
// Config.

function normaliseEndpoint(endpoint: string): string | undefined {
  const e = endpoint.trim();
  if (e === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `https://${e}`;
}

/** Reads rclone-style option values into driver options (validating them as rclone does). */
export function s3OptionsFromConfig(values: OptionValues, name = '', root = ''): S3RemoteOptions {
  const where = (opt: string) => (name ? `${name}: ${opt}` : opt);
  const provider = values.string('provider');
  const chunkSize = values.size('chunk_size');
  if (chunkSize < MIN_PART_SIZE) throw new ConfigError(`${where('chunk_size')}: ${chunkSize} is less than 5 MiB`);
  const uploadCutoff = values.size('upload_cutoff');
  if (uploadCutoff > MAX_SINGLE_SIZE) throw new ConfigError(`${where('upload_cutoff')}: ${uploadCutoff} is greater than 5 GiB`);
  const copyCutoff = values.size('copy_cutoff');
  if (copyCutoff > MAX_SINGLE_SIZE) throw new ConfigError(`${where('copy_cutoff')}: ${copyCutoff} is greater than 5 GiB`);
  const uploadConcurrency = values.int('upload_concurrency');
  if (uploadConcurrency < 1) throw new ConfigError(`${where('upload_concurrency')}: must be at least 1`);
  const maxUploadParts = Math.min(Math.max(values.int('max_upload_parts'), 1), MAX_UPLOAD_PARTS);
  const listChunk = values.int('list_chunk');
  if (listChunk < 1) throw new ConfigError(`${where('list_chunk')}: must be at least 1`);
  const region = values.string('region');
  if (region === 'other-v2-signature') {
    throw new ConfigError(`${where('region')}: v2 signatures are not supported, use v4 (leave region blank)`);
  }

  const accessKeyId = values.string('access_key_id');
  const secretAccessKey = values.string('secret_access_key');
  const sessionToken = values.string('session_token');
  if ((accessKeyId === '') !== (secretAccessKey === '')) {
    throw new ConfigError(
      accessKeyId === '' ? `${where('access_key_id')} not set (secret_access_key is)` : `${where('secret_access_key')} not set (access_key_id is)`,
    );
  }

  let forcePathStyle = values.bool('force_path_style');
  if (VIRTUAL_HOST_PROVIDERS.has(provider.toLowerCase())) forcePathStyle = false;

  return {
    name,
    root,
    endpoint: normaliseEndpoint(values.string('endpoint')),
    region: region === '' ? undefined : region,
    credentials: accessKeyId ? { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined } : undefined,
    envAuth: values.bool('env_auth'),
    forcePathStyle,
    chunkSize,
    uploadCutoff,
    uploadConcurrency,
    maxUploadParts,
    copyCutoff,
    listChunk,
    acl: values.string('acl') || undefined,
    locationConstraint: values.string('location_constraint') || undefined,
    noCheckBucket: values.bool('no_check_bucket'),
    disableChecksum: values.bool('disable_checksum'),
    sse: sseFromConfig(values, where),
    sseRequireEnforced: values.bool('sse_customer_require_enforced'),
  };
}

function sseFromConfig(values: OptionValues, where: (opt: string) => string): SseCustomerKey | undefined {
  const algorithm = values.string('sse_customer_algorithm');
  const rawKey = values.string('sse_customer_key');
  const base64Key = values.string('sse_customer_key_base64');
  const keyMd5 = values.string('sse_customer_key_md5');
  if (rawKey && base64Key) {
    throw new ConfigError(`${where('sse_customer_key')} and sse_customer_key_base64 are both set; use one`);
  }
  let key: Uint8Array | undefined;
  if (rawKey) key = Buffer.from(rawKey, 'utf8');
  if (base64Key) {
    const decoded = Buffer.from(base64Key, 'base64');
    key = decoded;
    if (decoded.length === 0 || decoded.toString('base64').replace(/=+$/, '') !== base64Key.trim().replace(/=+$/, '')) {
      throw new ConfigError(`${where('sse_customer_key_base64')}: not valid base64`);
    }
  }
  if (!algorithm && !key) return undefined;
  if (!algorithm) throw new ConfigError(`${where('sse_customer_algorithm')} not set but an SSE-C key is`);
  if (!key) throw new ConfigError(`${where('sse_customer_key')} (or sse_customer_key_base64) not set but sse_customer_algorithm is`);
  if (algorithm.toUpperCase() === 'AES256' && key.length !== 32) {
    throw new ConfigError(`${where('sse_customer_key')}: AES256 needs a 32-byte key, this one has ${key.length} bytes`);
  }
  if (keyMd5) {
    const actual = createHash('md5').update(key).digest('base64');
    if (actual !== keyMd5.trim()) {
      throw new ConfigError(`${where('sse_customer_key_md5')} does not match the key (its MD5 is ${actual})`);
    }
  }
  return { algorithm, key };
}

// ---------------------------------------------------------------------------------------------
// Streams.

/** Cuts a byte stream into parts of a fixed size, copying into caller-provided buffers. */
class PartReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | undefined;
  private ended = false;
  /** Bytes handed out so far. */
  total = 0;

  constructor(source: ByteSource) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Fills `buffer` as far as the source allows; a short (or empty) result means the source ended. */
  async fill(buffer: Buffer): Promise<Buffer> {
    let filled = 0;
    while (filled < buffer.length) {
      let chunk = this.pending;
      this.pending = undefined;
      if (chunk === undefined) {
        if (this.ended) break;
        const next = await this.iterator.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        chunk = next.value;
      }
      const n = Math.min(buffer.length - filled, chunk.length);
      buffer.set(chunk.subarray(0, n), filled);
      filled += n;
      if (n < chunk.length) this.pending = chunk.subarray(n);
    }
    this.total += filled;
    return buffer.subarray(0, filled);
  }

  /** Whether the source has more bytes (reads ahead one chunk if needed). */
  async hasMore(): Promise<boolean> {
    while (this.pending === undefined || this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.pending = next.value;
    }
    return true;
  }

  /** Lets the source release what it holds when we stop early. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      try {
        await this.iterator.return?.();
      } catch {
        // The source already failed; its error is the one being reported.
      }
    }
  }
}

/** The MD5 (lower-case hex) an ETag carries, if it looks like one (multipart and SSE-C ETags do not). */
function etagMd5(etag: string | undefined): string | undefined {
  const hex = etag?.replace(/"/g, '').toLowerCase();
  return hex && /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}

function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/** S3's URL form of `x-amz-copy-source`: each key segment percent-encoded, '/' kept. */
function copySource(bucket: string, key: string): string {
  return `${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** A key from a listing page, undoing `encoding-type=url` when the page says it applied it (query-string style: '+' is a space). */
function listedKey(page: { EncodingType?: string }, key: string): string {
  return page.EncodingType === 'url' ? decodeURIComponent(key.replace(/\+/g, ' ')) : key;
}

// ---------------------------------------------------------------------------------------------
// The remote.

/** The SSE-C probe object: at the top of the bucket, named as no crypt name can be, removed right after. */
const SSE_PROBE_PREFIX = '.cryptfs-sse-c-probe-';
const SSE_PROBE_ATTEMPTS = 3;

interface Location {
  bucket: string;
  /** Key inside the bucket; '' for the bucket itself. */
  key: string;
}

interface ObjectInfo {
  size: number;
  mtime: Date;
  /** The stored modification time to the nanosecond, when it came from rclone's metadata. */
  mtimeNs?: bigint;
  etag?: string;
  metadata: Record<string, string>;
  contentType?: string;
  lastModified?: Date;
}

export class S3Remote implements Remote {
  readonly type = 's3';
  readonly displayName: string;
  readonly features: RemoteFeatures = {
    move: true,
    copy: true,
    realDirectories: false,
    hashes: ['md5'],
    caseInsensitive: false,
  };
  /**
   * Per bucket: whether the server refused a GET without the SSE-C key ('enforced'), served it
   * ('ignored'), or the probe had no verdict yet ('unknown': probed again before the next upload).
   */
  readonly sseCheck = new Map<string, 'enforced' | 'ignored' | 'unknown'>();
  /** Probes under way, so parallel uploads to one bucket share one. */
  private readonly sseProbes = new Map<string, Promise<void>>();

  readonly client: S3Client;
  private readonly root: string;
  private readonly chunkSize: number;
  private readonly uploadCutoff: number;
  private readonly uploadConcurrency: number;
  private readonly maxUploadParts: number;
  private readonly copyCutoff: number;
  private readonly listChunk: number;
  private readonly replayBufferBytes: number;
  private readonly log: S3Logger;
  private readonly bucketsKnown = new Set<string>();
  private sseWarned = false;

  /** Opens the remote, loading the SDK on first use. */
  static async create(options: S3RemoteOptions): Promise<S3Remote> {
    return new S3Remote(options, await loadSdk());
  }

  /** Use S3Remote.create(), which supplies the SDK module. */
  constructor(
    readonly options: S3RemoteOptions,
    private readonly sdk: typeof S3Sdk,
  ) {
    this.root = cleanPath(options.root ?? '');
    this.displayName = options.name ? `${options.name}:${this.root}` : `s3:${this.root}`;
    this.chunkSize = Math.max(options.chunkSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.uploadCutoff = Math.min(options.uploadCutoff ?? 200 * MiB, MAX_SINGLE_SIZE);
    this.uploadConcurrency = Math.max(1, options.uploadConcurrency ?? 4);
    this.maxUploadParts = Math.min(Math.max(1, options.maxUploadParts ?? MAX_UPLOAD_PARTS), MAX_UPLOAD_PARTS);
    this.copyCutoff = Math.min(options.copyCutoff ?? 4768 * MiB, MAX_SINGLE_SIZE);
    this.listChunk = Math.max(1, options.listChunk ?? 1000);
    this.replayBufferBytes = Math.max(0, options.replayBufferBytes ?? 16 * MiB);
    this.log = options.logger ?? projectLogger;
    // Multipart objects have no content MD5 unless the writer supplies one.
    this.features.md5UpfrontFrom = this.uploadCutoff;
    const policy = options.retryPolicy ?? defaultRetryPolicy;
    const log = this.log;

    const config: S3ClientConfig = {
      region: options.region || 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? true,
      // Swift's s3api (and other clones) reject aws-chunked uploads and flexible checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: policy.attempts,
      retryStrategy: new S3RetryStrategy(policy, (err, attempt, delay) =>
        log.debug(`s3: low level retry ${attempt}/${policy.attempts - 1} in ${Math.round(delay)} ms (error ${describeRetryError(err)})`),
      ),
      requestHandler: {
        connectionTimeout: 30_000,
        requestTimeout: options.requestTimeoutMs ?? 300_000,
        httpAgent: { keepAlive: true, maxSockets: 64 },
        httpsAgent: { keepAlive: true, maxSockets: 64 },
      },
      // The SDK logs every failed command (and non-retryable streamed bodies) on the console; we
      // report failures as typed errors, so its output only goes to debug.
      logger: {
        trace: () => {},
        debug: () => {},
        info: () => {},
        warn: (...args: unknown[]) => log.debug(`s3 sdk: ${describeSdkLog(args)}`),
        error: (...args: unknown[]) => log.debug(`s3 sdk: ${describeSdkLog(args)}`),
      },
    };
    if (options.credentials) {
      config.credentials = options.credentials;
    } else if (!options.envAuth) {
      // Anonymous access: send requests unsigned.
      config.signer = { sign: async (request) => request };
      config.credentials = { accessKeyId: '', secretAccessKey: '' };
    }
    this.client = new sdk.S3Client(config);
    // Swift's s3api insists on Content-MD5 for DeleteObjects (400 without it); the SDK now sends a
    // CRC32 there instead. Replace it with the MD5 of the serialized body.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string>; body?: unknown };
        if (context.commandName === 'DeleteObjectsCommand' && request.headers) {
          const body = request.body;
          if (typeof body === 'string' || body instanceof Uint8Array) {
            for (const h of Object.keys(request.headers)) {
              if (h.toLowerCase().startsWith('x-amz-checksum-') || h.toLowerCase() === 'x-amz-sdk-checksum-algorithm') {
                delete request.headers[h];
              }
            }
            request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
          }
        }
        return next(args);
      },
      { step: 'build', priority: 'low', name: 'cryptfsContentMd5' },
    );
  }

  // ---- paths ----

  private locate(path: string): Location {
    const full = joinPath(this.root, cleanPath(path));
    const i = full.indexOf('/');
    return i < 0 ? { bucket: full, key: '' } : { bucket: full.slice(0, i), key: full.slice(i + 1) };
  }

  /** SSE-C fields for requests on objects (PUT, GET, HEAD, multipart, copy destination). */
  private sseInput(): { SSECustomerAlgorithm?: string; SSECustomerKey?: string } {
    const sse = this.options.sse;
    if (!sse) return {};
    // The SDK base64-encodes a byte key and adds its MD5 (x-amz-server-side-encryption-customer-key-MD5).
    return { SSECustomerAlgorithm: sse.algorithm, SSECustomerKey: sse.key as unknown as string };
  }

  private sseCopySourceInput(): { CopySourceSSECustomerAlgorithm?: string; CopySourceSSECustomerKey?: string } {
    const sse = this.options.sse;
    if (!sse) return {};
    return { CopySourceSSECustomerAlgorithm: sse.algorithm, CopySourceSSECustomerKey: sse.key as unknown as string };
  }

  private aclInput(): { ACL?: ObjectCannedACL } {
    return this.options.acl ? { ACL: this.options.acl as ObjectCannedACL } : {};
  }

  // ---- buckets ----

  private async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      const status = sdkStatus(err);
      if (status === 404 || sdkCode(err) === 'NoSuchBucket' || sdkCode(err) === 'NotFound') return false;
      throw toRemoteError(err, 'head bucket', bucket, 'none');
    }
  }

  /** Creates the bucket unless it exists (once per bucket per remote), as rclone does before writes. */
  private async ensureBucket(bucket: string): Promise<void> {
    if (this.options.noCheckBucket || this.bucketsKnown.has(bucket)) return;
    if (!(await this.bucketExists(bucket))) {
      try {
        await this.client.send(
          new this.sdk.CreateBucketCommand({
            Bucket: bucket,
            ...(this.options.acl ? { ACL: this.options.acl as BucketCannedACL } : {}),
            ...(this.options.locationConstraint
              ? { CreateBucketConfiguration: { LocationConstraint: this.options.locationConstraint as never } }
              : {}),
          }),
        );
        this.log.debug(`s3: created bucket ${bucket}`);
      } catch (err) {
        if (sdkCode(err) !== 'BucketAlreadyOwnedByYou') throw toRemoteError(err, 'create bucket', bucket, 'none');
      }
    }
    this.bucketsKnown.add(bucket);
  }

  // ---- reading metadata ----

  private async headObject(loc: Location, path: string): Promise<ObjectInfo> {
    let out: HeadObjectCommandOutput;
    try {
      out = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key, ...this.sseInput() }));
    } catch (err) {
      throw toRemoteError(err, 'head', path);
    }
    return this.objectInfo(out);
  }

  private objectInfo(out: {
    ContentLength?: number;
    ETag?: string;
    LastModified?: Date;
    Metadata?: Record<string, string>;
    ContentType?: string;
  }): ObjectInfo {
    const metadata = out.Metadata ?? {};
    const lastModified = out.LastModified;
    return {
      size: out.ContentLength ?? 0,
      etag: out.ETag,
      metadata,
      contentType: out.ContentType,
      lastModified,
      mtime: this.pickMtime(metadata, lastModified),
      mtimeNs: this.options.useServerModtime ? undefined : parseMtimeNs(metadata?.[META_MTIME]),
    };
  }

  private pickMtime(metadata: Record<string, string> | undefined, lastModified: Date | undefined): Date {
    if (!this.options.useServerModtime) {
      const fromMeta = parseMtime(metadata?.[META_MTIME]);
      if (fromMeta) return fromMeta;
    }
    return lastModified ?? new Date(0);
  }

  /** The MD5 an object's metadata or ETag carries, as rclone reads it. */
  private md5Of(info: ObjectInfo): string | undefined {
    const stored = info.metadata[META_MD5];
    if (stored) {
      const bytes = Buffer.from(stored, 'base64');
      if (bytes.length === 16) return bytes.toString('hex');
    }
    // With SSE-C the ETag is not the MD5 of the content.
    if (this.options.sse) return undefined;
    return etagMd5(info.etag);
  }

  // ---- Remote: listing ----

  async *list(dir: string): AsyncIterable<RemoteEntry> {
    const loc = this.locate(dir);
    if (loc.bucket === '') {
      yield* this.listBuckets(dir);
      return;
    }
    const prefix = loc.key === '' ? '' : `${loc.key}/`;
    // A directory inside a bucket exists while some key (or a "dir/" marker) lives under it.
    let found = loc.key === '';
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: loc.bucket,
            Prefix: prefix,
            Delimiter: '/',
            MaxKeys: this.listChunk,
            ContinuationToken: token,
            EncodingType: 'url',
          }),
        );
      } catch (err) {
        throw toRemoteError(err, 'list', dir, 'dir');
      }
      if ((page.CommonPrefixes?.length ?? 0) > 0 || (page.Contents?.length ?? 0) > 0) found = true;
      for (const p of page.CommonPrefixes ?? []) {
        if (!p.Prefix) continue;
        const name = listedKey(page, p.Prefix).slice(prefix.length).replace(/\/$/, '');
        if (name === '') continue;
        yield { path: joinPath(dir, name), isDir: true, size: -1, mtime: new Date(0) };
      }
      const objects = (page.Contents ?? [])
        .map((o) => ({ key: listedKey(page, o.Key ?? ''), size: o.Size ?? 0, lastModified: o.LastModified }))
        // Directory markers ("dir/" objects some tools create) are not files.
        .filter((o) => o.key.length > prefix.length && !o.key.endsWith('/'));
      const entries = await mapLimit(objects, this.options.useServerModtime ? 1 : LIST_HEAD_CONCURRENCY, async (o) => {
        const name = o.key.slice(prefix.length);
        let mtime = o.lastModified ?? new Date(0);
        let mtimeNs: bigint | undefined;
        let metadata: Metadata | undefined;
        if (!this.options.useServerModtime) {
          try {
            const info = await this.headObject({ bucket: loc.bucket, key: o.key }, joinPath(dir, name));
            ({ mtime, mtimeNs } = info);
            metadata = userMetadataOf(info.metadata);
          } catch (err) {
            // Deleted between the listing and the HEAD: the listing's time will do.
            if (!(err instanceof ObjectNotFoundError)) throw err;
          }
        }
        return { path: joinPath(dir, name), isDir: false, size: o.size, mtime, mtimeNs, metadata } satisfies RemoteEntry;
      });
      yield* entries;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new RemoteIOError(`s3: list ${JSON.stringify(dir)}: truncated listing without a continuation token`);
      }
    } while (token);
    if (!found) throw new DirNotFoundError(dir);
  }

  private async *listBuckets(dir: string): AsyncIterable<RemoteEntry> {
    let out;
    try {
      out = await this.client.send(new this.sdk.ListBucketsCommand({}));
    } catch (err) {
      throw toRemoteError(err, 'list buckets', dir, 'none');
    }
    for (const b of out.Buckets ?? []) {
      if (!b.Name) continue;
      yield { path: joinPath(dir, b.Name), isDir: true, size: -1, mtime: b.CreationDate ?? new Date(0) };
    }
  }

  /** Whether anything (object or marker) lives under `key/`. */
  private async prefixHasObjects(bucket: string, key: string, path: string): Promise<{ keys: string[]; more: boolean }> {
    try {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: key === '' ? '' : `${key}/`, MaxKeys: 2, EncodingType: 'url' }),
      );
      return { keys: (page.Contents ?? []).map((o) => listedKey(page, o.Key ?? '')), more: Boolean(page.IsTruncated) };
    } catch (err) {
      throw toRemoteError(err, 'list', path, 'dir');
    }
  }

  async stat(path: string): Promise<RemoteEntry> {
    const loc = this.locate(path);
    if (loc.bucket === '') return { path: '', isDir: true, size: -1, mtime: new Date(0) };
    if (loc.key === '') {
      if (await this.bucketExists(loc.bucket)) return { path, isDir: true, size: -1, mtime: new Date(0) };
      throw new ObjectNotFoundError(path);
    }
    try {
      const info = await this.headObject(loc, path);
      return { path, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs, metadata: userMetadataOf(info.metadata) };
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
    // Not an object: a directory if some key lives under it.
    let found;
    try {
      found = await this.prefixHasObjects(loc.bucket, loc.key, path);
    } catch (err) {
      if (err instanceof DirNotFoundError) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
    if (found.keys.length > 0) return { path, isDir: true, size: -1, mtime: new Date(0) };
    throw new ObjectNotFoundError(path);
  }

  async hash(path: string, type: HashType): Promise<string | undefined> {
    if (type !== 'md5') return undefined;
    const loc = this.locate(path);
    if (loc.key === '') throw new IsDirectoryError(path);
    return this.md5Of(await this.headObject(loc, path));
  }

  // ---- Remote: reading ----

  async openRead(path: string, range?: ReadRange): Promise<ByteSource> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const offset = range?.offset ?? 0;
    const length = range?.length;
    if (offset < 0 || (length !== undefined && length < 0)) throw new RangeError(`bad range ${offset}+${length}`);
    if (length === 0) {
      await this.headObject(loc, path); // "not found" must surface here
      return emptySource();
    }
    const end = length === undefined ? undefined : offset + length;
    const first = await this.openBody(loc, path, offset, end, undefined);
    if (!first) return emptySource();
    const policy = this.options.retryPolicy ?? defaultRetryPolicy;
    const body = resumableBody(first, {
      target: `s3: read ${JSON.stringify(path)}`,
      offset,
      end,
      policy,
      // The same version only: a changed object answers 412 rather than the rest of another one.
      reopen: (position, etag) => this.openBody(loc, path, position, end, etag),
      isResumable: (err) => isRetryableError(err) || isBrokenBody(err),
      onResume: (err, attempt, delay, position) =>
        this.log.debug(
          `s3: read ${path}: resuming at byte ${position}: low level retry ${attempt}/${policy.attempts - 1} in ${Math.round(delay)} ms (error ${describeRetryError(err)})`,
        ),
    });
    return mapStreamErrors(body, path);
  }

  /**
   * A GetObject from `offset` (to `end`), of version `ifMatch` when given; undefined when the range
   * starts at or past the end. The SDK retries the request; a failure of the body is the caller's.
   */
  private async openBody(loc: Location, path: string, offset: number, end: number | undefined, ifMatch: string | undefined): Promise<OpenedBody | undefined> {
    let rangeHeader: string | undefined;
    if (offset > 0 || end !== undefined) rangeHeader = end === undefined ? `bytes=${offset}-` : `bytes=${offset}-${end - 1}`;
    let out;
    try {
      out = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: rangeHeader, IfMatch: ifMatch, ...this.sseInput() }),
      );
    } catch (err) {
      // A range starting at or past the end: the object exists, there is nothing to read.
      if (sdkStatus(err) === 416) return undefined;
      if (ifMatch !== undefined && sdkStatus(err) === 412) {
        throw new ObjectChangedError(`s3: read ${JSON.stringify(path)}`, offset, { was: ifMatch, cause: err });
      }
      throw toRemoteError(err, 'open', path);
    }
    const body = out.Body as unknown as AsyncIterable<Uint8Array> | undefined;
    return { body: body ?? emptySource(), etag: out.ETag };
  }

  // ---- Remote: writing ----

  async write(path: string, source: ByteSource, options: S3WriteOptions = {}): Promise<RemoteEntry> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    if (options.md5 !== undefined && !/^[0-9a-f]{32}$/.test(options.md5)) {
      throw new RangeError(`md5 must be 32 lower-case hex digits, got ${JSON.stringify(options.md5)}`);
    }
    await this.ensureBucket(loc.bucket);
    await this.ensureSseEnforced(loc.bucket);
    const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
    const mtime = nsToDate(mtimeNs);
    const metadata: Record<string, string> = { ...storableMetadata(options.metadata), [META_MTIME]: formatMtimeNs(mtimeNs) };
    const size = options.size;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new RangeError(`bad size ${size}`);

    let written: number;
    if (size !== undefined && (size < this.uploadCutoff || size === 0)) {
      // Collected in memory when small enough, so a PUT broken off mid-body is sent again.
      if (size <= Math.max(this.chunkSize, this.replayBufferBytes)) {
        const reader = new PartReader(source);
        const buffer = await reader.fill(Buffer.allocUnsafe(size));
        if (buffer.length !== size || (await reader.hasMore())) {
          await reader.close();
          throw sizeMismatch(path, size, buffer.length === size ? `more than ${size}` : String(buffer.length));
        }
        await this.putBuffer(loc, path, buffer, metadata, options.md5);
      } else {
        await this.putStream(loc, path, source, size, metadata, options.md5);
      }
      written = size;
    } else {
      written = await this.putMultipart(loc, path, source, size, metadata, options.md5);
    }
    return { path, isDir: false, size: written, mtime, mtimeNs };
  }

  /** Single PUT of bytes in memory (retried by the SDK; the server checks Content-MD5). */
  private async putBuffer(loc: Location, path: string, data: Buffer, metadata: Record<string, string>, knownMd5?: string): Promise<void> {
    const md5 = md5Base64(data);
    if (knownMd5 && Buffer.from(md5, 'base64').toString('hex') !== knownMd5) {
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}`);
    }
    const meta = { ...metadata };
    if (this.options.sse && !this.options.disableChecksum) meta[META_MD5] = md5;
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5,
          ContentType: 'application/octet-stream',
          Metadata: meta,
          ...this.aclInput(),
          ...this.sseInput(),
        }),
      );
    } catch (err) {
      throw toRemoteError(err, 'write', path, 'none');
    }
  }

  /**
   * Single PUT streamed from the source (too big to buffer, below upload_cutoff). Not retried by
   * the SDK (a stream cannot be replayed); the ETag is checked against the MD5 of what was sent.
   */
  private async putStream(
    loc: Location,
    path: string,
    source: ByteSource,
    size: number,
    metadata: Record<string, string>,
    knownMd5?: string,
  ): Promise<void> {
    const meta = { ...metadata };
    if (knownMd5 && this.options.sse && !this.options.disableChecksum) {
      meta[META_MD5] = Buffer.from(knownMd5, 'hex').toString('base64');
    }
    const abort = new AbortController();
    const hash = createHash('md5');
    let sourceError: unknown;
    let sent = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of source) {
          sent += chunk.length;
          if (sent > size) throw sizeMismatch(path, size, `more than ${size}`);
          hash.update(chunk);
          yield chunk;
        }
        if (sent !== size) throw sizeMismatch(path, size, String(sent));
      } catch (err) {
        // The SDK pipes the body and would wait forever for the missing bytes: abort the request.
        sourceError = err;
        abort.abort();
        throw err;
      }
    }
    const body = Readable.from(counted(), { objectMode: false, highWaterMark: 64 * 1024 });
    // The SDK pipes the body without an error listener; the failure is reported from sourceError.
    body.on('error', () => {});
    let etag: string | undefined;
    try {
      const out = await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: body,
          ContentLength: size,
          ContentType: 'application/octet-stream',
          Metadata: meta,
          ...this.aclInput(),
          ...this.sseInput(),
        }),
        { abortSignal: abort.signal },
      );
      etag = out.ETag;
    } catch (err) {
      body.destroy();
      if (sourceError !== undefined) throw sourceError;
      throw toRemoteError(err, 'write', path, 'none');
    }
    const md5 = hash.digest('hex');
    const etagHex = etagMd5(etag);
    if (!this.options.sse && etagHex && etagHex !== md5) {
      await this.deleteQuietly(loc);
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: server stored MD5 ${etagHex}, sent ${md5}; object removed`);
    }
    if (knownMd5 && knownMd5 !== md5) {
      await this.deleteQuietly(loc);
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}; object removed`);
    }
  }

  /** `partSize` (chunk_size for uploads), grown to whole MiB when the object would not fit in max_upload_parts. */
  private partSizeFor(size: number | undefined, partSize = this.chunkSize): number {
    if (size === undefined || size <= partSize * this.maxUploadParts) return partSize;
    return Math.ceil(size / this.maxUploadParts / MiB) * MiB;
  }

  /** Starts a multipart upload (of new content, or of a copy) carrying the object's final metadata. */
  private async createMultipartUpload(
    to: Location,
    path: string,
    what: 'upload' | 'copy',
    metadata: Record<string, string>,
    contentType = 'application/octet-stream',
  ): Promise<string> {
    try {
      const created = await this.client.send(
        new this.sdk.CreateMultipartUploadCommand({
          Bucket: to.bucket,
          Key: to.key,
          ContentType: contentType,
          Metadata: metadata,
          ...this.aclInput(),
          ...this.sseInput(),
        }),
      );
      if (!created.UploadId) {
        throw new RemoteIOError(`s3: ${what === 'upload' ? 'write' : 'copy'} ${JSON.stringify(path)}: server returned no upload id`);
      }
      return created.UploadId;
    } catch (err) {
      throw toRemoteError(err, `start multipart ${what} of`, path, 'none');
    }
  }

  private async completeMultipartUpload(
    to: Location,
    path: string,
    what: 'upload' | 'copy',
    uploadId: string,
    parts: CompletedPart[],
  ): Promise<void> {
    try {
      await this.client.send(
        new this.sdk.CompleteMultipartUploadCommand({
          Bucket: to.bucket,
          Key: to.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...this.sseInput(),
        }),
      );
    } catch (err) {
      // A repeated complete whose first attempt took effect (its answer was lost) finds no upload.
      if ((sdkCode(err) === 'NoSuchUpload' || sdkStatus(err) === 404) && (await this.completedAlready(to, parts))) {
        this.log.debug(`s3: multipart ${what} of ${path} was completed by an earlier attempt`);
        return;
      }
      throw toRemoteError(err, `complete multipart ${what} of`, path, 'none');
    }
  }

  /** Whether the object now at `to` is the one these parts make (its ETag is S3's multipart ETag of them). */
  private async completedAlready(to: Location, parts: CompletedPart[]): Promise<boolean> {
    const hash = createHash('md5');
    for (const p of parts) {
      const hex = etagMd5(p.ETag);
      if (!hex) return false;
      hash.update(Buffer.from(hex, 'hex'));
    }
    const expected = `${hash.digest('hex')}-${parts.length}`;
    try {
      const out = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: to.bucket, Key: to.key, ...this.sseInput() }));
      return out.ETag?.replace(/"/g, '').toLowerCase() === expected;
    } catch {
      return false;
    }
  }

  /**
   * Multipart upload: parts of part size read one at a time into at most `upload_concurrency`
   * buffers, uploaded in parallel, completed in order; any failure aborts the upload so no partial
   * object appears. A stream of unknown size that ends within the first part goes as a single PUT.
   * Returns the number of bytes written.
   */
  private async putMultipart(
    loc: Location,
    path: string,
    source: ByteSource,
    size: number | undefined,
    metadata: Record<string, string>,
    knownMd5?: string,
  ): Promise<number> {
    const partSize = this.partSizeFor(size);
    const reader = new PartReader(source);
    // At most upload_concurrency part buffers exist; finished parts hand theirs back.
    const free: Buffer[] = [];
    const takeBuffer = () => free.pop() ?? Buffer.allocUnsafe(partSize);

    let owner = takeBuffer();
    let data: Buffer;
    try {
      data = await reader.fill(owner);
    } catch (err) {
      await reader.close();
      throw err;
    }
    if (size === undefined && data.length < partSize) {
      await this.putBuffer(loc, path, data, metadata, knownMd5);
      return data.length;
    }

    const meta = { ...metadata };
    if (knownMd5 && !this.options.disableChecksum) meta[META_MD5] = Buffer.from(knownMd5, 'hex').toString('base64');
    let uploadId: string;
    try {
      uploadId = await this.createMultipartUpload(loc, path, 'upload', meta);
    } catch (err) {
      await reader.close();
      throw err;
    }

    const cancel = new AbortController();
    const inFlight = new Set<Promise<void>>();
    const parts: CompletedPart[] = [];
    const wholeMd5 = knownMd5 ? createHash('md5') : undefined;
    let failure: unknown;
    try {
      for (let partNumber = 1; ; partNumber++) {
        if (partNumber > this.maxUploadParts) {
          throw new RemoteIOError(
            `s3: write ${JSON.stringify(path)}: more than ${this.maxUploadParts} parts of ${partSize} bytes; raise chunk_size`,
          );
        }
        if (size !== undefined && reader.total > size) throw sizeMismatch(path, size, `more than ${size}`);
        wholeMd5?.update(data);
        const partOwner = owner;
        const task = this.uploadPart(loc, uploadId, partNumber, data, cancel.signal, path).then(
          (etag) => {
            parts.push({ PartNumber: partNumber, ETag: etag });
            free.push(partOwner);
          },
          (err) => {
            if (failure === undefined) failure = err;
            cancel.abort();
          },
        );
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task));
        if (data.length < partSize) break; // the short last part
        while (inFlight.size >= this.uploadConcurrency && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) break;
        owner = takeBuffer();
        data = await reader.fill(owner);
        if (data.length === 0) break; // the size was a multiple of the part size
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      if (size !== undefined && reader.total !== size) throw sizeMismatch(path, size, String(reader.total));
      if (wholeMd5 && wholeMd5.digest('hex') !== knownMd5) {
        throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}`);
      }
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await this.completeMultipartUpload(loc, path, 'upload', uploadId, parts);
      return reader.total;
    } catch (err) {
      cancel.abort();
      await Promise.allSettled(inFlight);
      await reader.close();
      await this.abortUpload(loc, uploadId, path);
      throw err instanceof Error ? err : toRemoteError(err, 'write', path, 'none');
    }
  }

  private async uploadPart(
    loc: Location,
    uploadId: string,
    partNumber: number,
    data: Buffer,
    signal: AbortSignal,
    path: string,
  ): Promise<string> {
    try {
      const out = await this.client.send(
        new this.sdk.UploadPartCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5Base64(data),
          ...this.sseInput(),
        }),
        { abortSignal: signal },
      );
      if (!out.ETag) throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: part ${partNumber} got no ETag`);
      return out.ETag;
    } catch (err) {
      throw toRemoteError(err, `upload part ${partNumber} of`, path, 'none');
    }
  }

  private async abortUpload(loc: Location, uploadId: string, path: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId }));
      this.log.debug(`s3: aborted multipart upload of ${path}`);
    } catch (err) {
      this.log.warn(`s3: could not abort the multipart upload of ${JSON.stringify(path)} (upload id ${uploadId}): ${errorMessage(err)}`);
    }
  }

  private async deleteQuietly(loc: Location): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (err) {
      this.log.warn(`s3: could not remove ${loc.bucket}/${loc.key}: ${errorMessage(err)}`);
    }
  }

  /**
   * Some servers (Swift's s3api) accept SSE-C headers and store plaintext. Before the first upload
   * to a bucket, learn which kind this is (ensureSseProbed); then warn, or with
   * sse_customer_require_enforced refuse, unless it enforces the key.
   */
  private async ensureSseEnforced(bucket: string): Promise<void> {
    if (!this.options.sse) return;
    if (this.sseCheck.get(bucket) !== 'enforced' && this.sseCheck.get(bucket) !== 'ignored') {
      let probe = this.sseProbes.get(bucket);
      if (!probe) {
        probe = this.probeSse(bucket).finally(() => this.sseProbes.delete(bucket));
        this.sseProbes.set(bucket, probe);
      }
      await probe;
    }
    const verdict = this.sseCheck.get(bucket);
    if (verdict === 'ignored') {
      const what =
        `s3: the server IGNORES SSE-C (customer-provided keys): a probe object in bucket ${JSON.stringify(bucket)} ` +
        `was readable WITHOUT the key, so data uploaded there is stored unencrypted on the server.`;
      if (this.options.sseRequireEnforced) {
        throw new SseNotEnforcedError(`${what} Refusing to upload as sse_customer_require_enforced is set.`);
      }
      if (!this.sseWarned) {
        this.sseWarned = true;
        this.log.warn(`${what} Do not rely on sse_customer_key here; use a crypt remote for confidentiality.`);
      }
    } else if (verdict !== 'enforced' && this.options.sseRequireEnforced) {
      throw new SseNotEnforcedError(
        `s3: could not tell whether the server enforces SSE-C in bucket ${JSON.stringify(bucket)} ` +
          `(the probe failed ${SSE_PROBE_ATTEMPTS} times); refusing to upload as sse_customer_require_enforced is set`,
      );
    }
  }

  /**
   * Stores a 1-byte object with the SSE-C key and reads it back without: a server that honours
   * SSE-C refuses (400/403). Anything else (network errors, 5xx, a PUT that fails) is no verdict:
   * retried with backoff, then left 'unknown' so the next upload probes again.
   */
  private async probeSse(bucket: string): Promise<void> {
    const policy = this.options.retryPolicy ?? defaultRetryPolicy;
    for (let attempt = 1; attempt <= SSE_PROBE_ATTEMPTS; attempt++) {
      const loc = { bucket, key: `${SSE_PROBE_PREFIX}${randomBytes(8).toString('hex')}` };
      let stored = false;
      try {
        await this.client.send(new this.sdk.PutObjectCommand({ Bucket: bucket, Key: loc.key, Body: Buffer.from('x'), ...this.sseInput() }));
        stored = true;
        try {
          const out = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: bucket, Key: loc.key, Range: 'bytes=0-0' }));
          (out.Body as unknown as { destroy?: () => void } | undefined)?.destroy?.();
          this.sseCheck.set(bucket, 'ignored');
          return;
        } catch (err) {
          const status = sdkStatus(err);
          if (status === 400 || status === 403) {
            this.sseCheck.set(bucket, 'enforced');
            return;
          }
          throw err;
        }
      } catch (err) {
        this.log.debug(`s3: SSE-C probe of bucket ${bucket} (attempt ${attempt}/${SSE_PROBE_ATTEMPTS}) had no verdict: ${errorMessage(err)}`);
        if (attempt < SSE_PROBE_ATTEMPTS) await new Promise((r) => setTimeout(r, backoffDelay(attempt, policy)));
      } finally {
        if (stored) await this.deleteQuietly(loc);
      }
    }
    this.sseCheck.set(bucket, 'unknown');
  }

  // ---- Remote: deleting, directories ----

  async delete(path: string): Promise<void> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    // S3 deletes of missing keys succeed; the interface wants ObjectNotFoundError.
    await this.headObject(loc, path);
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (err) {
      throw toRemoteError(err, 'delete', path);
    }
  }

  async mkdir(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') return;
    // Inside a bucket directories are prefixes that exist while objects do (as in rclone 1.60), so
    // there is nothing to make; listing or removing such a directory says it is not found.
    await this.ensureBucket(loc.bucket);
  }

  async rmdir(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') throw new NotSupportedError(`s3: can't remove the root of ${this.displayName}`);
    const found = await this.prefixHasObjects(loc.bucket, loc.key, dir);
    if (loc.key === '') {
      if (found.keys.length > 0) throw new DirNotEmptyError(dir);
      try {
        await this.client.send(new this.sdk.DeleteBucketCommand({ Bucket: loc.bucket }));
      } catch (err) {
        if (sdkCode(err) === 'BucketNotEmpty' || sdkStatus(err) === 409) throw new DirNotEmptyError(dir, { cause: err });
        throw toRemoteError(err, 'remove bucket', dir, 'dir');
      }
      this.bucketsKnown.delete(loc.bucket);
      this.sseCheck.delete(loc.bucket);
      return;
    }
    const marker = `${loc.key}/`;
    if (found.keys.length === 0) throw new DirNotFoundError(dir);
    const others = found.keys.filter((k) => k !== marker);
    if (others.length > 0 || found.more) throw new DirNotEmptyError(dir);
    // Only a marker object ("dir/", made by some tools) is left: remove it.
    if (found.keys.includes(marker)) await this.deleteQuietly({ bucket: loc.bucket, key: marker });
  }

  async purge(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') throw new NotSupportedError(`s3: can't purge the root of ${this.displayName}`);
    const prefix = loc.key === '' ? '' : `${loc.key}/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new this.sdk.ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, MaxKeys: 1000, ContinuationToken: token, EncodingType: 'url' }),
        );
      } catch (err) {
        throw toRemoteError(err, 'list', dir, 'dir');
      }
      const keys = (page.Contents ?? []).map((o) => listedKey(page, o.Key ?? ''));
      if (keys.length > 0) await this.deleteKeys(loc.bucket, keys, dir);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (loc.key === '') {
      try {
        await this.client.send(new this.sdk.DeleteBucketCommand({ Bucket: loc.bucket }));
      } catch (err) {
        throw toRemoteError(err, 'remove bucket', dir, 'dir');
      }
      this.bucketsKnown.delete(loc.bucket);
      this.sseCheck.delete(loc.bucket);
    }
  }

  private async deleteKeys(bucket: string, keys: string[], dir: string): Promise<void> {
    let out;
    try {
      out = await this.client.send(
        new this.sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
      );
    } catch (err) {
      throw toRemoteError(err, 'delete objects in', dir, 'dir');
    }
    const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      const e = failed[0];
      throw new RemoteIOError(
        `s3: purge ${JSON.stringify(dir)}: ${failed.length} object(s) not deleted, e.g. ${JSON.stringify(e.Key)}: ${e.Code} ${e.Message ?? ''}`.trim(),
      );
    }
  }

  // ---- Remote: metadata, copy, move ----

  async setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const info = await this.headObject(loc, path);
    const metadata = { ...info.metadata, [META_MTIME]: formatMtimeNs(mtimeNs ?? dateToNs(mtime)) };
    // Metadata can only change by copying the object onto itself.
    await this.copyObject(loc, loc, info, path, { metadata, contentType: info.contentType });
  }

  async setMetadata(path: string, changes: Metadata, options: { isDir?: boolean } = {}): Promise<void> {
    const loc = this.locate(path);
    if (options.isDir || loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const info = await this.headObject(loc, path);
    // Keys not changed (rclone's mtime and md5chksum among them) stay as they are.
    const metadata = { ...info.metadata };
    for (const [k, v] of Object.entries(changes)) {
      const key = k.toLowerCase();
      if (key === META_MD5) continue;
      if (key === META_MTIME) {
        const ns = parseMetadataTime(v);
        if (ns !== undefined) metadata[META_MTIME] = formatMtimeNs(ns);
      } else if (v === '') delete metadata[key];
      else metadata[key] = v;
    }
    await this.copyObject(loc, loc, info, path, { metadata, contentType: info.contentType });
  }

  async copy(src: string, dst: string): Promise<RemoteEntry> {
    const from = this.locate(src);
    const to = this.locate(dst);
    if (from.key === '') throw new IsDirectoryError(src);
    if (to.key === '') throw new IsDirectoryError(dst);
    const info = await this.headObject(from, src);
    if (from.bucket === to.bucket && from.key === to.key) return { path: dst, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs };
    await this.ensureBucket(to.bucket);
    await this.ensureSseEnforced(to.bucket);
    await this.copyObject(from, to, info, src);
    return { path: dst, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs };
  }

  async move(src: string, dst: string): Promise<RemoteEntry> {
    const entry = await this.copy(src, dst);
    const from = this.locate(src);
    const to = this.locate(dst);
    if (from.bucket !== to.bucket || from.key !== to.key) {
      try {
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: from.bucket, Key: from.key }));
      } catch (err) {
        throw toRemoteError(err, 'delete (after copy)', src, 'none');
      }
    }
    return entry;
  }

  /**
   * Server-side copy. `replace` sets new metadata (REPLACE directive), otherwise it is copied.
   * Objects above copy_cutoff are copied part by part (a single CopyObject stops at 5 GiB).
   */
  private async copyObject(
    from: Location,
    to: Location,
    info: ObjectInfo,
    path: string,
    replace?: { metadata: Record<string, string>; contentType?: string },
  ): Promise<void> {
    const source = copySource(from.bucket, from.key);
    if (info.size > this.copyCutoff) {
      await this.copyMultipart(from, to, info, path, replace ?? { metadata: info.metadata, contentType: info.contentType });
      return;
    }
    try {
      await this.client.send(
        new this.sdk.CopyObjectCommand({
          Bucket: to.bucket,
          Key: to.key,
          CopySource: source,
          MetadataDirective: replace ? 'REPLACE' : 'COPY',
          ...(replace ? { Metadata: replace.metadata, ContentType: replace.contentType ?? 'application/octet-stream' } : {}),
          ...this.aclInput(),
          ...this.sseInput(),
          ...this.sseCopySourceInput(),
        }),
      );
    } catch (err) {
      throw toRemoteError(err, 'copy', path);
    }
  }

  private async copyMultipart(
    from: Location,
    to: Location,
    info: ObjectInfo,
    path: string,
    target: { metadata: Record<string, string>; contentType?: string },
  ): Promise<void> {
    const partSize = this.partSizeFor(info.size, Math.max(this.copyCutoff, MIN_PART_SIZE));
    const uploadId = await this.createMultipartUpload(to, path, 'copy', target.metadata, target.contentType);
    const ranges: { partNumber: number; start: number; end: number }[] = [];
    for (let start = 0, n = 1; start < info.size; start += partSize, n++) {
      ranges.push({ partNumber: n, start, end: Math.min(start + partSize, info.size) - 1 });
    }
    try {
      const parts = await mapLimit(ranges, this.uploadConcurrency, async (r) => {
        try {
          const out = await this.client.send(
            new this.sdk.UploadPartCopyCommand({
              Bucket: to.bucket,
              Key: to.key,
              UploadId: uploadId,
              PartNumber: r.partNumber,
              CopySource: copySource(from.bucket, from.key),
              CopySourceRange: `bytes=${r.start}-${r.end}`,
              ...this.sseInput(),
              ...this.sseCopySourceInput(),
            }),
          );
          return { PartNumber: r.partNumber, ETag: out.CopyPartResult?.ETag } satisfies CompletedPart;
        } catch (err) {
          throw toRemoteError(err, `copy part ${r.partNumber} of`, path);
        }
      });
      await this.completeMultipartUpload(to, path, 'copy', uploadId, parts);
    } catch (err) {
      await this.abortUpload(to, uploadId, path);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** An SDK error for a retry line: code, message, HTTP status and request id (as rclone's pacer shows the error). */
function describeRetryError(err: unknown): string {
  const code = sdkCode(err);
  const message = errorMessage(err);
  const status = sdkStatus(err);
  const requestId = sdkRequestId(err);
  const netCode = (err as { code?: unknown } | undefined)?.code;
  const details = [
    status !== undefined ? `HTTP ${status}` : undefined,
    requestId ? `request id ${requestId}` : undefined,
    typeof netCode === 'string' && !message.includes(netCode) ? netCode : undefined,
  ].filter(Boolean);
  const text = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
  return text + (details.length ? ` (${details.join(', ')})` : '');
}

/** One line for an SDK log call (it logs whole command contexts; inputs may hold keys). */
function describeSdkLog(args: unknown[]): string {
  return args
    .map((a) => {
      if (a && typeof a === 'object') {
        const o = a as { commandName?: string; error?: { name?: string; message?: string } };
        if (o.commandName) return `${o.commandName}${o.error ? `: ${o.error.name} ${o.error.message ?? ''}` : ''}`.trim();
        return '(object)';
      }
      return String(a);
    })
    .join(' ');
}

let sdkLoading: Promise<typeof S3Sdk> | undefined;

function loadSdk(): Promise<typeof S3Sdk> {
  sdkLoading ??= import('@aws-sdk/client-s3');
  return sdkLoading;
}

function sizeMismatch(path: string, expected: number, got: string): RemoteIOError {
  return new RemoteIOError(`s3: write ${JSON.stringify(path)}: source gave ${got} bytes, expected ${expected}`);
}

async function* emptySource(): AsyncGenerator<Uint8Array> {}

/** Passes a response body through, turning untyped mid-stream failures into RemoteIOError. */
async function* mapStreamErrors(body: AsyncIterable<Uint8Array>, path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    if (err instanceof CryptfsError) throw err;
    throw new RemoteIOError(`s3: read ${JSON.stringify(path)}: ${errorMessage(err)}`, {
      cause: err,
      retryable: isRetryableError(err) || isBrokenBody(err),
    });
  }
}

registerBackend({
  type: 's3',
  description: 'Amazon S3 Compliant Storage Providers including AWS, Ceph, Minio and OpenStack Swift (s3api)',
  options: s3OptionSpecs,
  async create(ctx: BackendContext): Promise<Remote> {
    return S3Remote.create(s3OptionsFromConfig(ctx.options, ctx.name, ctx.root));
  },
});
