// Small files written by the local remote, a batch of them per thread-pool job: for each, create
// the temporary file (O_EXCL), write the bytes, set its user xattrs and exact times, stat it, close
// it, rename it into place; on any failure close and unlink the temporary file. A copy of many
// small files otherwise pays two thread-pool round trips per file (create, rename) and makes the
// other calls on the event loop; each round trip wakes a pool thread, which on a busy machine costs
// the event loop a context switch (profiled: most of its time under load).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>

#include "napi_check.h"
#include "fs_native.h"

typedef struct {
  char *temp;
  char *target;
  const uint8_t *data;  // in a Buffer the batch's reference keeps alive
  size_t len;
  size_t xattr_count;
  char **xattr_name;  // full names ("user.k") and values, NUL-terminated each
  char **xattr_value;
  struct timespec times[2];
  // Owner and mode to apply; -1: leave as created.
  int64_t uid, gid, mode;
  // Result
  int err;
  const char *syscall;  // the call that failed ("open": the create; the caller may make the directory)
  struct statx stx;
} small_file_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref files_ref;  // keeps the Buffers alive while a pool thread writes them
  size_t count;
  small_file_t *files;
} small_batch_t;

static void free_batch(small_batch_t *batch) {
  for (size_t f = 0; f < batch->count; f++) {
    small_file_t *file = &batch->files[f];
    free(file->temp);
    free(file->target);
    for (size_t i = 0; i < file->xattr_count; i++) {
      if (file->xattr_name) free(file->xattr_name[i]);
      if (file->xattr_value) free(file->xattr_value[i]);
    }
    free(file->xattr_name);
    free(file->xattr_value);
  }
  free(batch->files);
  free(batch);
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

// On a pool thread: no JS values here.
static void write_one(small_file_t *file) {
  int fd = open(file->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    file->err = errno;
    file->syscall = "open";
    return;
  }
  const char *failed = NULL;
  if (write_all(fd, file->data, file->len) != 0) failed = "write";
  // xattrs before the rename: the file never appears without its metadata (a sealed record).
  for (size_t i = 0; !failed && i < file->xattr_count; i++)
    if (fsetxattr(fd, file->xattr_name[i], file->xattr_value[i], strlen(file->xattr_value[i]), 0) != 0) failed = "fsetxattr";
  // Then owner and mode, as the local remote's other write path does: an unchanged owner needs no
  // chown, one the caller may not give is left (EPERM), and the mode comes last (after the xattrs,
  // which a read-only mode could refuse, and after chown, which clears set-id bits).
  if (!failed && (file->uid >= 0 || file->gid >= 0)) {
    struct stat st;
    if (fstat(fd, &st) != 0) failed = "fstat";
    else if ((file->uid >= 0 && (uid_t)file->uid != st.st_uid) || (file->gid >= 0 && (gid_t)file->gid != st.st_gid)) {
      if (fchown(fd, file->uid >= 0 ? (uid_t)file->uid : (uid_t)-1, file->gid >= 0 ? (gid_t)file->gid : (gid_t)-1) != 0 && errno != EPERM)
        failed = "fchown";
    }
  }
  if (!failed && file->mode >= 0 && fchmod(fd, (mode_t)file->mode) != 0) failed = "fchmod";
  if (!failed && futimens(fd, file->times) != 0) failed = "futimens";
  if (!failed && statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &file->stx) != 0) failed = "statx";
  if (failed) file->err = errno;
  // A close that fails after a write may mean the bytes did not all land (NFS): a failure too.
  if (close(fd) != 0 && !failed) {
    failed = "close";
    file->err = errno;
  }
  if (!failed && rename(file->temp, file->target) != 0) {
    failed = "rename";
    file->err = errno;
  }
  if (failed) {
    file->syscall = failed;
    unlink(file->temp);
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  small_batch_t *batch = data;
  for (size_t f = 0; f < batch->count; f++) write_one(&batch->files[f]);
}

static napi_value bigint_ns(napi_env env, struct statx_timestamp ts) {
  napi_value v = NULL;
  napi_create_bigint_int64(env, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, &v);
  return v;
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

// The file's stat as { size, mode, uid, gid, mtimeNs, atimeNs, birthtimeNs }, or its Node-style error.
static napi_value file_result(napi_env env, small_file_t *file) {
  if (file->err != 0) return errno_error(env, file->err, file->syscall, file->temp);
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  set_number(env, result, "size", (double)file->stx.stx_size);
  set_number(env, result, "mode", file->stx.stx_mode);
  set_number(env, result, "uid", file->stx.stx_uid);
  set_number(env, result, "gid", file->stx.stx_gid);
  napi_set_named_property(env, result, "mtimeNs", bigint_ns(env, file->stx.stx_mtime));
  napi_set_named_property(env, result, "atimeNs", bigint_ns(env, file->stx.stx_atime));
  struct statx_timestamp none = {0, 0, 0};
  napi_set_named_property(env, result, "birthtimeNs", bigint_ns(env, (file->stx.stx_mask & STATX_BTIME) ? file->stx.stx_btime : none));
  return result;
}

// Back on the event loop: the promise resolves with one result per file.
static void complete(napi_env env, napi_status status, void *data) {
  small_batch_t *batch = data;
  napi_value results = NULL;
  if (status == napi_ok && napi_create_array_with_length(env, batch->count, &results) == napi_ok) {
    for (size_t f = 0; f < batch->count && results; f++) {
      napi_value r = file_result(env, &batch->files[f]);
      if (!r || napi_set_element(env, results, (uint32_t)f, r) != napi_ok) results = NULL;
    }
  }
  if (results) napi_resolve_deferred(env, batch->deferred, results);
  else {
    napi_value err = errno_error(env, status == napi_ok ? ENOMEM : ECANCELED, "writeSmallFiles", NULL);
    napi_reject_deferred(env, batch->deferred, err);
  }
  napi_delete_reference(env, batch->files_ref);
  napi_delete_async_work(env, batch->work);
  free_batch(batch);
}

static char *dup_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (buf) napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  return buf;
}

// One element of the files array into `file`; an error text for a TypeError, or NULL.
static const char *read_file_arg(napi_env env, napi_value obj, small_file_t *file) {
  napi_value temp, target, bytes, xattrs, mtime;
  if (napi_get_named_property(env, obj, "temp", &temp) != napi_ok || napi_get_named_property(env, obj, "target", &target) != napi_ok ||
      napi_get_named_property(env, obj, "bytes", &bytes) != napi_ok || napi_get_named_property(env, obj, "xattrs", &xattrs) != napi_ok ||
      napi_get_named_property(env, obj, "mtimeNs", &mtime) != napi_ok)
    return "each file must be { temp, target, bytes, xattrs, mtimeNs }";
  file->temp = dup_string(env, temp);
  file->target = dup_string(env, target);
  if (!file->temp || !file->target) return "temp and target must be strings";
  napi_typedarray_type type;
  void *p = NULL;
  bool is_typed = false;
  if (napi_is_typedarray(env, bytes, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, bytes, &type, &file->len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return "bytes must be a Uint8Array";
  file->data = p;
  bool is_array = false;
  uint32_t x = 0;
  if (napi_is_array(env, xattrs, &is_array) != napi_ok || !is_array || napi_get_array_length(env, xattrs, &x) != napi_ok || x % 2 != 0)
    return "xattrs must be an array of name, value pairs";
  file->xattr_name = calloc(x ? x / 2 : 1, sizeof(char *));
  file->xattr_value = calloc(x ? x / 2 : 1, sizeof(char *));
  if (!file->xattr_name || !file->xattr_value) return "out of memory";
  for (uint32_t i = 0; i < x / 2; i++) {
    napi_value name, value;
    file->xattr_count = i + 1;  // freed up to here on failure
    if (napi_get_element(env, xattrs, 2 * i, &name) != napi_ok || napi_get_element(env, xattrs, 2 * i + 1, &value) != napi_ok)
      return "xattrs must be an array of name, value pairs";
    file->xattr_name[i] = dup_string(env, name);
    file->xattr_value[i] = dup_string(env, value);
    if (!file->xattr_name[i] || !file->xattr_value[i]) return "xattr names and values must be strings";
  }
  int64_t ns = 0;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, mtime, &ns, &lossless) != napi_ok || !lossless) return "mtimeNs must be a bigint within 64 bits";
  file->times[0].tv_sec = ns / 1000000000LL;
  file->times[0].tv_nsec = ns % 1000000000LL;
  if (file->times[0].tv_nsec < 0) {
    file->times[0].tv_nsec += 1000000000LL;
    file->times[0].tv_sec -= 1;
  }
  file->times[1] = file->times[0];
  const char *ids[3] = {"uid", "gid", "mode"};
  int64_t *into[3] = {&file->uid, &file->gid, &file->mode};
  for (int i = 0; i < 3; i++) {
    *into[i] = -1;
    napi_value v;
    napi_valuetype t = napi_undefined;
    if (napi_get_named_property(env, obj, ids[i], &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return "uid, gid and mode must be numbers";
    if (t == napi_undefined) continue;
    if (t != napi_number || napi_get_value_int64(env, v, into[i]) != napi_ok || *into[i] < 0 || *into[i] > 0xffffffffLL)
      return "uid, gid and mode must be numbers";
  }
  return NULL;
}

// writeSmallFiles(files: { temp, target, bytes, xattrs: string[] (name, value, ...), mtimeNs: bigint,
//                          uid?: number, gid?: number, mode?: number }[])
//   -> Promise<Array<{ size, mode, uid, gid, mtimeNs, atimeNs, birthtimeNs } | Error>>, in the order given
static napi_value write_small_files(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  uint32_t n = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "writeSmallFiles(files) needs an array");
    return NULL;
  }
  small_batch_t *batch = calloc(1, sizeof *batch);
  if (batch) batch->files = calloc(n ? n : 1, sizeof *batch->files);
  if (!batch || !batch->files) {
    free(batch);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  const char *bad = NULL;
  for (uint32_t f = 0; !bad && f < n; f++) {
    napi_value obj;
    batch->count = f + 1;  // freed up to here on failure
    if (napi_get_element(env, argv[0], f, &obj) != napi_ok) bad = "files";
    else bad = read_file_arg(env, obj, &batch->files[f]);
  }
  if (bad) {
    free_batch(batch);
    napi_throw_type_error(env, NULL, bad);
    return NULL;
  }
  napi_value promise = NULL;
  if (napi_create_reference(env, argv[0], 1, &batch->files_ref) != napi_ok) {
    free_batch(batch);
    napi_throw_error(env, NULL, "writeSmallFiles: could not hold the files");
    return NULL;
  }
  if (queue_promise_job(env, "cryptfs:writeSmallFiles", execute, complete, batch, &batch->deferred, &batch->work, &promise) !=
      napi_ok) {
    napi_delete_reference(env, batch->files_ref);
    free_batch(batch);
    napi_throw_error(env, NULL, "writeSmallFiles: could not queue the job");
    return NULL;
  }
  return promise;
}

napi_status register_small_write(napi_env env, napi_value exports) {
  // 2: applies uid, gid and mode (an addon of version 1 ignored them).
  napi_value version;
  NAPI_TRY(napi_create_uint32(env, 2, &version));
  napi_property_descriptor props[] = {
      {"writeSmallFiles", NULL, write_small_files, NULL, NULL, NULL, napi_default, NULL},
      {"writeSmallFilesVersion", NULL, NULL, NULL, NULL, version, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 2, props);
}
