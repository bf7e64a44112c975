// `cryptfs help backends` and `cryptfs help backend NAME`, printed from the
// registry's option declarations in the layout `rclone help backend` uses.
import { userBackends, type BackendSpec, type OptionSpec } from '../remote/registry.js';
import { backendFlagName } from './backend-flags.js';
import '../remote/backends.js';


export function backendNames(): string[] {
  return userBackends().map((b) => b.type);
}

export function backendsListText(): string {
  const lines = ['All cryptfs backends:', ''];
  for (const b of userBackends()) lines.push(`  ${b.type.padEnd(12)} ${b.description}`);
  lines.push('', 'To see more info about a particular backend use:', '  cryptfs help backend <name>', '');
  return lines.join('\n');
}

function envName(type: string, option: string): string {
  return `RCLONE_${type}_${option}`.toUpperCase().replace(/-/g, '_');
}

function typeName(o: OptionSpec): string {
  switch (o.type ?? 'string') {
    case 'size':
      return 'SizeSuffix';
    case 'duration':
      return 'Duration';
    case 'enum':
      return 'string';
    default:
      return o.type ?? 'string';
  }
}

function optionText(b: BackendSpec, o: OptionSpec): string[] {
  const lines = [`#### --${backendFlagName(b.type, o.name)}`, '', o.help.trim(), ''];
  if (o.secret) lines.push('**NB** Input to this must be obscured - see [cryptfs obscure]; or give `' + o.name + '_command`.', '');
  lines.push('Properties:', '');
  lines.push(`- Config:      ${o.name}`);
  lines.push(`- Env Var:     ${envName(b.type, o.name)}`);
  lines.push(`- Type:        ${typeName(o)}`);
  if (o.required) lines.push('- Required:    true');
  else if (o.default !== undefined) lines.push(`- Default:     ${typeof o.default === 'string' ? JSON.stringify(o.default) : String(o.default)}`);
  else lines.push('- Required:    false');
  if (o.examples?.length) {
    lines.push('- Examples:');
    for (const e of o.examples) {
      lines.push(`    - ${JSON.stringify(e.value)}`);
      for (const h of e.help.split('\n')) lines.push(`        - ${h}`);
    }
  }
  lines.push('');
  return lines;
}

/** Undefined when there is no such backend. */
export function backendHelpText(type: string): string | undefined {
  const b = userBackends().find((x) => x.type === type);
  if (!b) return undefined;
  const lines: string[] = [];
  const shown = b.options.filter((o) => !o.hidden);
  for (const [title, opts] of [
    ['Standard', shown.filter((o) => !o.advanced)],
    ['Advanced', shown.filter((o) => o.advanced)],
  ] as const) {
    if (opts.length === 0) continue;
    lines.push(`### ${title} options`, '', `Here are the ${title} options specific to ${b.type} (${b.description}).`, '');
    for (const o of opts) lines.push(...optionText(b, o));
  }
  const secrets = b.options.filter((o) => o.secret || o.sensitive);
  if (secrets.length) {
    lines.push('### Secrets from a command', '');
    lines.push(
      `Each of ${secrets.map((o) => o.name).join(', ')} may instead be given as <option>_command: a command run once`,
      'through the shell whose standard output, trimmed, is the plain (not obscured) value, e.g.',
      `\`${secrets[0].name}_command = pass show cryptfs/${b.type}\`.`,
      '',
    );
  }
  return lines.join('\n');
}
