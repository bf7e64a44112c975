// How a listing command ends when its walk fails, in rclone 1.60.1's words:
// the walk logs ": error listing: <err>" and counts the error, then cmd.Run
// counts the error the command returned once more, so the last line reads
// "Failed to ls with 2 errors: last error was: directory not found". A missing
// directory is rclone's bare fs.ErrorDirNotFound, without our path.
import { DirNotFoundError, ObjectNotFoundError, errorMessage } from '../errors.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { log } from '../log.js';
import { CommandFailedError } from './util.js';

/** The walk error as rclone words it: "directory not found" for a missing directory, else its message. */
export function listingErrorText(err: unknown): string {
  return isMissing(err) ? 'directory not found' : errorMessage(err);
}

function isMissing(err: unknown): boolean {
  return err instanceof DirNotFoundError || err instanceof ObjectNotFoundError;
}

/**
 * Logs a failed walk and returns the error `command` ends with. `context` is
 * what rclone's command wraps the error in (lsf: "error in ListJSON").
 */
export function listingFailure(command: string, err: unknown, context?: string): CommandFailedError {
  const text = listingErrorText(err);
  log.error(`: error listing: ${text}`);
  const last = context === undefined ? text : `${context}: ${text}`;
  return new CommandFailedError(`Failed to ${command} with 2 errors: last error was: ${last}`, isMissing(err) ? ExitCode.dirNotFound : exitCodeOf(err), {
    cause: err,
  });
}
