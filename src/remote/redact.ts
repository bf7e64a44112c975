// Keeping secrets out of messages. Two layers:
//  - redactSpec: a remote spec as it may be shown (`:crypt,remote=/x,password=XXX:`),
//    with the value of every option declared secret or sensitive (or named like
//    one) replaced, also inside nested specs (`remote=":s3,secret_access_key=…:b"`);
//  - rememberSecret/redactText: every secret value this process has seen (from
//    the config, inline specs, the command line) is replaced wherever it turns up
//    in text that goes out, as a last line of defence for messages built elsewhere.
import { parseRemoteSpec, formatRemotePrefix } from '../config/remote-spec.js';
import { listBackends } from './registry.js';

/** What a redacted value is shown as (the text of rclone >= 1.64's `config redacted`; rclone 1.60.1 has no such command). */
export const REDACTED = 'XXX';

/** Option names that are secrets whatever backend they belong to (for unknown types and unparsable specs). */
const SECRET_LOOKING_NAME = /pass|secret|token|credential|(^|_)key($|_)/i;

/** Whether an option of that name is declared secret/sensitive by any backend, or is named like a secret. */
export function isSecretOptionName(name: string): boolean {
  const key = name.toLowerCase();
  if (SECRET_LOOKING_NAME.test(key)) return true;
  return listBackends().some((b) => b.options.some((o) => o.name === key && (o.secret || o.sensitive)));
}

/** `key=value` in a spec, the value bare or quoted with ' or " (doubled quotes inside). */
const PARAM_RE = /([A-Za-z0-9_]+)=("(?:[^"]|"")*"|'(?:[^']|'')*'|[^,:]*)/g;

/** A remote spec fit to show: secret option values replaced by XXX, also in nested specs. */
export function redactSpec(spec: string): string {
  let parsed;
  try {
    parsed = parseRemoteSpec(spec);
  } catch {
    // A spec that does not parse is still shown in errors: redact by pattern.
    return redactByPattern(spec);
  }
  if (!parsed.params) return spec;
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed.params)) {
    if (value !== '' && isSecretOptionName(key)) params[key] = REDACTED;
    else params[key] = value.includes(':') ? redactSpec(value) : value;
  }
  // An unquoted value holding ':' ends the options early and spills into the path: redact that by pattern.
  return formatRemotePrefix({ ...parsed, params }) + redactByPattern(parsed.path);
}

function redactByPattern(text: string): string {
  return text.replace(PARAM_RE, (whole, key: string) => (isSecretOptionName(key) ? `${key}=${REDACTED}` : whole));
}

/** Shorter values are not scrubbed from text: they would blank out ordinary words and numbers. */
const MIN_REMEMBERED_LENGTH = 4;
const remembered = new Set<string>();

/** Notes a secret value so that redactText removes it from any text; also the secrets of a spec's inline options. */
export function rememberSecret(value: string): void {
  if (value.length >= MIN_REMEMBERED_LENGTH) remembered.add(value);
}

/** Remembers the values of the secret options written inline in `spec` (and in specs nested in it). */
export function rememberSpecSecrets(spec: string): void {
  let params: Record<string, string> | undefined;
  try {
    params = parseRemoteSpec(spec).params;
  } catch {
    for (const m of spec.matchAll(PARAM_RE)) {
      if (isSecretOptionName(m[1])) rememberSecret(m[2].replace(/^(["'])(.*)\1$/s, '$2'));
    }
    return;
  }
  for (const [key, value] of Object.entries(params ?? {})) {
    if (isSecretOptionName(key)) rememberSecret(value);
    else if (value.includes(':')) rememberSpecSecrets(value);
  }
}

/** `text` with every remembered secret value replaced by XXX. */
export function redactText(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...remembered].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}
