// Which config file to use, first match wins:
//   1. --config FILE
//   2. $CRYPTFS_CONFIG
//   3. $RCLONE_CONFIG            (so an rclone setup works unchanged)
//   4. $XDG_CONFIG_HOME/cryptfs/cryptfs.conf, else ~/.config/cryptfs/cryptfs.conf
// rclone's own ~/.config/rclone/rclone.conf is never read implicitly — writing
// our changes into it behind the user's back would be rude — but when our
// default is missing and that file exists, the result carries a hint saying
// how to use it.
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export type ConfigPathSource = 'flag' | 'CRYPTFS_CONFIG' | 'RCLONE_CONFIG' | 'default';

export interface ConfigPathChoice {
  /** Absolute path of the config file (it may not exist yet). */
  path: string;
  /** Whether a file (not a directory) is there now. */
  exists: boolean;
  source: ConfigPathSource;
  /** A note for the user, e.g. that an rclone config exists and how to use it. */
  hint?: string;
}

export interface ConfigPathOptions {
  /** Value of --config, if given. */
  flag?: string;
  env?: NodeJS.ProcessEnv;
  /** Home directory (defaults to os.homedir()). */
  home?: string;
}

/** $XDG_CONFIG_HOME when set to an absolute path (the spec says to ignore relative ones), else ~/.config. */
function configHome(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(home, '.config');
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(configHome(env, home), 'cryptfs', 'cryptfs.conf');
}

/** Where rclone keeps its config by default (for the hint only). */
export function rcloneDefaultConfigPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(configHome(env, home), 'rclone', 'rclone.conf');
}

function isFile(path: string): boolean {
  try {
    return !statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function resolveConfigPath(options: ConfigPathOptions = {}): ConfigPathChoice {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const pick = (path: string, source: ConfigPathSource): ConfigPathChoice => {
    const abs = resolve(path);
    return { path: abs, exists: isFile(abs), source };
  };
  // An empty value counts as not given, as an empty --config= usually comes from an unset shell variable.
  if (options.flag) return pick(options.flag, 'flag');
  if (env.CRYPTFS_CONFIG) return pick(env.CRYPTFS_CONFIG, 'CRYPTFS_CONFIG');
  if (env.RCLONE_CONFIG) return pick(env.RCLONE_CONFIG, 'RCLONE_CONFIG');
  const choice = pick(defaultConfigPath(env, home), 'default');
  if (!choice.exists) {
    const rclonePath = rcloneDefaultConfigPath(env, home);
    if (isFile(rclonePath)) {
      choice.hint =
        `no cryptfs config at ${choice.path}, but an rclone config exists at ${rclonePath}; ` +
        `use it with --config ${rclonePath} or RCLONE_CONFIG=${rclonePath}`;
    }
  }
  return choice;
}
