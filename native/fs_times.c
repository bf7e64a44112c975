// Nanosecond file times for the local remote. Node's fs.utimes goes through a
// double and lands up to ~240 ns off; rclone compares local times to the
// nanosecond, so copies made by cryptfs must carry the exact source time.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <node_api.h>

#include "napi_check.h"

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

// Throws an Error shaped like Node's own system errors: message
// "CODE: description, syscall", code, errno (negative) and syscall.
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  const char *name = errno_name(err);
  char code_buf[48];
  if (!name) {
    snprintf(code_buf, sizeof code_buf, "Unknown system error %d", -err);
    name = code_buf;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s, %s", name, strerror(err), syscall);
  napi_value code, message, error, errno_value, syscall_value;
  NAPI_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_error(env, code, message, &error));
  NAPI_CALL(env, napi_set_named_property(env, error, "code", code));
  NAPI_CALL(env, napi_create_int32(env, -err, &errno_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "errno", errno_value));
  NAPI_CALL(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "syscall", syscall_value));
  NAPI_CALL(env, napi_throw(env, error));
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futimensNs", NULL, futimens_ns, NULL, NULL, NULL, napi_default, NULL},
      {"hardenProcess", NULL, harden_process, NULL, NULL, NULL, napi_default, NULL},
      {"errnoName", NULL, errno_name_js, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
