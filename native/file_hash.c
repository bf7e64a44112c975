// hashFile(path, algorithm): the digest of a whole local file, read and hashed in one libuv pool
// job. `check` and `hashsum` of a local tree hashed big files on Node worker threads: each thread
// costs ~9 MiB and tens of ms to start, and the bytes never needed to reach JavaScript. The file
// is read into a buffer of the job's own (freed with it; it holds file content, so it is zeroed
// first) and hashed by OpenSSL, which Node exports to addons.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>
#include <openssl/evp.h>

#include "fs_native.h"
#include "napi_check.h"

#define READ_BUFFER (256 * 1024)

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  const EVP_MD *md;
  int err;              // errno of the failed call, 0 on success
  const char *syscall;  // the call that failed
  char hex[EVP_MAX_MD_SIZE * 2 + 1];
} file_hash_job;

static void job_free(file_hash_job *job) {
  free(job->path);
  free(job);
}

static int digest_file(file_hash_job *job) {
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    job->syscall = "open";
    return errno;
  }
  unsigned char *buf = malloc(READ_BUFFER);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int err = 0;
  if (!buf || !ctx || EVP_DigestInit_ex(ctx, job->md, NULL) != 1) {
    job->syscall = "read";
    err = ENOMEM;
  } else {
    for (;;) {
      ssize_t n = read(fd, buf, READ_BUFFER);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        job->syscall = "read";
        err = errno;
        break;
      }
      if (n == 0) break;
      EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (err == 0 && EVP_DigestFinal_ex(ctx, md, &len) == 1) {
      to_hex(md, len, job->hex);
    } else if (err == 0) {
      job->syscall = "read";
      err = EIO;
    }
  }
  if (ctx) EVP_MD_CTX_free(ctx);
  if (buf) {
    explicit_bzero(buf, READ_BUFFER);
    free(buf);
  }
  close(fd);
  return err;
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  file_hash_job *job = data;
  job->err = digest_file(job);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  file_hash_job *job = data;
  napi_value result = NULL;
  if (status != napi_ok && job->err == 0) {
    job->err = ECANCELED;
    job->syscall = "read";
  }
  if (job->err == 0 && napi_create_string_utf8(env, job->hex, NAPI_AUTO_LENGTH, &result) == napi_ok) {
    NAPI_LOG(env, napi_resolve_deferred(env, job->deferred, result));
  } else {
    result = errno_error(env, job->err ? job->err : ENOMEM, job->syscall ? job->syscall : "read", job->path);
    if (!result) NAPI_LOG(env, napi_get_undefined(env, &result));
    NAPI_LOG(env, napi_reject_deferred(env, job->deferred, result));
  }
  NAPI_LOG(env, napi_delete_async_work(env, job->work));
  job_free(job);
}

// hashFile(path: string, algorithm: 'md5' | 'sha1' | 'sha256'): Promise<string>
static napi_value hash_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char algorithm[16];
  size_t path_len = 0, algorithm_len = 0;
  if (argc != 2 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &path_len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], algorithm, sizeof algorithm, &algorithm_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashFile(path, algorithm) takes two strings");
    return NULL;
  }
  const EVP_MD *md = digest_named(algorithm);
  if (!md) {
    napi_throw_type_error(env, NULL, "hashFile: algorithm must be md5, sha1 or sha256");
    return NULL;
  }
  file_hash_job *job = calloc(1, sizeof *job);
  char *path = job ? malloc(path_len + 1) : NULL;
  if (!job || !path) {
    free(job);
    free(path);
    napi_throw_error(env, NULL, "hashFile: out of memory");
    return NULL;
  }
  job->path = path;
  job->md = md;
  napi_value promise = NULL;
  if (napi_get_value_string_utf8(env, argv[0], path, path_len + 1, &path_len) != napi_ok || strlen(path) != path_len) {
    job_free(job);
    napi_throw_type_error(env, NULL, "hashFile: the path must be a string without NUL bytes");
    return NULL;
  }
  if (queue_promise_job(env, "cryptfs.hashFile", job_execute, job_complete, job, &job->deferred, &job->work, &promise) != napi_ok) {
    job_free(job);
    napi_throw_error(env, NULL, "hashFile: could not start");
    return NULL;
  }
  return promise;
}

napi_status register_file_hash(napi_env env, napi_value exports) {
  napi_value fn = NULL;
  napi_status status = napi_create_function(env, "hashFile", NAPI_AUTO_LENGTH, hash_file, NULL, &fn);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, "hashFile", fn);
}
