// Nanosecond file times for the local remote. Node's fs.utimes goes through a
// double and lands up to ~240 ns off; rclone compares local times to the
// nanosecond, so copies made by cryptfs must carry the exact source time.
// Also the extended-attribute calls Node lacks (user metadata of local files); small_write.c
// adds the one-job write of a small file.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <node_api.h>

#include "napi_check.h"
#include "fs_native.h"

// Every Linux errno by name, so an error reaches JS with the code Node itself
// would give it (err.code 'EROFS', 'ENOSPC', ...): callers map codes to the
// errno a FUSE request answers (errnoOf in src/fuse/fuse-session.ts), and an
// unnamed code would turn into EIO there. Where two names share a value the
// one Node uses comes first (EAGAIN, EDEADLK, ENOTSUP).
#define ERRNO_NAMES(X) \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) \
  X(ECHILD) X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(ENOTBLK) X(EBUSY) X(EEXIST) X(EXDEV) \
  X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOTTY) X(ETXTBSY) \
  X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS) X(EMLINK) X(EPIPE) X(EDOM) X(ERANGE) X(EDEADLK) \
  X(ENAMETOOLONG) X(ENOLCK) X(ENOSYS) X(ENOTEMPTY) X(ELOOP) X(ENOMSG) X(EIDRM) X(ECHRNG) \
  X(EL2NSYNC) X(EL3HLT) X(EL3RST) X(ELNRNG) X(EUNATCH) X(ENOCSI) X(EL2HLT) X(EBADE) \
  X(EBADR) X(EXFULL) X(ENOANO) X(EBADRQC) X(EBADSLT) X(EBFONT) X(ENOSTR) X(ENODATA) \
  X(ETIME) X(ENOSR) X(ENONET) X(ENOPKG) X(EREMOTE) X(ENOLINK) X(EADV) X(ESRMNT) X(ECOMM) \
  X(EPROTO) X(EMULTIHOP) X(EDOTDOT) X(EBADMSG) X(EOVERFLOW) X(ENOTUNIQ) X(EBADFD) \
  X(EREMCHG) X(ELIBACC) X(ELIBBAD) X(ELIBSCN) X(ELIBMAX) X(ELIBEXEC) X(EILSEQ) X(ERESTART) \
  X(ESTRPIPE) X(EUSERS) X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE) \
  X(ENOPROTOOPT) X(EPROTONOSUPPORT) X(ESOCKTNOSUPPORT) X(ENOTSUP) X(EPFNOSUPPORT) \
  X(EAFNOSUPPORT) X(EADDRINUSE) X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(ENETRESET) \
  X(ECONNABORTED) X(ECONNRESET) X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ESHUTDOWN) \
  X(ETOOMANYREFS) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTDOWN) X(EHOSTUNREACH) X(EALREADY) \
  X(EINPROGRESS) X(ESTALE) X(EUCLEAN) X(ENOTNAM) X(ENAVAIL) X(EISNAM) X(EREMOTEIO) \
  X(EDQUOT) X(ENOMEDIUM) X(EMEDIUMTYPE) X(ECANCELED) X(ENOKEY) X(EKEYEXPIRED) \
  X(EKEYREVOKED) X(EKEYREJECTED) X(EOWNERDEAD) X(ENOTRECOVERABLE) X(ERFKILL) X(EHWPOISON)

static const struct {
  int value;
  const char *name;
} errno_names[] = {
#define ERRNO_ENTRY(name) {name, #name},
    ERRNO_NAMES(ERRNO_ENTRY)
#undef ERRNO_ENTRY
};

// The errno's name, or NULL for a value Linux does not define.
static const char *errno_name(int err) {
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
    if (errno_names[i].value == err) return errno_names[i].name;
  return NULL;
}

// An Error shaped like Node's own system errors: message "CODE: description, syscall" (then
// " 'path'" when given), code, errno (negative), syscall and path.
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = errno_name(err);
  char code_buf[48];
  if (!name) {
    snprintf(code_buf, sizeof code_buf, "Unknown system error %d", -err);
    name = code_buf;
  }
  char msg[4400];
  if (path) snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name, strerror(err), syscall, path);
  else snprintf(msg, sizeof msg, "%s: %s, %s", name, strerror(err), syscall);
  napi_value code, message, error, errno_value, syscall_value, path_value;
  NAPI_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_error(env, code, message, &error));
  NAPI_CALL(env, napi_set_named_property(env, error, "code", code));
  NAPI_CALL(env, napi_create_int32(env, -err, &errno_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "errno", errno_value));
  NAPI_CALL(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "syscall", syscall_value));
  if (path) {
    NAPI_CALL(env, napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_value));
    NAPI_CALL(env, napi_set_named_property(env, error, "path", path_value));
  }
  return error;
}

// Throws errno_error(err, syscall).
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = errno_error(env, err, syscall, NULL);
  if (error) napi_throw(env, error);
  return NULL;
}

// errnoName(n) -> the code Node-style errors carry for errno n, or undefined
// (the table above, for the tests that hold it to Node's).
static napi_value errno_name_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t n = 0;
  const char *name = NULL;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &n) == napi_ok) name = errno_name(n);
  if (!name) {
    NAPI_CALL(env, napi_get_undefined(env, &result));
    return result;
  }
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result));
  return result;
}

// futimensNs(fd, mtimeNs: bigint): sets atime and mtime of an open file to mtimeNs (ns since the epoch).
static napi_value futimens_ns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "futimensNs(fd, mtimeNs) needs two arguments");
    return NULL;
  }
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "fd must be a number");
    return NULL;
  }
  int64_t ns;
  bool lossless;
  if (napi_get_value_bigint_int64(env, argv[1], &ns, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "mtimeNs must be a bigint within 64 bits");
    return NULL;
  }
  struct timespec ts[2];
  ts[0].tv_sec = ns / 1000000000LL;
  ts[0].tv_nsec = ns % 1000000000LL;
  if (ts[0].tv_nsec < 0) {
    ts[0].tv_nsec += 1000000000LL;
    ts[0].tv_sec -= 1;
  }
  ts[1] = ts[0];
  if (futimens(fd, ts) != 0) return throw_errno(env, errno, "futimens");
  return NULL;
}

// hardenProcess(): no core dumps and no ptrace/proc access by other processes of the same user
// (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), so keys and decrypted bytes in memory never reach a core file.
// Called before any key exists. Returns nothing; throws on failure.
static napi_value harden_process(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return throw_errno(env, errno, "setrlimit(RLIMIT_CORE)");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return throw_errno(env, errno, "prctl(PR_SET_DUMPABLE)");
  return NULL;
}

// ---- extended attributes (the local remote keeps non-POSIX metadata as user.<key>, as rclone does) ----
// All on the path itself, not a symlink's target (l*xattr), as rclone's local backend does.

// Copies a JS string argument into a malloc'd NUL-terminated buffer; NULL (TypeError thrown) if not a string.
static char *string_arg(napi_env env, napi_value v, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (!buf) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  return buf;
}

// Bytes tried first for an attribute list or value: ours (a sealed record's pieces of at most 240
// characters, a few names) fit, so each takes one call; larger ones are sized and read again.
#define XATTR_FIRST_TRY 1024

// The NUL-separated attribute names of `path` in a malloc'd buffer (*size bytes; NULL with *size 0 when none).
// Returns -1 with errno set on failure.
static int list_names(const char *path, char **out, ssize_t *size) {
  *out = NULL;
  *size = 0;
  // First into a buffer that holds the usual few names: one call instead of a size query and a read.
  char *first = malloc(XATTR_FIRST_TRY);
  if (!first) {
    errno = ENOMEM;
    return -1;
  }
  ssize_t first_got = llistxattr(path, first, XATTR_FIRST_TRY);
  if (first_got > 0) {
    *out = first;
    *size = first_got;
    return 0;
  }
  free(first);
  if (first_got == 0) return 0;
  if (errno != ERANGE) return -1;
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t want = llistxattr(path, NULL, 0);
    if (want < 0) return -1;
    if (want == 0) return 0;
    char *buf = malloc((size_t)want);
    if (!buf) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t got = llistxattr(path, buf, (size_t)want);
    if (got >= 0) {
      *out = buf;
      *size = got;
      return 0;
    }
    free(buf);
    if (errno != ERANGE) return -1;  // ERANGE: the list grew in between; ask again
  }
  errno = ERANGE;
  return -1;
}

// One attribute's value in a malloc'd buffer; -1 with errno set on failure (ENODATA when absent).
static ssize_t get_value(const char *path, const char *name, char **out) {
  *out = NULL;
  char *first = malloc(XATTR_FIRST_TRY + 1);
  if (!first) {
    errno = ENOMEM;
    return -1;
  }
  ssize_t first_got = lgetxattr(path, name, first, XATTR_FIRST_TRY);
  if (first_got >= 0) {
    *out = first;
    return first_got;
  }
  free(first);
  if (errno != ERANGE) return -1;
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t want = lgetxattr(path, name, NULL, 0);
    if (want < 0) return -1;
    char *buf = malloc((size_t)want + 1);
    if (!buf) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t got = lgetxattr(path, name, buf, (size_t)want);
    if (got >= 0) {
      *out = buf;
      return got;
    }
    free(buf);
    if (errno != ERANGE) return -1;
  }
  errno = ERANGE;
  return -1;
}

// userXattrs(path) -> { key: value } for every user.<key> attribute (prefix stripped). A filesystem
// without xattrs has none ({}), so listings on it still work; other failures throw.
static napi_value user_xattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "userXattrs(path) needs a path");
    return NULL;
  }
  char *path = string_arg(env, argv[0], "path");
  if (!path) return NULL;
  NAPI_CALL(env, napi_create_object(env, &result));
  char *names;
  ssize_t size;
  if (list_names(path, &names, &size) != 0) {
    int err = errno;
    free(path);
    if (err == ENOTSUP) return result;
    return throw_errno(env, err, "llistxattr");
  }
  static const char prefix[] = "user.";
  for (ssize_t at = 0; at < size;) {
    const char *name = names + at;
    at += (ssize_t)strlen(name) + 1;
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) continue;
    char *value;
    ssize_t len = get_value(path, name, &value);
    if (len < 0) {
      if (errno == ENODATA) continue;  // removed since the list was taken
      int err = errno;
      free(names);
      free(path);
      return throw_errno(env, err, "lgetxattr");
    }
    napi_value key, v;
    napi_status st = napi_create_string_utf8(env, name + sizeof prefix - 1, NAPI_AUTO_LENGTH, &key);
    if (st == napi_ok) st = napi_create_string_utf8(env, value, (size_t)len, &v);
    if (st == napi_ok) st = napi_set_property(env, result, key, v);
    free(value);
    if (st != napi_ok) {
      free(names);
      free(path);
      napi_throw_error(env, NULL, "userXattrs: could not build the result");
      return NULL;
    }
  }
  free(names);
  free(path);
  return result;
}

// setXattr(path, name, value): sets attribute `name` (full name, e.g. "user.k") to the UTF-8 of `value`.
static napi_value set_xattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "setXattr(path, name, value) needs three arguments");
    return NULL;
  }
  char *path = string_arg(env, argv[0], "path");
  if (!path) return NULL;
  char *name = string_arg(env, argv[1], "name");
  if (!name) {
    free(path);
    return NULL;
  }
  char *value = string_arg(env, argv[2], "value");
  if (!value) {
    free(path);
    free(name);
    return NULL;
  }
  int rc = lsetxattr(path, name, value, strlen(value), 0);
  int err = errno;
  free(path);
  free(name);
  free(value);
  if (rc != 0) return throw_errno(env, err, "lsetxattr");
  return NULL;
}

// removeXattr(path, name): removes attribute `name`; no error when it is not there.
static napi_value remove_xattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "removeXattr(path, name) needs two arguments");
    return NULL;
  }
  char *path = string_arg(env, argv[0], "path");
  if (!path) return NULL;
  char *name = string_arg(env, argv[1], "name");
  if (!name) {
    free(path);
    return NULL;
  }
  int rc = lremovexattr(path, name);
  int err = errno;
  free(path);
  free(name);
  if (rc != 0 && err != ENODATA) return throw_errno(env, err, "lremovexattr");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futimensNs", NULL, futimens_ns, NULL, NULL, NULL, napi_default, NULL},
      {"hardenProcess", NULL, harden_process, NULL, NULL, NULL, napi_default, NULL},
      {"errnoName", NULL, errno_name_js, NULL, NULL, NULL, napi_default, NULL},
      {"userXattrs", NULL, user_xattrs, NULL, NULL, NULL, napi_default, NULL},
      {"setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_default, NULL},
      {"removeXattr", NULL, remove_xattr, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  NAPI_CALL(env, register_small_write(env, exports));
  NAPI_CALL(env, register_hash_threads(env, exports));
  NAPI_CALL(env, register_file_hash(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
