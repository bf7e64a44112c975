// The HTTP details the Swift client modules share: the error type (with the
// status and X-Trans-Id), name and manifest encoding, ETags, answer bodies.
import { errorMessage, NotSupportedError, RemoteIOError } from '../errors.js';
import { isRetryableError } from './retry.js';

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

/** rclone's encoding of X-Object-Manifest values (swift.go's urlEncode): only [0-9A-Za-z/._-] stay literal. */
export function encodeManifestValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[0-9A-Za-z/._-]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The request id the server gave an answer (quoted in errors). */
export function requestIdOf(headers: Headers | undefined): string | undefined {
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

/** The start of an error answer's body, for the error. */
export async function bodyText(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, 500);
  } catch {
    return '';
  }
}

/** Whether the error came from the network rather than from an HTTP answer. */
export function isNetworkError(err: unknown): boolean {
  return !(err instanceof RemoteIOError) && isRetryableError(err);
}

/** The body of an empty answer (a range past the end). */
export async function* emptySource(): AsyncGenerator<Uint8Array> {}

/** An error for a retry line: its message (status and request id included for SwiftError) and the network cause's code. */
export function describeRetryError(err: unknown): string {
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

