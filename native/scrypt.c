// scrypt (RFC 7914) for rclone crypt's key derivation (N=16384, r=8, p=1: a 16 MiB table and half a
// million Salsa20/8 cores). node:crypto's scrypt (OpenSSL's) took ~100 ms of a ~370 ms cold `cryptfs
// lsf` here; a third of that was the kernel faulting in the freshly allocated table 4 KiB at a time.
// This one takes the table as 2 MiB transparent huge pages where the kernel allows (8 faults instead
// of 4,096; the random reads of ROMix also miss the TLB less) and keeps the Salsa20 core plain C that
// the compiler interleaves (a vector-per-diagonal SSE2 core measured slower: one dependent chain).
// PBKDF2-SHA256 on either side is OpenSSL's (exported by Node). Runs on the libuv thread pool so it
// overlaps with the rest of start-up; every buffer holding password-derived bytes is wiped.
// The tests check it against node:crypto's scrypt (an independent implementation) and RFC 7914.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <node_api.h>
#include <openssl/evp.h>

#include "napi_check.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "scrypt.c reads RFC 7914's little-endian words in host order"
#endif

#define ROTL32(v, bits) (((v) << (bits)) | ((v) >> (32 - (bits))))

// block = Salsa20/8(block): 16 little-endian words (the host is little-endian: x86-64, arm64).
static inline void salsa20_8(uint32_t block[16]) {
  uint32_t x[16];
  memcpy(x, block, 64);
  for (int i = 0; i < 8; i += 2) {
    // Column round, written four quarter-rounds at a time so the compiler can interleave them.
    x[4] ^= ROTL32(x[0] + x[12], 7);   x[9] ^= ROTL32(x[5] + x[1], 7);
    x[14] ^= ROTL32(x[10] + x[6], 7);  x[3] ^= ROTL32(x[15] + x[11], 7);
    x[8] ^= ROTL32(x[4] + x[0], 9);    x[13] ^= ROTL32(x[9] + x[5], 9);
    x[2] ^= ROTL32(x[14] + x[10], 9);  x[7] ^= ROTL32(x[3] + x[15], 9);
    x[12] ^= ROTL32(x[8] + x[4], 13);  x[1] ^= ROTL32(x[13] + x[9], 13);
    x[6] ^= ROTL32(x[2] + x[14], 13);  x[11] ^= ROTL32(x[7] + x[3], 13);
    x[0] ^= ROTL32(x[12] + x[8], 18);  x[5] ^= ROTL32(x[1] + x[13], 18);
    x[10] ^= ROTL32(x[6] + x[2], 18);  x[15] ^= ROTL32(x[11] + x[7], 18);
    // Row round.
    x[1] ^= ROTL32(x[0] + x[3], 7);    x[6] ^= ROTL32(x[5] + x[4], 7);
    x[11] ^= ROTL32(x[10] + x[9], 7);  x[12] ^= ROTL32(x[15] + x[14], 7);
    x[2] ^= ROTL32(x[1] + x[0], 9);    x[7] ^= ROTL32(x[6] + x[5], 9);
    x[8] ^= ROTL32(x[11] + x[10], 9);  x[13] ^= ROTL32(x[12] + x[15], 9);
    x[3] ^= ROTL32(x[2] + x[1], 13);   x[4] ^= ROTL32(x[7] + x[6], 13);
    x[9] ^= ROTL32(x[8] + x[11], 13);  x[14] ^= ROTL32(x[13] + x[12], 13);
    x[0] ^= ROTL32(x[3] + x[2], 18);   x[5] ^= ROTL32(x[4] + x[7], 18);
    x[10] ^= ROTL32(x[9] + x[8], 18);  x[15] ^= ROTL32(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) block[i] += x[i];
}

static inline void xor_words(uint32_t *dst, const uint32_t *src, size_t words) {
  for (size_t i = 0; i < words; i++) dst[i] ^= src[i];
}

// BlockMix (RFC 7914 §4) of in (2r 64-byte blocks) into out; in and out must not overlap.
static void block_mix(uint32_t *out, const uint32_t *in, uint32_t r) {
  uint32_t x[16];
  memcpy(x, in + (2 * r - 1) * 16, 64);
  for (uint32_t i = 0; i < 2 * r; i++) {
    xor_words(x, in + i * 16, 16);
    salsa20_8(x);
    // Even blocks go to the first half of the output, odd ones to the second.
    memcpy(out + ((i & 1) * r + i / 2) * 16, x, 64);
  }
  explicit_bzero(x, sizeof x);
}

// Integerify (RFC 7914 §5) mod N, a power of two: the first word of the last 64-byte block.
static inline uint64_t integerify(const uint32_t *x, uint32_t r, uint64_t n) {
  return x[(2 * r - 1) * 16] & (n - 1);
}

// ROMix (RFC 7914 §5) of the 128·r-byte block b in place; v holds N such blocks, x and y one each.
static void ro_mix(uint32_t *b, uint32_t r, uint64_t n, uint32_t *v, uint32_t *x, uint32_t *y) {
  const size_t words = 32 * (size_t)r;
  memcpy(x, b, words * 4);
  for (uint64_t i = 0; i < n; i += 2) {
    memcpy(v + i * words, x, words * 4);
    block_mix(y, x, r);
    memcpy(v + (i + 1) * words, y, words * 4);
    block_mix(x, y, r);
  }
  for (uint64_t i = 0; i < n; i += 2) {
    xor_words(x, v + integerify(x, r, n) * words, words);
    block_mix(y, x, r);
    xor_words(y, v + integerify(y, r, n) * words, words);
    block_mix(x, y, r);
  }
  memcpy(b, x, words * 4);
}

// The table: anonymous memory aligned to 2 MiB and offered to the kernel as huge pages.
#define HUGE_PAGE (2u << 20)
typedef struct {
  void *mapping;
  size_t mapping_len;
  uint32_t *table;
  size_t table_len;
} scrypt_table;

static int table_map(scrypt_table *t, size_t len) {
  t->table_len = len;
  t->mapping_len = len + HUGE_PAGE;
  t->mapping = mmap(NULL, t->mapping_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (t->mapping == MAP_FAILED) {
    t->mapping = NULL;
    return ENOMEM;
  }
  t->table = (uint32_t *)(((uintptr_t)t->mapping + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  (void)madvise(t->table, len, MADV_HUGEPAGE);  // advice only: 4 KiB pages work too
  return 0;
}

static void table_unmap(scrypt_table *t) {
  if (!t->mapping) return;
  explicit_bzero(t->table, t->table_len);
  munmap(t->mapping, t->mapping_len);
  t->mapping = NULL;
}

// scrypt(password, salt, N, r, p) into key[key_len]. Returns 0 or an errno.
static int scrypt_derive(const uint8_t *password, size_t password_len, const uint8_t *salt, size_t salt_len,
                         uint64_t n, uint32_t r, uint32_t p, uint8_t *key, size_t key_len) {
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || r > (1u << 16) || p > (1u << 16) ||
      n > (UINT64_C(1) << 32) / r || password_len > INT32_MAX || salt_len > INT32_MAX)
    return EINVAL;
  const size_t block_bytes = 128 * (size_t)r;
  const size_t b_len = block_bytes * p;
  uint32_t *b = malloc(b_len);
  uint32_t *xy = malloc(2 * block_bytes);
  scrypt_table table = {0};
  int err = 0;
  if (!b || !xy || table_map(&table, block_bytes * (size_t)n) != 0) {
    err = ENOMEM;
  } else if (!PKCS5_PBKDF2_HMAC((const char *)password, (int)password_len, salt, (int)salt_len, 1, EVP_sha256(),
                                (int)b_len, (uint8_t *)b)) {
    err = EIO;
  } else {
    for (uint32_t i = 0; i < p; i++) ro_mix(b + i * 32 * (size_t)r, r, n, table.table, xy, xy + 32 * (size_t)r);
    if (!PKCS5_PBKDF2_HMAC((const char *)password, (int)password_len, (const uint8_t *)b, (int)b_len, 1,
                           EVP_sha256(), (int)key_len, key))
      err = EIO;
  }
  table_unmap(&table);
  if (xy) { explicit_bzero(xy, 2 * block_bytes); free(xy); }
  if (b) { explicit_bzero(b, b_len); free(b); }
  return err;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  uint8_t *password, *salt, *key;
  size_t password_len, salt_len, key_len;
  uint64_t n;
  uint32_t r, p;
  int err;
} scrypt_job;

static void job_free(scrypt_job *job) {
  if (job->password) { explicit_bzero(job->password, job->password_len); free(job->password); }
  if (job->salt) { explicit_bzero(job->salt, job->salt_len); free(job->salt); }
  if (job->key) { explicit_bzero(job->key, job->key_len); free(job->key); }
  free(job);
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  scrypt_job *job = data;
  job->err = scrypt_derive(job->password, job->password_len, job->salt, job->salt_len, job->n, job->r, job->p,
                           job->key, job->key_len);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  scrypt_job *job = data;
  napi_value result = NULL;
  if (status != napi_ok) job->err = ECANCELED;
  if (job->err == 0) {
    void *copy = NULL;
    if (napi_create_buffer_copy(env, job->key_len, job->key, &copy, &result) != napi_ok) job->err = ENOMEM;
  }
  if (job->err != 0) {
    napi_value message = NULL;
    const char *text = job->err == EINVAL ? "scrypt: invalid parameters"
                       : job->err == ENOMEM ? "scrypt: out of memory"
                                            : "scrypt: key derivation failed";
    NAPI_LOG(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message));
    NAPI_LOG(env, napi_create_error(env, NULL, message, &result));
    NAPI_LOG(env, napi_reject_deferred(env, job->deferred, result));
  } else {
    NAPI_LOG(env, napi_resolve_deferred(env, job->deferred, result));
  }
  NAPI_LOG(env, napi_delete_async_work(env, job->work));
  job_free(job);
}

static uint8_t *copy_buffer_arg(napi_env env, napi_value value, size_t *len) {
  void *data = NULL;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return NULL;
  if (napi_get_buffer_info(env, value, &data, len) != napi_ok) return NULL;
  uint8_t *copy = malloc(*len ? *len : 1);
  if (copy && *len) memcpy(copy, data, *len);
  return copy;
}

// scrypt(password: Buffer, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer>
static napi_value js_scrypt(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, NULL, "scrypt(password, salt, N, r, p, keyLength)");
    return NULL;
  }
  scrypt_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "scrypt: out of memory");
    return NULL;
  }
  int64_t n = 0, key_len = 0;
  uint32_t r = 0, p = 0;
  job->password = copy_buffer_arg(env, argv[0], &job->password_len);
  job->salt = copy_buffer_arg(env, argv[1], &job->salt_len);
  if (!job->password || !job->salt || napi_get_value_int64(env, argv[2], &n) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &r) != napi_ok || napi_get_value_uint32(env, argv[4], &p) != napi_ok ||
      napi_get_value_int64(env, argv[5], &key_len) != napi_ok || n < 2 || key_len < 1 || key_len > (1 << 20)) {
    job_free(job);
    napi_throw_type_error(env, NULL, "scrypt: password and salt must be Buffers, N, r, p and keyLength positive numbers");
    return NULL;
  }
  job->n = (uint64_t)n;
  job->r = r;
  job->p = p;
  job->key_len = (size_t)key_len;
  job->key = malloc(job->key_len);
  napi_value promise = NULL;
  if (!job->key ||
      queue_promise_job(env, "cryptfs.scrypt", job_execute, job_complete, job, &job->deferred, &job->work, &promise) != napi_ok) {
    job_free(job);
    napi_throw_error(env, NULL, "scrypt: could not start");
    return NULL;
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn = NULL;
  NAPI_CALL(env, napi_create_function(env, "scrypt", NAPI_AUTO_LENGTH, js_scrypt, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, exports, "scrypt", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
