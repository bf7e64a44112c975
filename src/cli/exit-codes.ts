// Exit statuses of commands: rclone's codes and the one mapping from an error
// to its code. The error classes outside the CLI carry none.
import {
  AbortedError,
  CryptfsError,
  DirNotFoundError,
  NameTooLongError,
  NoSpaceError,
  ObjectNotFoundError,
  PasswordMismatchError,
  RemoteIOError,
  SseNotEnforcedError,
} from '../errors.js';

/** rclone's exit codes (lib/exitcode in 1.60.1: UsageError is 1, UncategorizedError 2). */
export const ExitCode = {
  success: 0,
  usage: 1,
  uncategorized: 2,
  /** What rclone 1.60.1 exits with for an error it does not classify: its default case is UsageError (1), not 2. */
  unclassified: 1,
  dirNotFound: 3,
  fileNotFound: 4,
  retryError: 5,
  noRetryError: 6,
  fatalError: 7,
  transferExceeded: 8,
  noFilesTransferred: 9,
  /**
   * Ended by SIGINT (Ctrl-C): rclone's atexit handler exits with 128 + the signal's number, as
   * shells report a program a signal killed.
   */
  interrupted: 130,
  /** Ended by SIGTERM (a service manager, `kill`): 128 + 15, the same atexit handler. */
  terminated: 143,
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
 * rclone's exit code for the error a command ended with. An error of no known kind
 * exits 1, although the docs list 2 ("Error not otherwise categorised"): rclone
 * 1.60.1's resolveExitCode ends with os.Exit(exitcode.UsageError), and we match the binary.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ExitStatusError) return err.exitCode;
  if (err instanceof AbortedError) return ExitCode.interrupted;
  if (err instanceof DirNotFoundError) return ExitCode.dirNotFound;
  if (err instanceof ObjectNotFoundError) return ExitCode.fileNotFound;
  if (err instanceof NameTooLongError) return ExitCode.noRetryError;
  if (err instanceof NoSpaceError || err instanceof SseNotEnforcedError || err instanceof PasswordMismatchError) {
    return ExitCode.fatalError;
  }
  if (err instanceof RemoteIOError && err.retryable) return ExitCode.retryError;
  return ExitCode.unclassified;
}
