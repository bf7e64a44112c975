// A CommonJS bundle run from V8's code cache of it (the CLI's bundle, the S3 SDK's): what the
// cache holds is neither parsed nor compiled again. A cache V8 rejects (another Node or V8 flags,
// another bundle) is ignored and the bundle compiled as usual. The cache holds compiled program
// code only: no data, no keys. CommonJS because only a script, not an ES module, can be compiled
// from a code cache in Node 20.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export interface CachedScript {
  /** Whether V8 took the cache. */
  readonly cache: 'none' | 'rejected' | 'used';
  /** Runs the bundle as the CommonJS loader would; its module.exports. */
  run(): unknown;
}

/**
 * Reads and compiles `file` (throws if it cannot be read) with `cacheFile`'s code. With
 * `writeCache` (the build's one run), compiles without it and writes a new cache at exit, holding
 * every function the run compiled.
 */
export function loadCachedScript(file: string, cacheFile: string, writeCache: boolean): CachedScript {
  // ASCII (scripts/build.mjs checks), so Latin-1 gives the same text without UTF-8 decoding. A
  // bundle starting with esbuild's copy of a #! line has it made a comment of the same length.
  const source = readFileSync(file, 'latin1').replace(/^#!/, '//');
  let cachedData: Buffer | undefined;
  if (!writeCache) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // none: compiled from source
    }
  }
  const script = new Script(wrap(source), { filename: file, cachedData });
  if (writeCache) {
    process.on('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  return {
    cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used',
    run() {
      const compiled = script.runInThisContext() as (
        exports: object,
        require: NodeJS.Require,
        module: { exports: object },
        filename: string,
        dirname: string,
      ) => void;
      const bundleModule = { exports: {} };
      compiled.call(bundleModule.exports, bundleModule.exports, createRequire(file), bundleModule, file, dirname(file));
      return bundleModule.exports;
    },
  };
}
