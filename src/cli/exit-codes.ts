// Exit statuses of commands: rclone's codes and the one mapping from an error
// to its code. The error classes outside the CLI carry none.
import {
  CryptfsError,
  DirNotFoundError,
  NameTooLongError,
  NoSpaceError,
  ObjectNotFoundError,
  PasswordMismatchError,
  RemoteIOError,
  SseNotEnforcedError,
} from '../errors.js';

/** rclone's exit codes (lib/exitcode). */
export const ExitCode = {
  success: 0,
  uncategorized: 1,
  usage: 2,
  dirNotFound: 3,
  fileNotFound: 4,
  retryError: 5,
  noRetryError: 6,
  fatalError: 7,
  transferExceeded: 8,
  noFilesTransferred: 9,
} as const;

/** A command's error that states its own exit status (a summary keeps the status of its cause). */
export class ExitStatusError extends CryptfsError {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * rclone's exit code for the error a command ended with. Usage errors exit 1, not
 * the documented 2: rclone 1.60 ends them with log.Fatalf, and we match the binary.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ExitStatusError) return err.exitCode;
  if (err instanceof DirNotFoundError) return ExitCode.dirNotFound;
  if (err instanceof ObjectNotFoundError) return ExitCode.fileNotFound;
  if (err instanceof NameTooLongError) return ExitCode.noRetryError;
  if (err instanceof NoSpaceError || err instanceof SseNotEnforcedError || err instanceof PasswordMismatchError) {
    return ExitCode.fatalError;
  }
  if (err instanceof RemoteIOError && err.retryable) return ExitCode.retryError;
  return ExitCode.uncategorized;
}
