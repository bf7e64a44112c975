// Swift authentication: auth v1 (X-Auth-User/Key) and Keystone v2 and v3
// (password or application credential), picking the object-store endpoint
// from the service catalog. The client (swift-client.ts) keeps the session.
import '../fetch-setup.js'; // before the first fetch
import { isRetryableError, isRetryableStatus } from './retry.js';
import { bodyText, discardBody, requestIdOf, SwiftAuthError, SwiftError } from './swift-http.js';

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

export interface SwiftSession {
  storageUrl: string;
  token: string;
}

function guessAuthVersion(url: string, configured: number | undefined): number {
  if (configured) return configured;
  if (url.includes('v3')) return 3;
  if (url.includes('v2')) return 2;
  return 1;
}

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

/**
 * One auth request (v1, or Keystone v2 or v3 as the URL or auth_version says):
 * the token and storage URL it yields. Failures are SwiftAuthError.
 */
export async function requestSession(o: SwiftAuthOptions, timeoutMs: number | undefined): Promise<SwiftSession> {
  if (!o.authUrl) {
    throw new SwiftAuthError('AUTH', '(none)', 'no auth URL configured and no storage_url + auth_token to use instead');
  }
  const version = guessAuthVersion(o.authUrl, o.authVersion);
  const signal = AbortSignal.timeout(timeoutMs ?? 30_000);
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
        body: JSON.stringify(keystoneV3Body(o)),
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

/** The Keystone v3 token request: application credential or password, scoped to the project if one is set. */
function keystoneV3Body(o: SwiftAuthOptions): unknown {
  if (o.applicationCredentialId || o.applicationCredentialName) {
    const cred: Record<string, unknown> = { secret: o.applicationCredentialSecret ?? '' };
    if (o.applicationCredentialId) cred.id = o.applicationCredentialId;
    else {
      cred.name = o.applicationCredentialName;
      cred.user = o.userId ? { id: o.userId } : { name: o.user, domain: domainRef(o.domain, o.domainId) };
    }
    return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
  }
  const user: Record<string, unknown> = { password: o.key ?? '' };
  if (o.userId) user.id = o.userId;
  else {
    user.name = o.user;
    user.domain = domainRef(o.domain, o.domainId);
  }
  const auth: Record<string, unknown> = { identity: { methods: ['password'], password: { user } } };
  if (o.tenantId) auth.scope = { project: { id: o.tenantId } };
  else if (o.tenant) {
    auth.scope = {
      project: { name: o.tenant, domain: domainRef(o.tenantDomain ?? o.domain, o.tenantDomainId ?? o.domainId) },
    };
  }
  return { auth };
}

function domainRef(name: string | undefined, id: string | undefined): Record<string, string> {
  if (id) return { id };
  return { name: name || 'Default' };
}
