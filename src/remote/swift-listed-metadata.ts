// Metadata a Swift container listing carries. A listing gives each object's Content-Type but
// none of its X-Object-Meta-*, so the keys a caller may need from a listing alone (cryptfs's own
// `cryptfs-*` keys: the sealed record, which states the plaintext hashes) are mirrored into
// Content-Type parameters: `application/octet-stream; cryptfs-seal="..."`. Swift keeps the
// listing's content_type current on PUT, COPY and POST (fast-POST), so `check` and `hashsum` over
// Swift need one listing request per 10,000 objects instead of a HEAD per object.
//
// The X-Object-Meta-* headers stay the authority (reads use them). Other tools keep both copies
// together: a COPY or a POST without Content-Type keeps both, a new PUT drops both.
import type { Metadata } from './remote.js';

/** Keys mirrored into the Content-Type (lower case, as metadata keys are kept). */
const LISTED_KEY = /^cryptfs-[a-z0-9-]+$/;
const META_PREFIX = 'x-object-meta-';
/** Swift's default type for objects with no better one (what it gives encrypted names anyway). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Past this length the mirror is left out (listings then fall back to a HEAD for the object). */
const MAX_CONTENT_TYPE = 4096;
const LISTED_PARAM = /;\s*(cryptfs-[a-z0-9-]+)="((?:[^"\\]|\\.)*)"/g;

/** The Content-Type without any mirrored parameters (the default type when there is none). */
export function baseContentType(contentType: string | null | undefined): string {
  const base = (contentType ?? '').replace(LISTED_PARAM, '').trim();
  return base === '' ? DEFAULT_CONTENT_TYPE : base;
}

/** Whether a Content-Type carries mirrored metadata. */
export function hasListedMetadata(contentType: string | null | undefined): boolean {
  return contentType != null && new RegExp(LISTED_PARAM.source).test(contentType);
}

/**
 * The Content-Type for an object whose X-Object-Meta-* headers are `headers` (any case): `base`
 * with the listed keys as parameters; undefined when there is nothing to mirror and `always` is
 * false (the request then leaves the type to Swift, as before).
 */
export function listedContentType(headers: Record<string, string>, base: string | null | undefined, always = false): string | undefined {
  const params: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (!key.startsWith(META_PREFIX)) continue;
    const name = key.slice(META_PREFIX.length);
    if (LISTED_KEY.test(name)) params.push([name, `; ${name}="${v.replace(/["\\]/g, (c) => '\\' + c)}"`]);
  }
  if (params.length === 0) return always ? baseContentType(base) : undefined;
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const full = baseContentType(base) + params.map((p) => p[1]).join('');
  return full.length <= MAX_CONTENT_TYPE ? full : always ? baseContentType(base) : undefined;
}

/** The headers with the Content-Type that mirrors their listed keys (unchanged when none). */
export function withListedContentType(headers: Record<string, string>, base?: string | null): Record<string, string> {
  const type = listedContentType(headers, base);
  return type === undefined ? headers : { ...headers, 'Content-Type': type };
}

/** The mirrored keys a listing's content_type carries (undefined when none). */
export function listedMetadata(contentType: string | undefined): Metadata | undefined {
  if (!contentType) return undefined;
  let out: Metadata | undefined;
  for (const m of contentType.matchAll(LISTED_PARAM)) (out ??= {})[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return out;
}
