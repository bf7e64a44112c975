// Option values in the config wizard: checking what a user typed against the
// option's declaration (OptionSpec), and how values and their kinds are shown.
// Also used by the non-interactive `config create/update`.
import { ConfigError, errorMessage } from '../errors.js';
import type { ConfigStore } from '../config/config-store.js';
import { parseRemoteSpec } from '../config/remote-spec.js';
import { reveal } from '../crypt/obscure.js';
import { getBackend, parseDuration, parseSize, type BackendSpec, type OptionSpec } from '../remote/registry.js';

/** What the wizard shows for a stored secret, as rclone does. */
export const ENCRYPTED_PLACEHOLDER = '*** ENCRYPTED ***';


// A Map, not an object: "constructor" must not look like a boolean.
const BOOL_WORDS = new Map<string, boolean>([
  ['true', true],
  ['t', true],
  ['y', true],
  ['yes', true],
  ['1', true],
  ['false', false],
  ['f', false],
  ['n', false],
  ['no', false],
  ['0', false],
]);

/**
 * Checks a value typed for an option and returns it in the form stored in the
 * config file (booleans as true/false, exclusive choices spelled as declared).
 * Throws ConfigError saying what is wrong.
 */
export function canonicalOptionValue(spec: OptionSpec, value: string): string {
  const text = value.trim();
  switch (spec.type ?? 'string') {
    case 'bool': {
      const b = BOOL_WORDS.get(text.toLowerCase());
      if (b === undefined) throw new ConfigError(`${JSON.stringify(value)} is not a boolean (use true or false)`);
      return String(b);
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(text)) throw new ConfigError(`${JSON.stringify(value)} is not an integer`);
      return BigInt(text).toString();
    case 'size':
      parseSize(text, spec.name);
      return text;
    case 'duration':
      parseDuration(text, spec.name);
      return text;
    default:
      break;
  }
  if (spec.exclusive && spec.examples && spec.examples.length > 0) {
    const match = spec.examples.find((e) => e.value.toLowerCase() === text.toLowerCase());
    if (!match) {
      throw new ConfigError(
        `${JSON.stringify(value)} is not one of ${spec.examples.map((e) => JSON.stringify(e.value)).join(', ')}`,
      );
    }
    return match.value;
  }
  return value;
}

/** rclone's convention: an option named `remote` is the remote a wrapping backend stores its data in. */
export function isRemoteReference(spec: OptionSpec): boolean {
  return spec.name === 'remote';
}

/**
 * Why a remote reference would not work, or undefined if it looks right:
 * `name:path` must name an existing remote (not `self`), `:type,…:path` a known
 * backend; anything else must be a local path (no colon, or a `/` before it).
 */
export function remoteReferenceProblem(
  value: string,
  store: Pick<ConfigStore, 'hasRemote'>,
  self?: string,
): string | undefined {
  let spec;
  try {
    spec = parseRemoteSpec(value);
  } catch (err) {
    return `${JSON.stringify(value)} is not a valid remote: ${errorMessage(err)}`;
  }
  if (spec.remoteName !== undefined) {
    if (spec.remoteName === self) return `a remote can't store its data in itself ("${self}:")`;
    if (!store.hasRemote(spec.remoteName)) {
      return `there is no remote called "${spec.remoteName}" - configure it first, or give a local path`;
    }
    return undefined;
  }
  if (spec.backendType !== undefined) {
    try {
      getBackend(spec.backendType);
    } catch (err) {
      return errorMessage(err);
    }
    return undefined;
  }
  if (value.includes(':') && !/^[^:]*\//.test(value)) {
    return `${JSON.stringify(value)} is neither "remote:path" with a valid remote name nor a local path`;
  }
  return undefined;
}

/**
 * Whether a value given for a secret option is already obscured: it reveals
 * without error (rclone's test) AND to readable text. The second half guards
 * against rclone's trap where a plain password that happens to be base64url of
 * 16+ bytes — every 128-bit generated password is — is stored unobscured and
 * then reveals to nothing or to binary garbage.
 */
export function looksObscured(value: string): boolean {
  let plain: string;
  try {
    plain = reveal(value);
  } catch {
    return false;
  }
  return plain !== '' && !/[\u0000-\u001f\u007f\ufffd]/.test(plain);
}

/** The values a remote's section holds, with secrets replaced by the placeholder. */
export function displayValue(backend: BackendSpec | undefined, key: string, value: string): string {
  const spec = backend?.options.find((o) => o.name === key);
  return spec?.secret && value !== '' ? ENCRYPTED_PLACEHOLDER : value;
}

/** rclone's description of the kind of value an option takes. */
export function valueKind(spec: OptionSpec, shownDefault: string): string {
  if (shownDefault === '') return 'value';
  switch (spec.type ?? 'string') {
    case 'bool':
      return 'boolean value (true or false)';
    case 'size':
      return 'size with suffix K,M,G,T';
    case 'duration':
      return 'duration s,m,h,d,w,M,y';
    case 'int':
      return 'signed integer';
    default:
      return 'string value';
  }
}

/** The default an option declares, as the config file spells it. */
export function declaredDefault(spec: OptionSpec): string {
  return spec.default === undefined ? '' : String(spec.default);
}
