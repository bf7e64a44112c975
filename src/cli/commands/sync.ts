// sync, move, moveto: rclone's commands over the march in ../transfer.ts.
import { registerCommand } from '../command.js';
import { runToCommand, runTreeCommand } from '../command-run.js';
import { splitSpec } from '../../remote/open.js';

registerCommand({
  name: 'sync',
  use: 'source:path dest:path',
  short: 'Make source and dest identical, modifying destination only.',
  long:
    'Sync the source to the destination, changing the destination\n' +
    'only. Doesn\'t transfer files that are identical on source and\n' +
    'destination, testing by size and modification time. Destination\n' +
    'is updated to match source, including deleting files if necessary\n' +
    '(except duplicate objects, see below).\n\n' +
    '**Important**: Since this can cause data loss, test first with the\n' +
    '`--dry-run` or the `--interactive`/`-i` flag.\n\n' +
    'Files are deleted after all transfers succeeded (--delete-after, the\n' +
    'default), and not at all if there were any errors. --delete-during and\n' +
    '--delete-before change that. Renamed files are deleted and copied again\n' +
    'unless --track-renames is given and the destination can move files.\n\n' +
    'Note that files in the destination won\'t be deleted if there were any\n' +
    'errors at any point. Empty source directories are not created unless\n' +
    '--create-empty-src-dirs is given.',
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [src, dst]) => runTreeCommand(ctx, 'sync', 'sync', src, dst),
});

const moveFlags = [
  { name: 'delete-empty-src-dirs', type: 'bool' as const, help: 'Delete empty source dirs after move' },
];

registerCommand({
  name: 'move',
  use: 'source:path dest:path',
  short: 'Move files from source to dest.',
  long:
    'Moves the contents of the source directory to the destination\n' +
    'directory. Rclone will error if the source and destination overlap and\n' +
    'the remote does not support a server-side directory move operation.\n\n' +
    'If no filters are in use and if possible this will server-side move\n' +
    'each file; otherwise it will copy it (server-side if possible) into\n' +
    'dest:path then delete the original (if no errors on copy) in\n' +
    'source:path.\n\n' +
    'If you want to delete empty source directories after move, use the\n' +
    '--delete-empty-src-dirs flag.',
  minArgs: 2,
  maxArgs: 2,
  flags: moveFlags,
  run: (ctx, [src, dst]) => runTreeCommand(ctx, 'move', 'move', src, dst),
});

registerCommand({
  name: 'moveto',
  use: 'source:path dest:path',
  short: 'Move file or directory from source to dest.',
  long:
    'If source:path is a file or directory then it moves it to a file or\n' +
    'directory named dest:path.\n\n' +
    'This can be used to rename files or upload single files to other than\n' +
    'their existing name. If the source is a directory then it acts exactly\n' +
    'like the move command.',
  minArgs: 2,
  maxArgs: 2,
  flags: moveFlags,
  run: (ctx, [src, dst]) => runToCommand(ctx, 'moveto', 'move', src, dst, splitSpec),
});
