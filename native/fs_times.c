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

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  const char *name = err == ENOENT ? "ENOENT" : err == EBADF ? "EBADF" : err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

// futimensNs(fd, mtimeNs: bigint): sets atime and mtime of an open file to mtimeNs (ns since the epoch).
static napi_value futimens_ns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
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
  napi_value fn;
  napi_create_function(env, "futimensNs", NAPI_AUTO_LENGTH, futimens_ns, NULL, &fn);
  napi_set_named_property(env, exports, "futimensNs", fn);
  napi_create_function(env, "hardenProcess", NAPI_AUTO_LENGTH, harden_process, NULL, &fn);
  napi_set_named_property(env, exports, "hardenProcess", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
