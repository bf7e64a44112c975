// libsodium, through sodium-native's prebuilt addon. The package's own entry point resolves that
// addon with ~10 small JS modules (require-addon, bare-addon-resolve, bare-semver, ...): 20–30 ms of
// every cold start. When the prebuild for this platform is where the package ships it, it is loaded
// directly (one dlopen); anything else goes through the package as before.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function loadSodium(): unknown {
  try {
    const packageDir = dirname(require.resolve('sodium-native/package.json'));
    const prebuild = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`, 'sodium-native.node');
    if (existsSync(prebuild)) return require(prebuild);
  } catch {
    // Fall through to the package's own resolution, which reports what is missing.
  }
  return require('sodium-native');
}

/** The sodium-native binding; each user casts it to the few calls it declares (the package has no types). */
export const sodiumBinding: unknown = loadSodium();
