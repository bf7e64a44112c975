// The s3 backend's options: rclone's option declarations, the driver's typed settings, and
// reading the one into the other (with rclone's validation).
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { log } from '../log.js';
import { declareOptions, type OptionValues } from './registry.js';
import type { WriteOptions } from './remote.js';
import type { RetryPolicy } from './retry.js';

export const MiB = 1024 * 1024;
/** S3 rejects parts below 5 MiB except the last one. */
export const MIN_PART_SIZE = 5 * MiB;
/** Largest single PUT (and single CopyObject) S3 accepts. */
export const MAX_SINGLE_SIZE = 5 * 1024 * MiB;
export const MAX_UPLOAD_PARTS = 10_000;

// ---------------------------------------------------------------------------------------------
// Options, declared as data with rclone's names.

/** The backend's line in `cryptfs help backends` and the config wizard. */
export const S3_DESCRIPTION = 'Amazon S3 Compliant Storage Providers including AWS, Ceph, Minio and OpenStack Swift (s3api)';

export const s3OptionSpecs = declareOptions([
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
]);

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

// ---------------------------------------------------------------------------------------------
// Config.

function normaliseEndpoint(endpoint: string): string | undefined {
  const e = endpoint.trim();
  if (e === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `https://${e}`;
}

/** Reads rclone-style option values into driver options (validating them as rclone does). */
export function s3OptionsFromConfig(values: OptionValues<typeof s3OptionSpecs>, name = '', root = ''): S3RemoteOptions {
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

function sseFromConfig(values: OptionValues<typeof s3OptionSpecs>, where: (opt: string) => string): SseCustomerKey | undefined {
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
