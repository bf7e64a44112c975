// Cold start: scrypt for a crypt remote is ~30 ms of CPU, and it used to start only once the whole
// program had loaded and the remote was being opened. The bin (cryptfs.cts) runs this module, bundled
// on its own with what it imports, before it reads and compiles the program's bundle, so scrypt for
// the crypt remotes named on the command line runs on the thread pool while the program loads.
// main.ts also imports it first, for the unbundled program (dist/src/cli/main.js).
//
// It is a guess from the plain config file only. Whatever could make the real passwords differ (an
// encrypted config, password variables in the environment, --crypt-password flags, inline options,
// *_command options) makes it start nothing, and a wrong guess costs one scrypt of CPU:
// deriveKeys (crypt/keys.ts) takes a prefetched result only for byte-identical inputs.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigFile } from '../config/config-file.js';
import { resolveConfigPath } from '../config/config-path.js';
import { isEncryptedConfig } from '../config/encrypted-config.js';
import { parseRemoteSpec } from '../config/remote-spec.js';
import { prefetchKeyMaterial } from '../crypt/keys.js';
import { revealBytes } from '../crypt/obscure.js';
import { hardenProcess } from '../os-native.js';
import { isProgramPath } from './program-path.js';

/** `copy a: b:` names two; more than that is rare and each costs a scrypt of CPU if unused. */
const MAX_REMOTES = 2;

export interface CryptPasswords {
  /** Revealed bytes, as the remote's `password` option gives them. */
  password: Buffer;
  /** Revealed bytes; empty when not set. */
  password2: Buffer;
}

/** Variables and flags that can set a crypt password: CRYPTFS_/RCLONE_CONFIG_<REMOTE>_PASSWORD, RCLONE_CRYPT_PASSWORD2, ... */
const PASSWORD_VARIABLE = /^(?:RCLONE|CRYPTFS)_.*PASSWORD(?:2)?(?:_COMMAND)?$/;
const PASSWORD_FLAG = /^--crypt-password/;

function configFlag(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') return args[i + 1];
    if (args[i].startsWith('--config=')) return args[i].slice('--config='.length);
  }
  return undefined;
}

/**
 * The passwords of the crypt remotes `args` (the command line after the program) names, read from
 * the config file as the real open would, or none where anything could override them.
 * `readText` returns a file's text, or undefined when it cannot be read.
 */
export function cryptPasswordsNamedIn(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  readText: (path: string) => string | undefined,
): CryptPasswords[] {
  if (args.some((a) => PASSWORD_FLAG.test(a))) return [];
  if (Object.keys(env).some((name) => PASSWORD_VARIABLE.test(name))) return [];
  const names: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('-') || !arg.includes(':')) continue;
    try {
      const spec = parseRemoteSpec(arg);
      if (spec.remoteName !== undefined && spec.params === undefined && !names.includes(spec.remoteName)) {
        names.push(spec.remoteName);
      }
    } catch {
      // not a remote: the command reports it
    }
    if (names.length === MAX_REMOTES) break;
  }
  if (names.length === 0) return [];
  const text = readText(resolveConfigPath({ flag: configFlag(args) || undefined, env }).path);
  if (text === undefined || isEncryptedConfig(text)) return [];
  const file = ConfigFile.parse(text);
  const found: CryptPasswords[] = [];
  for (const name of names) {
    const section = file.get(name);
    if (!section || section.type !== 'crypt' || !section.password) continue;
    if (Object.keys(section).some((key) => key.endsWith('_command'))) continue;
    found.push({
      password: revealBytes(section.password),
      password2: section.password2 ? revealBytes(section.password2) : Buffer.alloc(0),
    });
  }
  return found;
}

/** Starts scrypt for the crypt remotes on this command line; never throws (the real open reports any problem). */
export function startKeyPrefetch(args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  try {
    // As main.ts does before any password is read: no core dumps, not dumpable.
    hardenProcess();
    const readText = (path: string): string | undefined => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    };
    const found = cryptPasswordsNamedIn(args, env, readText);
    for (const { password, password2 } of found) {
      prefetchKeyMaterial(password, password2); // takes copies
      password.fill(0);
      password2.fill(0);
    }
    if (env.CRYPTFS_DEBUG_KEY_PREFETCH === '1') {
      process.stderr.write(`key prefetch: ${found.length} started in ${basename(fileURLToPath(import.meta.url))}\n`);
    }
  } catch {
    // a config the real load will reject, an addon missing, ...: nothing started
  }
}

// The bin runs this module first as a bundle of its own (cryptfs-prefetch.cjs), before it reads the
// program's bundle; the program's copy of it then has nothing left to start.
const STARTED = Symbol.for('cryptfs.keyPrefetchStarted');
const startedHolder = globalThis as typeof globalThis & { [STARTED]?: boolean };
if (!startedHolder[STARTED] && isProgramPath(process.argv[1], import.meta.url)) {
  startedHolder[STARTED] = true;
  startKeyPrefetch(process.argv.slice(2));
}
