// The swift backend's options: the remote's settings and their defaults, rclone's option
// declarations, and reading a config section (and the OS_* environment) into both.
import { NotSupportedError } from '../errors.js';
import { declareOptions, type OptionValues } from './registry.js';
import type { EndpointType, SwiftClientOptions } from './swift-client.js';

const MIB = 1024 * 1024;

export interface SwiftRemoteSettings {
  /** Above this size objects are stored as segments (rclone's chunk_size, default 5 GiB). */
  chunkSize: number;
  /** Streams of unknown size are sent as one object instead of segments. */
  noChunk: boolean;
  /** Assume no large objects exist: no HEAD per object to find manifests, no segmenting. */
  noLargeObjects: boolean;
  /** Keep the segments of a failed upload. */
  leavePartsOnError: boolean;
  /** X-Storage-Policy for containers this remote creates. */
  storagePolicy: string;
  /** Listing page size (Swift's limit parameter). */
  listPageSize: number;
  /** Largest body collected in memory so that its PUT can be retried. */
  replayBufferBytes: number;
  /** Take times from the listing (upload time) instead of a HEAD per object for X-Object-Meta-Mtime. */
  useServerModtime: boolean;
  /** Parallel HEAD requests while listing. */
  headConcurrency: number;
  /**
   * Segments of one upload sent at the same time when they are buffered (chunk_size up to
   * replayBufferBytes); memory per upload is (this + 1) segments. rclone sends them one by one.
   */
  segmentConcurrency: number;
}

export const defaultSwiftSettings: SwiftRemoteSettings = {
  chunkSize: 5 * 1024 * MIB,
  noChunk: false,
  noLargeObjects: false,
  leavePartsOnError: false,
  storagePolicy: '',
  listPageSize: 1000,
  replayBufferBytes: 16 * MIB,
  useServerModtime: false,
  headConcurrency: 8,
  segmentConcurrency: 2,
};

const ENDPOINT_TYPES: EndpointType[] = ['public', 'internal', 'admin'];

/** The backend's line in `cryptfs help backends` and the config wizard. */
export const SWIFT_DESCRIPTION = 'OpenStack Swift (Rackspace Cloud Files, Blomp Cloud Storage, Memset Memstore, OVH)';

export const swiftOptions = declareOptions([
  {
    name: 'env_auth',
    help: 'Get swift credentials from environment variables in standard OpenStack form (OS_*).',
    type: 'bool',
    default: false,
    examples: [
      { value: 'false', help: 'Enter swift credentials in the next step.' },
      { value: 'true', help: 'Get swift credentials from environment vars.\nLeave other fields blank if using this.' },
    ],
  },
  { name: 'user', help: 'User name to log in (OS_USERNAME).' },
  { name: 'key', help: 'API key or password (OS_PASSWORD).', sensitive: true },
  {
    name: 'auth',
    help: 'Authentication URL for server (OS_AUTH_URL).',
    examples: [
      { value: 'https://auth.api.rackspacecloud.com/v1.0', help: 'Rackspace US' },
      { value: 'https://identity.api.rackspacecloud.com/v2.0', help: 'Rackspace v2' },
      { value: 'https://auth.cloud.ovh.net/v3', help: 'OVH' },
      { value: 'https://pouta.csc.fi:5001/v3', help: 'CSC Allas (Keystone v3)' },
    ],
  },
  { name: 'user_id', help: 'User ID to log in - optional - most swift systems use user and leave this blank (v3 auth) (OS_USER_ID).' },
  { name: 'domain', help: 'User domain - optional (v3 auth) (OS_USER_DOMAIN_NAME).' },
  {
    name: 'tenant',
    help: 'Tenant name - optional for v1 auth, this or tenant_id required otherwise (OS_TENANT_NAME or OS_PROJECT_NAME).',
  },
  { name: 'tenant_id', help: 'Tenant ID - optional for v1 auth, this or tenant required otherwise (OS_TENANT_ID).' },
  { name: 'tenant_domain', help: 'Tenant domain - optional (v3 auth) (OS_PROJECT_DOMAIN_NAME).' },
  { name: 'region', help: 'Region name - optional (OS_REGION_NAME).' },
  { name: 'storage_url', help: 'Storage URL - optional (OS_STORAGE_URL).' },
  { name: 'auth_token', help: 'Auth Token from alternate authentication - optional (OS_AUTH_TOKEN).', sensitive: true },
  { name: 'application_credential_id', help: 'Application Credential ID (OS_APPLICATION_CREDENTIAL_ID).' },
  { name: 'application_credential_name', help: 'Application Credential Name (OS_APPLICATION_CREDENTIAL_NAME).' },
  {
    name: 'application_credential_secret',
    help: 'Application Credential Secret (OS_APPLICATION_CREDENTIAL_SECRET).',
    sensitive: true,
  },
  {
    name: 'auth_version',
    help: 'AuthVersion - optional - set to (1,2,3) if your auth URL has no version (ST_AUTH_VERSION).',
    type: 'int',
    default: 0,
  },
  {
    name: 'endpoint_type',
    help: 'Endpoint type to choose from the service catalogue (OS_ENDPOINT_TYPE).',
    type: 'enum',
    default: 'public',
    exclusive: true,
    examples: [
      { value: 'public', help: 'Public (default, choose this if not sure)' },
      { value: 'internal', help: 'Internal (use internal service net)' },
      { value: 'admin', help: 'Admin' },
    ],
  },
  {
    name: 'leave_parts_on_error',
    help: 'If true avoid calling abort upload on a failure.\n\nIt should be set to true for resuming uploads across different sessions.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'storage_policy',
    help: 'The storage policy to use when creating a new container.\n\nThis applies the specified storage policy when creating a new\ncontainer. The policy cannot be changed afterwards. The allowed\nconfiguration values and their meaning depend on your Swift storage\nprovider.',
    advanced: true,
    examples: [
      { value: '', help: 'Default' },
      { value: 'pcs', help: 'OVH Public Cloud Storage' },
      { value: 'pca', help: 'OVH Public Cloud Archive' },
    ],
  },
  {
    name: 'chunk_size',
    help: 'Above this size files will be chunked into a _segments container.\n\nAbove this size files will be chunked into a _segments container.  The\ndefault for this is 5 GiB which is its maximum value.',
    type: 'size',
    default: '5Gi',
    advanced: true,
  },
  {
    name: 'no_chunk',
    help: "Don't chunk files during streaming upload.\n\nWhen doing streaming uploads (e.g. using rcat or mount) setting this\nflag will cause the swift backend to not upload chunked files.\n\nThis will limit the maximum upload size to 5 GiB. However non chunked\nfiles are easier to deal with and have an MD5SUM.\n\nFiles bigger than chunk_size are still chunked when their size is known.",
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'no_large_objects',
    help: 'Disable support for static and dynamic large objects.\n\nSwift cannot transparently store files bigger than 5 GiB. Large objects\nneed a HEAD request to be recognised, e.g. when reading checksums. With\nthis set, no large objects are assumed to exist: no HEAD requests are\nmade for them and files are never chunked, which limits uploads to 5 GiB.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'encoding',
    help: 'The encoding for the backend.\n\nOnly the default (Slash,InvalidUtf8) is supported: names are stored as given.',
    default: 'Slash,InvalidUtf8',
    advanced: true,
  },
]);

/** OS_* variables as OpenStack tools (and CSC's allas-conf) export them; set ones override the config. */
export function swiftOptionsFromEnv(env: NodeJS.ProcessEnv): Partial<SwiftClientOptions> {
  const out: Partial<SwiftClientOptions> = {};
  const set = <K extends keyof SwiftClientOptions>(key: K, ...names: string[]) => {
    for (const name of names) {
      const v = env[name];
      if (v) {
        out[key] = v as SwiftClientOptions[K];
        return;
      }
    }
  };
  set('domain', 'OS_USER_DOMAIN_NAME');
  set('domainId', 'OS_USER_DOMAIN_ID');
  set('user', 'OS_USERNAME', 'ST_USER');
  set('userId', 'OS_USER_ID');
  set('key', 'OS_PASSWORD', 'ST_KEY');
  set('authUrl', 'OS_AUTH_URL', 'ST_AUTH');
  set('region', 'OS_REGION_NAME');
  set('tenant', 'OS_TENANT_NAME', 'OS_PROJECT_NAME');
  set('tenantId', 'OS_TENANT_ID', 'OS_PROJECT_ID');
  set('tenantDomain', 'OS_PROJECT_DOMAIN_NAME');
  set('tenantDomainId', 'OS_PROJECT_DOMAIN_ID');
  set('storageUrl', 'OS_STORAGE_URL');
  set('authToken', 'OS_AUTH_TOKEN');
  set('applicationCredentialId', 'OS_APPLICATION_CREDENTIAL_ID');
  set('applicationCredentialName', 'OS_APPLICATION_CREDENTIAL_NAME');
  set('applicationCredentialSecret', 'OS_APPLICATION_CREDENTIAL_SECRET');
  const version = env.ST_AUTH_VERSION || env.OS_IDENTITY_API_VERSION;
  if (version && /^\d+/.test(version)) out.authVersion = Number.parseInt(version, 10);
  const endpoint = (env.OS_ENDPOINT_TYPE || env.OS_INTERFACE || '').toLowerCase().replace(/url$/, '');
  if (ENDPOINT_TYPES.includes(endpoint as EndpointType)) out.endpointType = endpoint as EndpointType;
  return out;
}

/** Client options from a config section (and the environment when env_auth is set). */
export function swiftClientOptions(options: OptionValues<typeof swiftOptions>, env: NodeJS.ProcessEnv = process.env): SwiftClientOptions {
  const str = (name: Parameters<typeof options.string>[0]) => options.string(name) || undefined;
  let result: SwiftClientOptions = {
    user: str('user'),
    key: str('key'),
    authUrl: str('auth'),
    userId: str('user_id'),
    domain: str('domain'),
    tenant: str('tenant'),
    tenantId: str('tenant_id'),
    tenantDomain: str('tenant_domain'),
    region: str('region'),
    storageUrl: str('storage_url'),
    authToken: str('auth_token'),
    applicationCredentialId: str('application_credential_id'),
    applicationCredentialName: str('application_credential_name'),
    applicationCredentialSecret: str('application_credential_secret'),
    authVersion: options.int('auth_version') || undefined,
    endpointType: options.choice('endpoint_type') as EndpointType,
  };
  if (options.bool('env_auth')) result = { ...result, ...swiftOptionsFromEnv(env) };
  return result;
}

/** Remote settings from a config section. */
export function swiftRemoteSettings(options: OptionValues<typeof swiftOptions>): Partial<SwiftRemoteSettings> {
  const encoding = options.string('encoding').split(',').map((e) => e.trim().toLowerCase()).sort().join(',');
  if (encoding !== 'invalidutf8,slash') {
    throw new NotSupportedError(`swift: encoding ${JSON.stringify(options.string('encoding'))} is not supported (only Slash,InvalidUtf8)`);
  }
  return {
    chunkSize: options.size('chunk_size'),
    noChunk: options.bool('no_chunk'),
    noLargeObjects: options.bool('no_large_objects'),
    leavePartsOnError: options.bool('leave_parts_on_error'),
    storagePolicy: options.string('storage_policy'),
  };
}
