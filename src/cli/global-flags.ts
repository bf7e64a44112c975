// Flags every command accepts, and the ones only the bare `cryptfs` takes.
// Kept apart from main.ts so help, completion and dispatch share one declaration.
import type { FlagSpec } from './args.js';
import { filterFlags } from './filter.js';
import { transferFlags } from './transfer-flags.js';

export const globalFlags: FlagSpec[] = [
  { name: 'config', type: 'string', help: 'Config file', default: '' },
  { name: 'password-command', type: 'string', help: 'Command for supplying password for encrypted configuration' },
  { name: 'ask-password', type: 'bool', default: true, help: 'Allow prompt for password for encrypted configuration' },
  { name: 'verbose', short: 'v', type: 'count', help: 'Print lots more stuff (repeat for more)' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Print as little stuff as possible' },
  { name: 'log-level', type: 'string', help: 'Log level DEBUG|INFO|NOTICE|ERROR' },
  { name: 'log-file', type: 'string', help: 'Log everything to this file' },
  { name: 'use-json-log', type: 'bool', help: 'Use json log format' },
  { name: 'log-names', type: 'string', default: 'plain', help: 'How log lines name files: plain|encrypted|none (encrypted: the crypt remote\'s names, for shared machines)' },
  { name: 'transfers', type: 'int', default: 4, help: 'Number of file transfers to run in parallel' },
  { name: 'checkers', type: 'int', default: 8, help: 'Number of checkers to run in parallel' },
  { name: 'max-backlog', type: 'int', default: 10000, help: 'Maximum number of objects in sync or check backlog' },
  { name: 'fast-list', type: 'bool', help: 'Use recursive list if available; uses more memory but fewer transactions' },
  { name: 'dry-run', short: 'n', type: 'bool', help: 'Do a trial run with no permanent changes' },
  { name: 'progress', short: 'P', type: 'bool', help: 'Show progress during transfer' },
  { name: 'stats', type: 'string', default: '1m0s', help: 'Interval between printing stats, e.g. 500ms, 60s, 5m (0 to disable)' },
  { name: 'max-depth', type: 'int', default: -1, help: 'If set limits the recursion depth to this' },
  { name: 'ignore-existing', type: 'bool', help: 'Skip all files that exist on destination' },
  { name: 'ignore-times', short: 'I', type: 'bool', help: "Don't skip files that match size and time - transfer all files" },
  { name: 'size-only', type: 'bool', help: 'Skip based on size only, not mod-time or checksum' },
  { name: 'error-on-no-transfer', type: 'bool', help: 'Sets exit code 9 if no files are transferred' },
  {
    name: 'allow-undecryptable-dir',
    type: 'bool',
    help: 'Write into a crypt directory even when none of the names in it decrypt (by default a likely wrong password is refused)',
  },
  // rclone's local backend flags: how a local directory's symlinks are read and written.
  { name: 'links', short: 'l', type: 'bool', help: "Translate symlinks to/from regular files with a '.rclonelink' extension" },
  { name: 'copy-links', short: 'L', type: 'bool', help: 'Follow symlinks and copy the pointed to item' },
  { name: 'skip-links', type: 'bool', help: "Don't warn about skipped symlinks" },
  { name: 'help', short: 'h', type: 'bool', help: 'help for cryptfs' },
  ...transferFlags,
  ...filterFlags,
];

/** rclone's root-only flags: `rclone ls --version` is an unknown flag there too. */
export const rootOnlyFlags: FlagSpec[] = [{ name: 'version', short: 'V', type: 'bool', help: 'Print the version number' }];
