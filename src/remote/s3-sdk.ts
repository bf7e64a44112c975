// Loads the S3 SDK when an S3 remote is first used. The build bundles what the driver uses of it
// (s3-sdk-entry.ts, tree-shaken) into one script, dist/src/s3-sdk.cjs, and V8's code cache of it
// from a warm-up of the driver against a loopback stand-in (scripts/s3-sdk-cache.mjs). The package
// from node_modules took ~125 ms to load and its first request ~30 ms to compile, in every S3
// command; the bundle from its cache ~60 and ~15. Without the bundle (tsc alone): the package.
import { fileURLToPath } from 'node:url';
import { loadCachedScript, type CachedScript } from '../cached-script.cjs';
import type * as Sdk from './s3-sdk-entry.js';

export type S3Sdk = typeof Sdk;

// dist/src/s3-sdk.cjs, from dist/src/remote/ (tsc's output) and from dist/src/cli/ (the CLI bundle).
const BUNDLE = fileURLToPath(new URL('../s3-sdk.cjs', import.meta.url));
const CODE_CACHE = BUNDLE.replace(/\.cjs$/, '.v8cache');

let loading: Promise<S3Sdk> | undefined;

export function loadS3Sdk(): Promise<S3Sdk> {
  loading ??= Promise.resolve().then(() => {
    const sdk = bundledSdk();
    if (sdk) return sdk;
    debug('package');
    return import('./s3-sdk-entry.js');
  });
  return loading;
}

/** CRYPTFS_DEBUG_CODE_CACHE=1 (as the bin's): which SDK, and whether V8 took the cache. */
function debug(state: string): void {
  if (process.env.CRYPTFS_DEBUG_CODE_CACHE === '1') process.stderr.write(`s3 sdk: ${state}\n`);
}

/** The bundle, run from its code cache where V8 takes it; undefined when it is not built. */
function bundledSdk(): S3Sdk | undefined {
  let bundle: CachedScript;
  try {
    // The build's warm-up compiles without the cache and writes a new one at exit.
    bundle = loadCachedScript(BUNDLE, CODE_CACHE, process.env.CRYPTFS_WRITE_SDK_CODE_CACHE === '1');
  } catch {
    return undefined;
  }
  debug(`bundle, code cache ${bundle.cache}`);
  return bundle.run() as S3Sdk;
}
