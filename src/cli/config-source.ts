// Loads the config store once per command, as the global flags say.
import { ConfigStore } from '../config/config-store.js';
import { resolveConfigPath } from '../config/config-path.js';
import type { FlagValues } from './args.js';
import { flagBool, flagString } from './args.js';
import { log } from '../log.js';

const cache = new WeakMap<FlagValues, Promise<ConfigStore>>();

/** `configKey`: an encrypted config's key handed over by the `mount --daemon` parent. */
export function loadConfigSource(flags: FlagValues, configKey?: Buffer): Promise<ConfigStore> {
  let p = cache.get(flags);
  if (!p) {
    const choice = resolveConfigPath({ flag: flagString(flags, 'config') || undefined });
    if (choice.hint) log.notice(choice.hint);
    p = ConfigStore.load({
      path: choice.path,
      passwordCommand: flagString(flags, 'password-command') || undefined,
      askPassword: flagBool(flags, 'ask-password'),
      warn: (m) => log.notice(m),
      key: configKey,
    });
    cache.set(flags, p);
  }
  return p;
}
