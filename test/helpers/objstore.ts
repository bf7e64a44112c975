// The loopback object store for integration tests: a real Swift all-in-one (Swift auth v1 and
// S3 through s3api) started by scripts/objstore-server.sh, once per test process.
//
//   const store = await objectStoreAvailable();   // undefined only when it cannot run and --allow-skip
//   describe('swift', { skip: store ? false : objectStoreSkipReason() }, () => { ... });
//
// An object store that cannot start is a failure, never a skip, unless the run was started
// with --allow-skip (see require-tool.ts).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Remote, type S3RemoteOptions } from '../../src/remote/s3.js';
import { requireTool } from './require-tool.js';

export interface ObjectStore {
  swift: {
    /** Auth v1 URL (tempauth). */
    authUrl: string;
    user: string;
    key: string;
    /** The account's storage URL as tempauth hands it out. */
    storageUrl: string;
  };
  s3: {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
    region: string;
    /** s3api only does path-style addressing here. */
    forcePathStyle: true;
  };
  /** State dir of the server (logs under log/). */
  stateDir: string;
}

export class ObjectStoreUnavailableError extends Error {}

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

let started: Promise<ObjectStore> | undefined;
let skipReason: string | undefined;

/** Starts the server (installing it when missing) unless it runs, and returns its endpoints. */
export function ensureObjectStore(): Promise<ObjectStore> {
  if (!started) {
    started = new Promise<ObjectStore>((resolve, reject) => {
      const script = join(repoRoot(), 'scripts', 'objstore-server.sh');
      // Installing the Debian packages on a fresh machine takes a while; starting takes seconds.
      execFile('bash', [script, 'start'], { timeout: 10 * 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) {
          reject(new ObjectStoreUnavailableError(`objstore-server.sh start failed: ${err.message}\n${stderr}`));
          return;
        }
        const env = parseExports(stdout);
        const need = ['CRYPTFS_SWIFT_AUTH_URL', 'CRYPTFS_SWIFT_USER', 'CRYPTFS_SWIFT_KEY', 'CRYPTFS_S3_ENDPOINT'];
        const missing = need.filter((k) => !env[k]);
        if (missing.length) {
          reject(new ObjectStoreUnavailableError(`objstore-server.sh printed no ${missing.join(', ')}:\n${stdout}\n${stderr}`));
          return;
        }
        resolve({
          swift: {
            authUrl: env.CRYPTFS_SWIFT_AUTH_URL,
            user: env.CRYPTFS_SWIFT_USER,
            key: env.CRYPTFS_SWIFT_KEY,
            storageUrl: env.CRYPTFS_SWIFT_STORAGE_URL,
          },
          s3: {
            endpoint: env.CRYPTFS_S3_ENDPOINT,
            accessKeyId: env.CRYPTFS_S3_ACCESS_KEY_ID,
            secretAccessKey: env.CRYPTFS_S3_SECRET_ACCESS_KEY,
            region: env.CRYPTFS_S3_REGION,
            forcePathStyle: true,
          },
          stateDir: env.CRYPTFS_OBJSTORE_DIR,
        });
      });
    });
  }
  return started;
}

/**
 * The object store, or undefined when it cannot run here and the run allows skips
 * (--allow-skip). Otherwise a store that cannot start throws, failing the test file.
 */
export async function objectStoreAvailable(): Promise<ObjectStore | undefined> {
  try {
    return await ensureObjectStore();
  } catch (err) {
    skipReason = requireTool('object store', false, (err as Error).message.split('\n')[0]);
    return undefined;
  }
}

/** Why object store tests are skipped (after objectStoreAvailable() returned undefined). */
export function objectStoreSkipReason(): string {
  return skipReason ?? 'object store unavailable';
}

// ---- raw Swift access for setup and cleanup (independent of the driver under test) ----

async function swiftSession(store: ObjectStore): Promise<{ url: string; token: string }> {
  const res = await fetch(store.swift.authUrl, {
    headers: { 'X-Auth-User': store.swift.user, 'X-Auth-Key': store.swift.key },
  });
  if (!res.ok) throw new Error(`swift auth failed: HTTP ${res.status}`);
  await res.arrayBuffer();
  return { url: res.headers.get('x-storage-url')!, token: res.headers.get('x-auth-token')! };
}

/** An object's headers from a plain Swift HEAD (not through the driver under test); undefined when absent. */
export async function swiftRawHead(store: ObjectStore, container: string, object: string): Promise<Headers | undefined> {
  const { url, token } = await swiftSession(store);
  const path = [container, ...object.split('/')].map(encodeURIComponent).join('/');
  const res = await fetch(`${url}/${path}`, { method: 'HEAD', headers: { 'X-Auth-Token': token } });
  await res.arrayBuffer();
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`HEAD ${container}/${object}: HTTP ${res.status}`);
  return res.headers;
}

/** The object names in a container under `prefix`, from plain Swift listings; [] when the container is absent. */
export async function swiftRawNames(store: ObjectStore, container: string, prefix = ''): Promise<string[]> {
  const { url, token } = await swiftSession(store);
  const out: string[] = [];
  for (;;) {
    const query = new URLSearchParams({ format: 'json', limit: '1000', prefix, marker: out.at(-1) ?? '' });
    const res = await fetch(`${url}/${encodeURIComponent(container)}?${query}`, { headers: { 'X-Auth-Token': token } });
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`listing ${container}: HTTP ${res.status}`);
    const page = res.status === 204 ? [] : ((await res.json()) as Array<{ name: string }>);
    if (page.length === 0) return out;
    out.push(...page.map((o) => o.name));
  }
}

/** Deletes a container with everything in it; no error when it is not there. */
export async function removeContainerTree(store: ObjectStore, container: string): Promise<void> {
  const { url, token } = await swiftSession(store);
  const base = `${url}/${encodeURIComponent(container)}`;
  for (;;) {
    const res = await fetch(`${base}?format=json&limit=1000`, { headers: { 'X-Auth-Token': token } });
    if (res.status === 404) return;
    if (!res.ok) throw new Error(`listing ${container}: HTTP ${res.status}`);
    const page = res.status === 204 ? [] : ((await res.json()) as Array<{ name: string }>);
    if (page.length === 0) break;
    for (const o of page) {
      const path = o.name.split('/').map(encodeURIComponent).join('/');
      const d = await fetch(`${base}/${path}`, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
      await d.arrayBuffer();
      if (!d.ok && d.status !== 404) throw new Error(`deleting ${container}/${o.name}: HTTP ${d.status}`);
    }
  }
  const d = await fetch(base, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
  await d.arrayBuffer();
  if (!d.ok && d.status !== 404) throw new Error(`deleting container ${container}: HTTP ${d.status}`);
}

export interface TestContainer {
  /** Container (= S3 bucket) name: lower-case, DNS-safe, unique. */
  name: string;
  /** Removes it with its contents and the segment containers Swift/rclone/s3api make beside it. */
  remove(): Promise<void>;
}

/**
 * A fresh, uniquely named container/bucket name for one test. It is not created (so tests can
 * check creation); remove() deletes it, `<name>_segments` (Swift large objects) and
 * `<name>+segments` (s3api multipart) if present.
 */
export function freshContainer(store: ObjectStore, label = 't'): TestContainer {
  const name = `cryptfs-${label.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20)}-${randomBytes(5).toString('hex')}`;
  return {
    name,
    async remove() {
      for (const c of [name, `${name}_segments`, `${name}+segments`]) await removeContainerTree(store, c);
    },
  };
}

/** An rclone.conf with a `swift` and an `s3` remote for the store (write it into a temp dir). */
export function rcloneConfigText(store: ObjectStore, names = { swift: 'swift', s3: 's3' }): string {
  return [
    `[${names.swift}]`,
    'type = swift',
    `user = ${store.swift.user}`,
    `key = ${store.swift.key}`,
    `auth = ${store.swift.authUrl}`,
    '',
    `[${names.s3}]`,
    'type = s3',
    'provider = Other',
    `access_key_id = ${store.s3.accessKeyId}`,
    `secret_access_key = ${store.s3.secretAccessKey}`,
    `endpoint = ${store.s3.endpoint}`,
    `region = ${store.s3.region}`,
    'force_path_style = true',
    '',
  ].join('\n');
}

/** Environment for running rclone against the store: its S3 remote fails while AWS_CA_BUNDLE is set. */
export function rcloneEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  // The caller's own rclone settings must not leak into a test's rclone run.
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_')) delete env[k];
  return { ...env, ...extra };
}

/** An S3 remote on the test store: quiet logger, short retries (a test waits, a user would not). */
export function testS3Remote(store: ObjectStore, extra: Partial<S3RemoteOptions> = {}): Promise<S3Remote> {
  return S3Remote.create({
    name: 'tests3',
    endpoint: store.s3.endpoint,
    region: store.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: store.s3.accessKeyId, secretAccessKey: store.s3.secretAccessKey },
    retryPolicy: { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
    logger: { debug() {}, warn() {} },
    ...extra,
  });
}
