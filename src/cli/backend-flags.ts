// Every declared backend option is also a command-line flag, as in rclone:
// option `sse_customer_key` of backend `s3` is `--s3-sse-customer-key`. The
// flags are derived from the registry's declarations, so a new option is a
// new flag with no other change.
//
// Precedence (rclone's, checked against rclone 1.60.1): a flag beats the
// config file and RCLONE_CONFIG_<REMOTE>_<OPTION>, and loses only to options
// inline in the spec (`name,opt=v:` or `:type,opt=v:`).
import type { FlagSpec, FlagValues } from './args.js';
import { userBackends, type BackendSpec, type OptionSpec } from '../remote/registry.js';
import '../remote/backends.js';

/** `s3` + `sse_customer_key` → `s3-sse-customer-key`. */
export function backendFlagName(type: string, option: string): string {
  return `${type}-${option.replace(/_/g, '-')}`;
}


function flagSpecOf(b: BackendSpec, o: OptionSpec): FlagSpec {
  return {
    name: backendFlagName(b.type, o.name),
    // No default: only a flag the user gave may override the config.
    type: o.type === 'bool' ? 'bool' : 'string',
    help: o.help.split('\n')[0],
  };
}

/** The flags of every registered backend's options. */
export function backendOptionFlags(): FlagSpec[] {
  const out: FlagSpec[] = [];
  for (const b of userBackends()) {
    for (const o of b.options) out.push(flagSpecOf(b, o));
  }
  return out;
}

/**
 * The option values a command line sets for backend `type`, keyed by option
 * name, as the strings a config file would hold (bools as "true"/"false").
 */
export function backendFlagValues(
  flags: FlagValues,
  given: ReadonlySet<string>,
  type: string,
  options: readonly OptionSpec[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of options) {
    const name = backendFlagName(type, o.name);
    if (!given.has(name)) continue;
    const v = flags[name];
    if (v === undefined) continue;
    out[o.name] = String(v);
  }
  return out;
}
