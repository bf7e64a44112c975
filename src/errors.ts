// Typed errors shared by every layer. They carry no errno (but ErrnoError,
// which exists to carry one) and no exit status: the FUSE frontend maps the
// classes to errnos (fuse/errno-map.ts), the CLI to exit codes (cli/exit-codes.ts).

export class CryptfsError extends Error {
  /** Whether repeating the same operation may succeed (network blips, 5xx). */
  retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error that answers one specific errno at the FUSE edge, whatever layer throws it:
 * `throw new ErrnoError('EXDEV', message)`.
 */
export class ErrnoError extends CryptfsError {
  constructor(
    /** errno name, e.g. 'EXDEV'. */
    readonly errno: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? errno, options);
  }
}

/** Bad command line: unknown flag, wrong argument count. */
export class UsageError extends CryptfsError {}

/** A config file, a config line or an option value is invalid. */
export class ConfigError extends CryptfsError {}

export class ObjectNotFoundError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(`object not found: ${path}`, options);
  }
}

export class DirNotFoundError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(path === '' ? 'directory not found' : `directory not found: ${path}`, options);
  }
}

export class AlreadyExistsError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(`already exists: ${path}`, options);
  }
}

export class DirNotEmptyError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(`directory not empty: ${path}`, options);
  }
}

export class IsDirectoryError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(`is a directory: ${path}`, options);
  }
}

export class NotDirectoryError extends CryptfsError {
  constructor(readonly path: string, options?: { cause?: unknown }) {
    super(`not a directory: ${path}`, options);
  }
}

/** A name (or one path segment) the remote or the crypt format cannot hold. */
export class NameTooLongError extends CryptfsError {
  constructor(
    readonly segment: string,
    readonly length: number,
    readonly limit: number,
    unit = 'bytes',
    options?: { cause?: unknown },
  ) {
    super(
      `name too long: segment ${JSON.stringify(segment)} would be ${length} ${unit}, the limit is ${limit}`,
      options,
    );
  }
}

export class ReadOnlyError extends CryptfsError {}

export class NoSpaceError extends CryptfsError {}

/** The remote could not do the operation (I/O, network, HTTP). */
export class RemoteIOError extends CryptfsError {
  constructor(
    message: string,
    options?: { cause?: unknown; status?: number; requestId?: string; retryable?: boolean },
  ) {
    super(message, options);
    this.status = options?.status;
    this.requestId = options?.requestId;
    this.retryable = options?.retryable ?? false;
  }
  readonly status?: number;
  readonly requestId?: string;
}

export class NotSupportedError extends CryptfsError {}

/**
 * The caller gave up on the operation (an AbortSignal fired: handle released, unmount, Ctrl-C).
 * Never retryable: nobody waits for the answer. The signal's reason is the cause.
 */
export class AbortedError extends CryptfsError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The remote refused an attribute change (chown by a user who may not give files away). */
export class NotPermittedError extends CryptfsError {}

// ---- crypt format errors (messages as rclone >= 1.62 prints them: 1.60.1 says "unexpected EOF" for a
// truncated last block, docs/crypt-format.md pitfall 15; " (chunk i)" is ours, §3.3) ----

export class CryptFormatError extends CryptfsError {}

export class FileTooShortError extends CryptFormatError {
  constructor(options?: { cause?: unknown }) {
    super('file is too short to be encrypted', options);
  }
}

export class BadMagicError extends CryptFormatError {
  constructor(options?: { cause?: unknown }) {
    super('not an encrypted file - bad magic string', options);
  }
}

export class TruncatedBlockError extends CryptFormatError {
  constructor(options?: { cause?: unknown }) {
    super('file has truncated block header', options);
  }
}

export class AuthenticationError extends CryptFormatError {
  constructor(readonly chunkIndex?: number, options?: { cause?: unknown }) {
    super(
      'failed to authenticate decrypted block - bad password?' +
        (chunkIndex === undefined ? '' : ` (chunk ${chunkIndex})`),
      options,
    );
  }
}

/** The decrypted stream ended before the size the remote reported (cut at a chunk boundary). */
export class UnexpectedEOFError extends CryptFormatError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`unexpected EOF: ${detail}`, options);
  }
}

// ---- sealed-record checks (remote/crypt-verify.ts): reading on could hand out bytes that are not this file's ----

/** A crypt file failed the check against its sealed record; `path` is the plain path read. */
export class IntegrityError extends CryptFormatError {
  constructor(
    readonly path: string,
    what: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${what}: ${path} (${detail})`, options);
  }
}

/** The object's content was sealed for another name, or is not the content its record was sealed for (swap, copy). */
export class ContentMismatchError extends IntegrityError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, 'content does not belong to this name', detail, options);
  }
}

/** The object is shorter than its sealed record says (cut, possibly at a chunk boundary, which the format cannot see). */
export class FileTruncatedError extends IntegrityError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, 'file was truncated', detail, options);
  }
}

/** The object carries a record that does not open: altered, or not from this cryptfs. */
export class InvalidSealError extends IntegrityError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, 'sealed record is not valid', detail, options);
  }
}

/** integrity = strict: the record names a path that no longer exists (another tool moved the object). */
export class MovedFileError extends IntegrityError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, 'file was moved elsewhere without being re-sealed', detail, options);
  }
}

/** integrity = strict: the object carries no sealed record (written by rclone, or its metadata was dropped). */
export class UnsealedFileError extends IntegrityError {
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, 'file is not sealed', 'integrity = strict reads only sealed files; `cryptfs seal` adds records', options);
  }
}

/** A file or directory name that is not a valid encrypted name. */
export class NameDecryptError extends CryptFormatError {}

/**
 * sse_customer_require_enforced is set and the server was not seen to enforce
 * SSE-C (it served the probe without the key, or the probe never came to a verdict).
 */
export class SseNotEnforcedError extends CryptfsError {}

/**
 * A crypt directory holds entries and none of their names decrypt: most likely
 * the wrong password. Writing there would put data beside the old under another key.
 */
export class PasswordMismatchError extends CryptfsError {
  constructor(
    readonly dir: string,
    readonly undecryptable: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
