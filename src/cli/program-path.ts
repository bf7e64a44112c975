// Whether this process is the cryptfs program (not a test importing the CLI modules). The program
// is started as dist/src/cli/cryptfs.cjs (the bin, which runs the bundle), the bundle itself, or the
// unbundled main.js: all in the directory of the CLI modules, which in the bundle is the bundle's.
// argv[1] is how the program was named: through `npm link`/`npm install -g` that is a symlink
// (…/bin/cryptfs), so both sides are compared as real paths.
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROGRAM_FILES = ['cryptfs.cjs', 'cryptfs-bundle.cjs', 'main.js'];

/** `moduleUrl`: import.meta.url of a module in src/cli/ (or of the bundle). */
export function isProgramPath(named: string | undefined, moduleUrl: string): boolean {
  if (!named) return false;
  try {
    const here = realpathSync(dirname(fileURLToPath(moduleUrl)));
    const program = realpathSync(named);
    return PROGRAM_FILES.some((file) => program === join(here, file));
  } catch {
    return false;
  }
}
