{
  "targets": [
    {
      "target_name": "cryptfs_fuse",
      "sources": ["native/fuse_binding.c", "native/fuse_requests.c", "native/fuse_replies.c"],
      "defines": ["NAPI_VERSION=8", "FUSE_USE_VERSION=312"],
      "cflags": ["<!@(pkg-config --cflags fuse3)", "-Wall", "-Wextra", "-Werror", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["<!@(pkg-config --libs fuse3)"]
    },
    {
      "target_name": "cryptfs_fs",
      "sources": ["native/fs_times.c", "native/small_write.c", "native/hash_threads.c", "native/file_hash.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
      "cflags_c": ["-std=gnu11"]
    },
    {
      "target_name": "cryptfs_scrypt",
      "sources": ["native/scrypt.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O3"],
      "cflags_c": ["-std=gnu11"]
    },
    {
      "target_name": "cryptfs_notify",
      "sources": ["native/sd_notify.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
