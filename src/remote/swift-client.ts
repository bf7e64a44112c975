// A thin OpenStack Swift client on Node's fetch: auth v1 and Keystone v2/v3,
// re-authentication on 401, per-segment URL encoding, paged JSON listings,
// ranged streaming GETs that resume after a dropped connection, streamed PUTs
// checked against the ETag, server-side COPY and metadata POST.
// Every failure is a RemoteIOError carrying the HTTP status and X-Trans-Id.
import { createHash } from 'node:crypto';
import { errorMessage, NotSupportedError, RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import type { ByteSource } from './remote.js';
import { resumableBody } from './resumable-read.js';
import { defaultRetryPolicy, isRetryableError, isRetryableStatus, withRetry, type RetryPolicy } from './retry.js';

export type EndpointType = 'public' | 'internal' | 'admin';

/** Connection settings, named after rclone's swift options. */
export interface SwiftAuthOptions {
  authUrl?: string;
  user?: string;
  key?: string;
  userId?: string;
  /** User domain (v3). */
  domain?: string;
  domainId?: string;
  tenant?: string;
  tenantId?: string;
  /** Project domain (v3). */
  tenantDomain?: string;
  tenantDomainId?: string;
  region?: string;
  /** 0 = guess from the auth URL (as rclone does), or 1, 2, 3. */
  authVersion?: number;
  endpointType?: EndpointType;
  /** Overrides the storage URL from the auth reply (or is used without auth together with authToken). */
  storageUrl?: string;
  /** A token obtained elsewhere (OS_AUTH_TOKEN); used until the server refuses it. */
  authToken?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
}

export interface SwiftClientOptions extends SwiftAuthOptions {
  retry?: RetryPolicy;
  /** Told of each repeated failure, besides the DEBUG line every retry gets in the project log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Timeout for one auth request in ms. */
  authTimeoutMs?: number;
}

export interface SwiftSession {
  storageUrl: string;
  token: string;
}

/** An entry of a container listing: an object, or a `subdir` when listing with a delimiter. */
export type SwiftListItem =
  | { kind: 'object'; name: string; bytes: number; hash: string; lastModified: string; contentType: string }
  | { kind: 'subdir'; name: string };

export interface SwiftContainerInfo {
  name: string;
  count: number;
  bytes: number;
  lastModified?: string;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Start after this name. */
  marker?: string;
  /** Page size (Swift caps it at 10000). */
  limit?: number;
}

/** What one request sends and which error statuses it takes as answers. */
interface RequestInit_ {
  headers?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: Uint8Array;
  accept?: number[];
}

export interface GetResult {
  status: number;
  headers: Headers;
  body: ByteSource;
}

export interface PutResult {
  etag: string;
  bytes: number;
  headers: Headers;
}

/** A failed Swift request: HTTP status (if any) and the X-Trans-Id to quote to the operator. */
export class SwiftError extends RemoteIOError {
  constructor(
    readonly method: string,
    readonly target: string,
    message: string,
    options: { cause?: unknown; status?: number; requestId?: string; retryable?: boolean; body?: string } = {},
  ) {
    super(
      `swift: ${method} ${target}: ${message}` +
        (options.status !== undefined ? ` (HTTP ${options.status})` : '') +
        (options.requestId ? ` [request id ${options.requestId}]` : ''),
      options,
    );
    this.body = options.body;
  }
  readonly body?: string;
}

/** Auth failed for good (bad credentials, no object-store endpoint in the catalog). */
export class SwiftAuthError extends SwiftError {}

/** Encodes one container or object name for a URL path, keeping '/' between the name's segments. */
export function encodeSwiftName(name: string): string {
  return name
    .split('/')
    .map((segment) => {
      // WHATWG URL parsing would collapse these (even percent-encoded), addressing another object.
      if (segment === '.' || segment === '..') {
        throw new NotSupportedError(`swift: a name segment of ${JSON.stringify(segment)} cannot be addressed: ${name}`);
      }
      return encodeURIComponent(segment);
    })
    .join('/');
}

/** rclone's encoding of X-Object-Manifest values: only [0-9A-Za-z/.] stay literal. */
export function encodeManifestValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[0-9A-Za-z/.]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function requestIdOf(headers: Headers | undefined): string | undefined {
  return headers?.get('x-trans-id') ?? headers?.get('x-openstack-request-id') ?? undefined;
}

/** Lower-case hex ETag without quotes (DLO/SLO manifests answer a quoted one). */
export function cleanEtag(etag: string | null | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '').toLowerCase();
}

/** Reads and drops a response body we do not need, so its connection can be reused. */
export async function discardBody(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => undefined);
}

async function bodyText(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, 500);
  } catch {
    return '';
  }
}

function guessAuthVersion(url: string, configured: number | undefined): number {
  if (configured) return configured;
  if (url.includes('v3')) return 3;
  if (url.includes('v2')) return 2;
  return 1;
}

/** How long a token that just worked is trusted before a non-replayable upload without re-checking it. */
const TOKEN_CONFIRM_MS = 60_000;

function withSlash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

interface KeystoneEndpoint {
  region?: string;
  region_id?: string;
  interface?: string;
  url?: string;
  publicURL?: string;
  internalURL?: string;
  adminURL?: string;
}

function pickEndpoint(
  catalog: Array<{ type?: string; endpoints?: KeystoneEndpoint[] }> | undefined,
  region: string | undefined,
  endpointType: EndpointType,
  v3: boolean,
): string | undefined {
  for (const service of catalog ?? []) {
    if (service.type !== 'object-store') continue;
    for (const ep of service.endpoints ?? []) {
      if (region && ep.region !== region && ep.region_id !== region) continue;
      if (v3) {
        if (ep.interface === endpointType && ep.url) return ep.url;
      } else {
        const url = endpointType === 'internal' ? ep.internalURL : endpointType === 'admin' ? ep.adminURL : ep.publicURL;
        if (url) return url;
      }
    }
  }
  return undefined;
}

/** Whether the error came from the network rather than from an HTTP answer. */
function isNetworkError(err: unknown): boolean {
  return !(err instanceof RemoteIOError) && isRetryableError(err);
}

export class SwiftClient {
  private session?: SwiftSession;
  /** When a request last succeeded with the current token (ms since epoch). */
  private confirmedAt = 0;
  private authInFlight?: Promise<SwiftSession>;
  readonly retryPolicy: RetryPolicy;

  constructor(readonly options: SwiftClientOptions) {
    this.retryPolicy = options.retry ?? defaultRetryPolicy;
    if (options.authToken && options.storageUrl) {
      this.session = { storageUrl: options.storageUrl.replace(/\/+$/, ''), token: options.authToken };
    }
  }

  /** Whether a refused token can be replaced by authenticating again. */
  get canAuthenticate(): boolean {
    const o = this.options;
    return !!o.authUrl && (!!(o.user || o.userId) || !!(o.applicationCredentialId || o.applicationCredentialName));
  }

  /** The current token and storage URL, authenticating first if there is none. */
  async getSession(): Promise<SwiftSession> {
    if (this.session) return this.session;
    return this.authenticate();
  }

  /** Replaces the session (a token obtained elsewhere). Also how tests simulate an expired token. */
  useSession(session: SwiftSession): void {
    this.session = { storageUrl: session.storageUrl.replace(/\/+$/, ''), token: session.token };
    this.confirmedAt = 0;
  }

  /** Authenticates now; concurrent callers share one auth request. */
  authenticate(): Promise<SwiftSession> {
    if (!this.authInFlight) {
      this.authInFlight = withRetry(() => this.authenticateOnce(), {
        policy: this.retryPolicy,
        describe: 'swift auth',
        onRetry: (err, attempt, delay) => this.retried('auth', err, attempt, delay),
      })
        .then((s) => {
          this.session = s;
          this.confirmedAt = Date.now();
          return s;
        })
        .finally(() => {
          this.authInFlight = undefined;
        });
    }
    return this.authInFlight;
  }

  private async authenticateOnce(): Promise<SwiftSession> {
    const o = this.options;
    if (!o.authUrl) {
      throw new SwiftAuthError('AUTH', '(none)', 'no auth URL configured and no storage_url + auth_token to use instead');
    }
    const version = guessAuthVersion(o.authUrl, o.authVersion);
    const signal = AbortSignal.timeout(o.authTimeoutMs ?? 30_000);
    let res: Response;
    let url: string;
    try {
      if (version === 1) {
        url = o.authUrl;
        res = await fetch(url, {
          headers: { 'X-Auth-User': o.user ?? '', 'X-Auth-Key': o.key ?? '' },
          signal,
        });
      } else if (version === 2) {
        url = withSlash(o.authUrl) + 'tokens';
        const auth: Record<string, unknown> = { passwordCredentials: { username: o.user, password: o.key } };
        if (o.tenant) auth.tenantName = o.tenant;
        if (o.tenantId) auth.tenantId = o.tenantId;
        res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ auth }),
          signal,
        });
      } else if (version === 3) {
        url = withSlash(o.authUrl) + 'auth/tokens';
        res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(this.keystoneV3Body()),
          signal,
        });
      } else {
        throw new SwiftAuthError('AUTH', o.authUrl, `unsupported auth_version ${version} (use 1, 2 or 3)`);
      }
    } catch (err) {
      if (err instanceof SwiftError) throw err;
      throw new SwiftAuthError('AUTH', o.authUrl, `auth request failed: ${(err as Error).message}`, {
        cause: err,
        retryable: isRetryableError(err),
      });
    }
    const requestId = requestIdOf(res.headers);
    if (!res.ok) {
      const body = await bodyText(res);
      throw new SwiftAuthError('AUTH', url, res.status === 401 ? 'bad credentials' : 'auth refused', {
        status: res.status,
        requestId,
        body,
        retryable: isRetryableStatus(res.status),
      });
    }
    let storageUrl: string | undefined;
    let token: string | undefined;
    if (version === 1) {
      storageUrl = res.headers.get('x-storage-url') ?? undefined;
      token = res.headers.get('x-auth-token') ?? res.headers.get('x-storage-token') ?? undefined;
      await discardBody(res);
    } else if (version === 2) {
      const json = (await res.json()) as {
        access?: { token?: { id?: string }; serviceCatalog?: Array<{ type?: string; endpoints?: KeystoneEndpoint[] }> };
      };
      token = json.access?.token?.id;
      storageUrl = pickEndpoint(json.access?.serviceCatalog, o.region, o.endpointType ?? 'public', false);
    } else {
      token = res.headers.get('x-subject-token') ?? undefined;
      const json = (await res.json()) as {
        token?: { catalog?: Array<{ type?: string; endpoints?: KeystoneEndpoint[] }> };
      };
      storageUrl = pickEndpoint(json.token?.catalog, o.region, o.endpointType ?? 'public', true);
    }
    if (o.storageUrl) storageUrl = o.storageUrl;
    if (!token) throw new SwiftAuthError('AUTH', url, 'auth reply carries no token', { requestId });
    if (!storageUrl) {
      throw new SwiftAuthError(
        'AUTH',
        url,
        `no object-store endpoint (${o.endpointType ?? 'public'}${o.region ? `, region ${o.region}` : ''}) in the service catalog`,
        { requestId },
      );
    }
    return { storageUrl: storageUrl.replace(/\/+$/, ''), token };
  }

  private keystoneV3Body(): unknown {
    const o = this.options;
    if (o.applicationCredentialId || o.applicationCredentialName) {
      const cred: Record<string, unknown> = { secret: o.applicationCredentialSecret ?? '' };
      if (o.applicationCredentialId) cred.id = o.applicationCredentialId;
      else {
        cred.name = o.applicationCredentialName;
        cred.user = o.userId ? { id: o.userId } : { name: o.user, domain: this.domainRef(o.domain, o.domainId) };
      }
      return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
    }
    const user: Record<string, unknown> = { password: o.key ?? '' };
    if (o.userId) user.id = o.userId;
    else {
      user.name = o.user;
      user.domain = this.domainRef(o.domain, o.domainId);
    }
    const auth: Record<string, unknown> = { identity: { methods: ['password'], password: { user } } };
    if (o.tenantId) auth.scope = { project: { id: o.tenantId } };
    else if (o.tenant) {
      auth.scope = {
        project: { name: o.tenant, domain: this.domainRef(o.tenantDomain ?? o.domain, o.tenantDomainId ?? o.domainId) },
      };
    }
    return { auth };
  }

  private domainRef(name: string | undefined, id: string | undefined): Record<string, string> {
    if (id) return { id };
    return { name: name || 'Default' };
  }

  /** URL of the account, a container, or an object in it. */
  private url(session: SwiftSession, container?: string, object?: string, query?: Record<string, string | undefined>): string {
    let u = session.storageUrl;
    if (container !== undefined) {
      if (container === '' || container.includes('/')) {
        throw new NotSupportedError(`swift: bad container name ${JSON.stringify(container)}`);
      }
      u += '/' + encodeSwiftName(container);
      if (object !== undefined) u += '/' + encodeSwiftName(object);
    }
    const q = Object.entries(query ?? {}).filter(([, v]) => v !== undefined) as Array<[string, string]>;
    if (q.length) u += '?' + q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    return u;
  }

  private describe(method: string, container?: string, object?: string): string {
    if (container === undefined) return `${method} (account)`;
    return `${method} ${container}${object !== undefined ? '/' + object : ''}`;
  }

  /**
   * One HTTP request with a replayable (or no) body: re-authenticates once on 401 and
   * retries network errors, 5xx, 408 and 429. Statuses in `accept` are returned, others thrown.
   * The caller must consume or cancel the returned body.
   */
  async request(method: string, container: string | undefined, object: string | undefined, init: RequestInit_ = {}): Promise<Response> {
    return this.requestAndRead(method, container, object, init, async (res) => res);
  }

  /**
   * request() with the answer read by `read` inside the same retries, so a body that breaks off
   * (a listing page cut mid-way) repeats the request rather than failing the caller.
   */
  async requestAndRead<T>(
    method: string,
    container: string | undefined,
    object: string | undefined,
    init: RequestInit_,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const accept = init.accept ?? [];
    const target = container === undefined ? '(account)' : `${container}${object !== undefined ? '/' + object : ''}`;
    return withRetry(
      async () => {
        let reauthed = false;
        for (;;) {
          const session = await this.getSession();
          let res: Response;
          const headers: Record<string, string> = { ...init.headers, 'X-Auth-Token': session.token };
          if (init.body) headers['Content-Length'] = String(init.body.byteLength);
          try {
            res = await fetch(this.url(session, container, object, init.query), {
              method,
              headers,
              // fetch copies a Uint8Array body; a stream over it is sent from the caller's buffer
              // (a fresh one per attempt), so reused segment buffers cost no copy per PUT.
              body: init.body ? (ReadableStream.from([init.body]) as unknown as RequestInit['body']) : undefined,
              duplex: init.body ? 'half' : undefined,
              // Following redirects makes undici tee (and copy) the body; Swift sends none for uploads.
              redirect: init.body ? 'error' : 'follow',
            } as RequestInit);
          } catch (err) {
            if (err instanceof NotSupportedError) throw err;
            throw new SwiftError(method, target, `request failed: ${(err as Error).message}`, {
              cause: err,
              retryable: isRetryableError(err),
            });
          }
          if (res.ok || accept.includes(res.status)) {
            if (res.status !== 401) this.confirmedAt = Date.now();
            try {
              return await read(res);
            } catch (err) {
              if (err instanceof SwiftError) throw err;
              throw new SwiftError(method, target, `reading the answer failed: ${(err as Error).message}`, {
                cause: err,
                status: res.status,
                requestId: requestIdOf(res.headers),
                // A JSON page cut short parses as a SyntaxError: as much a broken connection.
                retryable: isRetryableError(err) || err instanceof SyntaxError,
              });
            }
          }
          const requestId = requestIdOf(res.headers);
          const body = await bodyText(res);
          if (res.status === 401 && !reauthed && this.canAuthenticate) {
            reauthed = true;
            this.session = undefined;
            continue;
          }
          throw new SwiftError(method, target, res.status === 401 ? 'unauthorized (token refused)' : res.statusText || 'failed', {
            status: res.status,
            requestId,
            body,
            retryable: isRetryableStatus(res.status),
          });
        }
      },
      {
        policy: this.retryPolicy,
        describe: this.describe(method, container, object),
        onRetry: (err, attempt, delay) => this.retried(this.describe(method, container, object), err, attempt, delay),
      },
    );
  }

  // ---- account and containers ----

  /** All containers of the account, paged. */
  async *listContainers(options: ListOptions = {}): AsyncIterable<SwiftContainerInfo> {
    let marker = options.marker;
    const limit = options.limit ?? 1000;
    for (;;) {
      const page = await this.requestAndRead(
        'GET',
        undefined,
        undefined,
        { query: { format: 'json', limit: String(limit), marker, prefix: options.prefix }, accept: [204] },
        async (res) =>
          res.status === 204 ? [] : ((await res.json()) as Array<{ name: string; count: number; bytes: number; last_modified?: string }>),
      );
      for (const c of page) yield { name: c.name, count: c.count, bytes: c.bytes, lastModified: c.last_modified };
      if (page.length < limit) return;
      marker = page[page.length - 1].name;
    }
  }

  /** Container headers, or undefined when it does not exist. */
  async headContainer(container: string): Promise<Headers | undefined> {
    const res = await this.request('HEAD', container, undefined, { accept: [404] });
    await discardBody(res);
    return res.status === 404 ? undefined : res.headers;
  }

  async putContainer(container: string, headers: Record<string, string> = {}): Promise<void> {
    const res = await this.request('PUT', container, undefined, { headers: { ...headers, 'Content-Length': '0' } });
    await discardBody(res);
  }

  /** Deletes a container: 'deleted', 'missing' (404) or 'not-empty' (409). */
  async deleteContainer(container: string): Promise<'deleted' | 'missing' | 'not-empty'> {
    const res = await this.request('DELETE', container, undefined, { accept: [404, 409] });
    await discardBody(res);
    return res.status === 404 ? 'missing' : res.status === 409 ? 'not-empty' : 'deleted';
  }

  /**
   * Objects (and with a delimiter, `subdir`s) of a container in name order, fetched a page at
   * a time. Returns undefined pages as a thrown SwiftError with status 404 when the container is missing.
   */
  async *listObjects(container: string, options: ListOptions = {}): AsyncIterable<SwiftListItem> {
    let marker = options.marker;
    const limit = options.limit ?? 1000;
    for (;;) {
      const page = await this.requestAndRead(
        'GET',
        container,
        undefined,
        { query: { format: 'json', limit: String(limit), marker, prefix: options.prefix, delimiter: options.delimiter }, accept: [204] },
        async (res) =>
          res.status === 204
            ? []
            : ((await res.json()) as Array<{
                name?: string;
                subdir?: string;
                bytes?: number;
                hash?: string;
                last_modified?: string;
                content_type?: string;
              }>),
      );
      for (const o of page) {
        if (o.subdir !== undefined) yield { kind: 'subdir', name: o.subdir };
        else {
          yield {
            kind: 'object',
            name: o.name ?? '',
            bytes: o.bytes ?? 0,
            hash: o.hash ?? '',
            lastModified: o.last_modified ?? '',
            contentType: o.content_type ?? '',
          };
        }
      }
      if (page.length < limit) return;
      const last = page[page.length - 1];
      marker = last.subdir ?? last.name;
    }
  }

  // ---- objects ----

  /** Object headers, or undefined when it does not exist. */
  async headObject(container: string, object: string): Promise<Headers | undefined> {
    const res = await this.request('HEAD', container, object, { accept: [404] });
    await discardBody(res);
    return res.status === 404 ? undefined : res.headers;
  }

  /**
   * Starts a GET (optionally of a byte range) and resolves once the server answered 200/206,
   * so a missing object is an error here (status 404), never data in the stream. The body
   * resumes with a ranged GET after a dropped connection, as long as the object is unchanged.
   * A range starting at or past the end yields an empty body (status 416).
   */
  async getObject(
    container: string,
    object: string,
    range?: { offset: number; length?: number },
  ): Promise<GetResult> {
    const offset = range?.offset ?? 0;
    const end = range?.length !== undefined ? offset + range.length : undefined;
    const rangeHeader = (from: number) =>
      from > 0 || end !== undefined ? `bytes=${from}-${end !== undefined ? end - 1 : ''}` : undefined;
    const first = await this.openGet(container, object, rangeHeader(offset));
    if (first.status === 416) {
      await discardBody(first);
      return { status: 416, headers: first.headers, body: emptySource() };
    }
    // Resuming checks the object is unchanged by its ETag (a manifest's covers its segments' ETags);
    // no If-Match, which Swift does not apply to a dynamic large object's content.
    const target = `swift: GET ${container}/${object}`;
    const body = resumableBody(
      { body: first.body ?? emptySource(), etag: first.headers.get('etag') ?? undefined },
      {
        target,
        offset,
        end,
        policy: this.retryPolicy,
        isResumable: isNetworkError,
        reopen: async (position) => {
          const res = await this.openGet(container, object, rangeHeader(position));
          if (res.status === 416) {
            await discardBody(res);
            return undefined;
          }
          return { body: res.body ?? emptySource(), etag: res.headers.get('etag') ?? undefined };
        },
        onResume: (err, attempt, delay, position) =>
          this.retried(`GET ${container}/${object} (resuming at byte ${position})`, err, attempt, delay),
      },
    );
    return { status: first.status, headers: first.headers, body };
  }

  private async openGet(container: string, object: string, range: string | undefined): Promise<Response> {
    const headers: Record<string, string> = {};
    if (range) headers.Range = range;
    return this.request('GET', container, object, { headers, accept: [416] });
  }

  /**
   * PUTs an object. A Uint8Array body is retried like any request and sent with its ETag so the
   * server verifies it (`md5`: its MD5 in hex when the caller computed it already, e.g. while
   * collecting it); a stream is sent once (it cannot be replayed) with its MD5 computed on the way
   * and compared to the ETag the server answers. `size` sets Content-Length for streams.
   * A Uint8Array body must stay unchanged until the returned promise settles.
   */
  async putObject(
    container: string,
    object: string,
    body: Uint8Array | ByteSource,
    options: { headers?: Record<string, string>; size?: number; md5?: string } = {},
  ): Promise<PutResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (body instanceof Uint8Array) {
      const md5 = options.md5 ?? createHash('md5').update(body).digest('hex');
      headers.ETag = md5;
      headers['Content-Length'] = String(body.byteLength);
      const res = await this.request('PUT', container, object, { headers, body });
      await discardBody(res);
      const etag = cleanEtag(res.headers.get('etag'));
      if (etag !== md5) {
        await this.dropCorrupt(container, object);
        throw new SwiftError('PUT', `${container}/${object}`, `ETag ${etag} does not match the MD5 ${md5} sent`, {
          requestId: requestIdOf(res.headers),
        });
      }
      return { etag, bytes: body.byteLength, headers: res.headers };
    }
    return this.putStream(container, object, body, headers, options.size);
  }

  private async putStream(
    container: string,
    object: string,
    source: ByteSource,
    headers: Record<string, string>,
    size: number | undefined,
  ): Promise<PutResult> {
    const target = `${container}/${object}`;
    const hash = createHash('md5');
    let bytes = 0;
    let sourceError: unknown;
    async function* counted(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          if (size !== undefined && bytes > size) throw new Error(`source is longer than the declared ${size} bytes`);
          yield chunk;
        }
        if (size !== undefined && bytes !== size) throw new Error(`source ended after ${bytes} of the declared ${size} bytes`);
      } catch (err) {
        sourceError = err;
        throw err;
      }
    }
    if (size !== undefined) headers['Content-Length'] = String(size);
    // A body we cannot send twice should not meet a stale token: confirm it first unless a
    // request succeeded with it moments ago.
    if (this.canAuthenticate && Date.now() - this.confirmedAt > TOKEN_CONFIRM_MS) {
      const probe = await this.request('HEAD', container, undefined, { accept: [404] });
      await discardBody(probe);
    }
    const session = await this.getSession();
    let res: Response;
    try {
      res = await fetch(this.url(session, container, object), {
        method: 'PUT',
        headers: { ...headers, 'X-Auth-Token': session.token },
        body: ReadableStream.from(counted()) as unknown as RequestInit['body'],
        duplex: 'half',
        // Any other redirect mode makes undici tee the body to replay it on a redirect, and the
        // unread branch then holds the whole upload in memory.
        redirect: 'error',
      } as RequestInit);
    } catch (err) {
      if (sourceError) {
        // The data source failed: not a remote problem, keep its error as the cause.
        throw new SwiftError('PUT', target, `upload aborted, reading the source failed: ${(sourceError as Error).message}`, {
          cause: sourceError,
        });
      }
      throw new SwiftError('PUT', target, `upload failed after ${bytes} bytes: ${(err as Error).message}`, {
        cause: err,
        retryable: isRetryableError(err),
      });
    }
    const requestId = requestIdOf(res.headers);
    if (!res.ok) {
      const text = await bodyText(res);
      if (res.status === 401 && this.session === session) this.session = undefined;
      throw new SwiftError('PUT', target, res.statusText || 'failed', {
        status: res.status,
        requestId,
        body: text,
        // A refused token is replaced on the next attempt, so the caller may repeat the upload.
        retryable: isRetryableStatus(res.status) || (res.status === 401 && this.canAuthenticate),
      });
    }
    this.confirmedAt = Date.now();
    await discardBody(res);
    const md5 = hash.digest('hex');
    const etag = cleanEtag(res.headers.get('etag'));
    if (etag !== md5) {
      await this.dropCorrupt(container, object);
      throw new SwiftError('PUT', target, `ETag ${etag} does not match the MD5 ${md5} of the data sent`, { requestId });
    }
    return { etag, bytes, headers: res.headers };
  }

  /**
   * A failed request about to be repeated: a DEBUG line in the project log (shown with -vv), in the
   * spirit of rclone's "pacer: low level retry N/M (error ...)", then the caller's hook.
   */
  retried(what: string, err: unknown, attempt: number, delayMs: number): void {
    if (log.enabled('debug')) {
      const max = this.retryPolicy.attempts - 1;
      log.debug(`swift: ${what}: low level retry ${attempt}/${max} in ${Math.round(delayMs)} ms (error ${describeRetryError(err)})`);
    }
    this.options.onRetry?.(err, attempt, delayMs);
  }

  /** What the server stored differs from what was sent: remove it rather than leave a corrupt object. */
  private async dropCorrupt(container: string, object: string): Promise<void> {
    await this.deleteObject(container, object).catch(() => undefined);
  }

  /** Deletes an object; false when it was not there. */
  async deleteObject(container: string, object: string, query?: Record<string, string>): Promise<boolean> {
    const res = await this.request('DELETE', container, object, { accept: [404], query });
    await discardBody(res);
    return res.status !== 404;
  }

  /** Server-side copy. `manifestOnly` copies a large object's manifest rather than its content. */
  async copyObject(
    srcContainer: string,
    srcObject: string,
    dstContainer: string,
    dstObject: string,
    options: { headers?: Record<string, string>; manifestOnly?: boolean } = {},
  ): Promise<Headers> {
    const res = await this.request('COPY', srcContainer, srcObject, {
      headers: {
        ...options.headers,
        Destination: `/${encodeSwiftName(dstContainer)}/${encodeSwiftName(dstObject)}`,
      },
      query: options.manifestOnly ? { 'multipart-manifest': 'get' } : undefined,
    });
    await discardBody(res);
    return res.headers;
  }

  /** Replaces an object's metadata (POST sets all X-Object-Meta-* at once). */
  async postObject(container: string, object: string, headers: Record<string, string>): Promise<void> {
    const res = await this.request('POST', container, object, { headers });
    await discardBody(res);
  }
}

async function* emptySource(): AsyncGenerator<Uint8Array> {}

/** An error for a retry line: its message (status and request id included for SwiftError) and the network cause's code. */
function describeRetryError(err: unknown): string {
  let text = errorMessage(err);
  for (let e = (err as { cause?: unknown } | undefined)?.cause, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (!text.includes(code)) text += ` [${code}]`;
      break;
    }
  }
  return text;
}
