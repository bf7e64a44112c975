// The exit code table against rclone 1.60.1's lib/exitcode, and what the binary
// really exits with for an error it does not classify (1, though the docs say 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, exitCodeOf } from '../../../src/cli/exit-codes.js';
import { DirNotFoundError, ObjectNotFoundError } from '../../../src/errors.js';

test('ExitCode names carry rclone 1.60.1 lib/exitcode values', () => {
  // lib/exitcode: Success, UsageError, UncategorizedError, DirNotFound, FileNotFound, RetryError,
  // NoRetryError, FatalError, TransferExceeded, NoFilesTransferred = iota.
  assert.deepEqual(
    [ExitCode.success, ExitCode.usage, ExitCode.uncategorized, ExitCode.dirNotFound, ExitCode.fileNotFound, ExitCode.retryError,
      ExitCode.noRetryError, ExitCode.fatalError, ExitCode.transferExceeded, ExitCode.noFilesTransferred],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

test('an error of no known kind exits 1 (resolveExitCode default: exitcode.UsageError)', () => {
  assert.equal(exitCodeOf(new Error('something odd')), 1);
  assert.equal(exitCodeOf(new DirNotFoundError('x')), 3);
  assert.equal(exitCodeOf(new ObjectNotFoundError('x')), 4);
});
