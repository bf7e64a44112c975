// A thin OpenStack Swift client on Node's fetch: auth v1 and Keystone v2/v3,
// re-authentication on 401, per-segment URL encoding, paged JSON listings,
// ranged streaming GETs that resume after a dropped connection, streamed PUTs
// checked against the ETag, server-side COPY and metadata POST.
// Every failure is a RemoteIOError carrying the HTTP status and X-Trans-Id.
//
// This file is the session and the requests (retries, re-authentication on
// 401, uploads, downloads); the parts have their own modules: swift-auth.ts
// (auth v1, Keystone v2/v3), swift-listing.ts (paged listings), swift-http.ts
// (errors, name encoding, ETags).
import '../fetch-setup.js'; // before the first fetch
import { createHash } from 'node:crypto';
import { NotSupportedError } from '../errors.js';
import { log } from '../log.js';
import type { ByteSource } from './remote.js';
import { resumableBody } from './resumable-read.js';
import { asAborted } from '../abort.js';
import { defaultRetryPolicy, isRetryableError, isRetryableStatus, withRetry, type RetryPolicy } from './retry.js';
import { requestSession, type SwiftAuthOptions, type SwiftSession } from './swift-auth.js';
import {
  bodyText,
  cleanEtag,
  describeRetryError,
  discardBody,
  emptySource,
  encodeSwiftName,
  isNetworkError,
  requestIdOf,
  SwiftError,
} from './swift-http.js';
import {
  listContainers,
  listObjects,
  type ListOptions,
  type SwiftContainerInfo,
  type SwiftListItem,
} from './swift-listing.js';

// What the Swift backend modules and tests import from the client.
export type { EndpointType, SwiftAuthOptions, SwiftSession } from './swift-auth.js';
export { cleanEtag, discardBody, encodeManifestValue, encodeSwiftName, SwiftAuthError, SwiftError } from './swift-http.js';
export type { ListOptions, SwiftContainerInfo, SwiftListItem } from './swift-listing.js';

/** Above every net.Socket's default writable high-water mark (16 KiB in Node 20, 64 KiB from 22). */
const SOCKET_QUEUED_BELOW = 64 * 1024 + 1;

export interface SwiftClientOptions extends SwiftAuthOptions {
  retry?: RetryPolicy;
  /** Told of each repeated failure, besides the DEBUG line every retry gets in the project log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Timeout for one auth request in ms. */
  authTimeoutMs?: number;
}

/** What one request sends and which error statuses it takes as answers. */
interface RequestInit_ {
  headers?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: Uint8Array;
  accept?: number[];
  /** Ends the request (and its answer's body) when it fires; no retry after that. */
  signal?: AbortSignal;
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

/** How long a token that just worked is trusted before a non-replayable upload without re-checking it. */
const TOKEN_CONFIRM_MS = 60_000;

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
      this.authInFlight = withRetry(() => requestSession(this.options, this.options.authTimeoutMs), {
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
              signal: init.signal,
              // fetch copies a Uint8Array body; a stream over it is sent from the caller's buffer
              // (a fresh one per attempt), so reused segment buffers cost no copy per PUT.
              body: init.body ? (ReadableStream.from([init.body]) as unknown as RequestInit['body']) : undefined,
              duplex: init.body ? 'half' : undefined,
              // Following redirects makes undici tee (and copy) the body; Swift sends none for uploads.
              redirect: init.body ? 'error' : 'follow',
            } as RequestInit);
          } catch (err) {
            if (err instanceof NotSupportedError) throw err;
            if (init.signal?.aborted) throw asAborted(err, init.signal);
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
              if (init.signal?.aborted) throw asAborted(err, init.signal);
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
        signal: init.signal,
        describe: this.describe(method, container, object),
        onRetry: (err, attempt, delay) => this.retried(this.describe(method, container, object), err, attempt, delay),
      },
    );
  }
  // ---- account and containers ----

  /** All containers of the account, paged. */
  listContainers(options: ListOptions = {}): AsyncIterable<SwiftContainerInfo> {
    return listContainers(this, options);
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
  /** Objects (and with a delimiter, `subdir`s) of a container in name order; see swift-listing.ts. */
  listObjects(container: string, options: ListOptions = {}): AsyncIterable<SwiftListItem> {
    return listObjects(this, container, options);
  }

  // ---- objects ----

  /** Object headers, or undefined when it does not exist; `signal` ends the request at once. */
  async headObject(container: string, object: string, signal?: AbortSignal): Promise<Headers | undefined> {
    const res = await this.request('HEAD', container, object, { accept: [404], signal });
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
    signal?: AbortSignal,
  ): Promise<GetResult> {
    const offset = range?.offset ?? 0;
    const end = range?.length !== undefined ? offset + range.length : undefined;
    const rangeHeader = (from: number) =>
      from > 0 || end !== undefined ? `bytes=${from}-${end !== undefined ? end - 1 : ''}` : undefined;
    const first = await this.openGet(container, object, rangeHeader(offset), signal);
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
        signal,
        isResumable: isNetworkError,
        reopen: async (position) => {
          const res = await this.openGet(container, object, rangeHeader(position), signal);
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

  private async openGet(container: string, object: string, range: string | undefined, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (range) headers.Range = range;
    return this.request('GET', container, object, { headers, accept: [416], signal });
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
    /** `signal` ends a Uint8Array body's PUT (a stream's ends with its source). */
    options: { headers?: Record<string, string>; size?: number; md5?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (body instanceof Uint8Array) {
      const md5 = options.md5 ?? createHash('md5').update(body).digest('hex');
      headers.ETag = md5;
      headers['Content-Length'] = String(body.byteLength);
      const res = await this.request('PUT', container, object, { headers, body, signal: options.signal });
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
          // undici asks for the next piece once the socket took this one: at once for a piece
          // below the socket's high-water mark, which may then still wait in its queue. The source
          // may refill a piece as soon as the next is asked for (WriteOptions.reusePieces), so a
          // small one goes as a copy; bigger ones are waited for ('drain'). The ETag check stays.
          yield chunk.byteLength < SOCKET_QUEUED_BELOW ? Buffer.from(chunk) : chunk;
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
