// Shared by the sources of cryptfs_fs.node (fs_times.c, small_write.c, hash_threads.c, file_hash.c).
#ifndef CRYPTFS_FS_NATIVE_H
#define CRYPTFS_FS_NATIVE_H
#include <node_api.h>
#include <openssl/evp.h>

// An Error shaped like Node's own system errors (message "CODE: description, syscall 'path'",
// code, errno (negative), syscall, path when given); NULL when it could not be made.
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path);

// Adds writeSmallFiles to the addon's exports (small_write.c).
napi_status register_small_write(napi_env env, napi_value exports);

// Adds hashInit and hashSend to the addon's exports (hash_threads.c).
napi_status register_hash_threads(napi_env env, napi_value exports);

// OpenSSL's digest for "md5", "sha1" or "sha256", else NULL (hash_threads.c).
const EVP_MD *digest_named(const char *name);

// out = the lower-case hex of md[len], NUL-terminated (2 * len + 1 chars) (hash_threads.c).
void to_hex(const unsigned char *md, unsigned len, char *out);

// Adds hashFile to the addon's exports (file_hash.c).
napi_status register_file_hash(napi_env env, napi_value exports);
#endif
