// Remote specs as rclone reads them (fs/fspath.Parse):
//   name:path              a configured remote; `name:` is its root
//   name,opt=v,flag:path   the same with option overrides (rclone ≥ 1.55)
//   :type,opt=v:path       an on-the-fly remote of a backend type ("connection string")
//   /a/b, ./x, rel/dir     local paths (no colon, or a `/` before the first `:`/`,`)
// Option values may be quoted with ' or " (a doubled quote is a literal one);
// a bare option (`,flag`) means "true". Parameter names are [A-Za-z0-9_].
//
// Remote names: letters and digits (any script), `_`, `-`, `.`, `+`, `@` and
// space; not starting with `-` or space, not ending with space. That takes in
// both rclone 1.60.1's `[\w. -]+` (which allows a trailing `-`) and newer
// rclone's rule (which adds `+`, `@` and non-ASCII letters), so configs written
// by either load.
//
// One deliberate difference: rclone rejects `bad*name:x` ("config name contains
// invalid characters"); here a colon whose prefix is not a valid remote name
// makes the whole spec a local path, so file names like `notes:v2*.txt` work.
// A spec starting with `:` is always a connection string and errors if bad.
import { ConfigError } from '../errors.js';

export interface RemoteSpec {
  /** Config section name; undefined for a local path and for a connection string. */
  remoteName: string | undefined;
  /** Backend type of a connection string (`:crypt,…:` → 'crypt'); undefined otherwise. */
  backendType?: string;
  /** Options given inline (`name,opt=v:` or `:type,opt=v:`); undefined when there were none. */
  params?: Record<string, string>;
  /** The path part exactly as written (the whole spec for a local path); '' is the remote's root. */
  path: string;
}

const NAME_RE = /^[\p{L}\p{N}_.+@](?:[\p{L}\p{N}_.+@ -]*[\p{L}\p{N}_.+@-])?$/u;

/** Whether `name` is a valid remote (config section) name. */
export function isValidRemoteName(name: string): boolean {
  return NAME_RE.test(name);
}

/** Throws ConfigError explaining why `name` can't be a remote name. */
export function checkRemoteName(name: string): void {
  if (name === '') throw new ConfigError("config name can't be empty");
  if (name.startsWith('-')) throw new ConfigError('config name starts with `-`');
  if (!isValidRemoteName(name)) {
    throw new ConfigError(
      'config name contains invalid characters - may only contain numbers, letters, `_`, `-`, `.`, `+`, `@` and space, while not start with `-` or space, and not end with space',
    );
  }
}

function isParamChar(c: string): boolean {
  return /[A-Za-z0-9_]/.test(c);
}

/** Parses a remote spec; throws ConfigError with rclone's wording for malformed ones. */
export function parseRemoteSpec(spec: string): RemoteSpec {
  if (spec === '') throw new ConfigError("can't use empty string as a path");
  const local: RemoteSpec = { remoteName: undefined, path: spec };
  if (!spec.includes(':')) return local;
  const onTheFly = spec[0] === ':';

  // The name: up to the first ':' or ','; a '/' first means a local path.
  let i = onTheFly ? 1 : 0;
  for (; i < spec.length; i++) {
    const c = spec[i];
    if (c === '/' || c === '\\') {
      if (onTheFly) throw new ConfigError(`${JSON.stringify(spec)}: backend name contains invalid characters`);
      return local;
    }
    if (c === ':' || c === ',') break;
  }
  if (i >= spec.length) {
    // Only `:name` without a closing ':' gets here (otherwise the spec's ':' ends the loop).
    throw new ConfigError('config name needs a trailing `:`');
  }
  const name = spec.slice(onTheFly ? 1 : 0, i);
  if (onTheFly) {
    if (name === '') throw new ConfigError("config name can't be empty");
    if (!isValidRemoteName(name)) checkRemoteName(name);
  } else if (!isValidRemoteName(name)) {
    return local;
  }
  const result: RemoteSpec = onTheFly
    ? { remoteName: undefined, backendType: name, path: '' }
    : { remoteName: name, path: '' };
  if (spec[i] === ':') {
    result.path = spec.slice(i + 1);
    return result;
  }

  // Parameters: `,key=value`, `,key="quoted"`, `,flag`, ended by ':'.
  const params = new Map<string, string>();
  const set = (k: string, v: string) => params.set(k, v);
  let pos = i + 1;
  for (;;) {
    let j = pos;
    while (j < spec.length && isParamChar(spec[j])) j++;
    if (j >= spec.length) throw new ConfigError('config parameter must end with `,` or `:`');
    const c = spec[j];
    if (c !== ':' && c !== ',' && c !== '=') {
      throw new ConfigError('config parameters may only contain `0-9`, `A-Z`, `a-z` and `_`');
    }
    const key = spec.slice(pos, j);
    if (key === '') throw new ConfigError("config parameters can't be empty");
    pos = j + 1;
    if (c !== '=') {
      set(key, 'true');
      if (c === ':') break;
      continue;
    }
    const q = spec[pos];
    if (q === '"' || q === "'") {
      // Quoted: runs to the next lone quote; a doubled quote is a literal one.
      let value = '';
      let k = pos + 1;
      for (;;) {
        const close = spec.indexOf(q, k);
        if (close < 0) throw new ConfigError('unterminated quoted config value');
        value += spec.slice(k, close);
        if (spec[close + 1] === q) {
          value += q;
          k = close + 2;
          continue;
        }
        k = close + 1;
        break;
      }
      if (k >= spec.length || (spec[k] !== ':' && spec[k] !== ',')) {
        throw new ConfigError('expecting `:` or `,` or another quote after a quote');
      }
      set(key, value);
      pos = k + 1;
      if (spec[k] === ':') break;
      continue;
    }
    let k = pos;
    while (k < spec.length && spec[k] !== ':' && spec[k] !== ',') k++;
    if (k >= spec.length) throw new ConfigError('unquoted config value must end with `,` or `:`');
    set(key, spec.slice(pos, k));
    pos = k + 1;
    if (spec[k] === ':') break;
  }
  // fromEntries keeps a key like "__proto__" an ordinary own property.
  result.params = Object.fromEntries(params);
  result.path = spec.slice(pos);
  return result;
}

/** The config-string part of a spec as rclone shows it: `name:`, `:type,opt=v:`, or '' for a local path. */
export function formatRemotePrefix(spec: RemoteSpec): string {
  if (spec.remoteName === undefined && spec.backendType === undefined) return '';
  const head = spec.backendType !== undefined ? `:${spec.backendType}` : spec.remoteName!;
  const params = Object.entries(spec.params ?? {}).map(([k, v]) =>
    /^[^:,"']*$/.test(v) ? `${k}=${v}` : `${k}="${v.replace(/"/g, '""')}"`,
  );
  return [head, ...params].join(',') + ':';
}
