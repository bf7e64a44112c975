// The FUSE ABI between the binding and JS, written once. One row per operation:
//
//   X(name, entry, args)
//
//   name   the libfuse low-level operation (set_ops registers ops->name = ll_name)
//          and the name JS sees;
//   entry  how ll_name queues the request on the loop thread: LL_<entry> in
//          fuse_requests.c defines it, `custom` means it is written out there;
//   args   what JS receives after (op, id): marshal_<args> in fuse_requests.c.
//
// The opcode of a row is its position (notifications first). The binding
// exports the names in that order as `ops`; the JS side checks them against
// its typed table (NativeOpArgs in src/fuse/native.ts), so a row added here
// and not there fails at load, not at the first request.
#ifndef CRYPTFS_FUSE_OPS_H
#define CRYPTFS_FUSE_OPS_H

// Messages from the binding to JS that take no reply (request id 0).
#define FUSE_NOTIFICATIONS(X) \
  X(init, custom, init)       \
  X(end, custom, end)         \
  X(log, custom, log)

// Kernel requests. forget takes no reply either (libfuse answers it at once).
#define FUSE_REQUESTS(X)                        \
  X(lookup, name_lookup, ino_name)              \
  X(forget, custom, forget)                     \
  X(getattr, ino_fi, ino_optfh)                 \
  X(setattr, custom, setattr)                   \
  X(readlink, ino, ino)                         \
  X(mkdir, custom, mkdir)                       \
  X(unlink, name_lookup, ino_name)              \
  X(rmdir, name_lookup, ino_name)               \
  X(symlink, custom, symlink)                   \
  X(rename, custom, rename)                     \
  X(link, custom, link)                         \
  X(mknod, custom, mknod)                       \
  X(open, open, ino_flags)                      \
  X(read, read, ino_fh_off_size)                \
  X(write, custom, write)                       \
  X(flush, ino_fi, ino_fh)                      \
  X(release, ino_fi, ino_fh_flags)              \
  X(fsync, fsync, ino_fh_flags)                 \
  X(opendir, open, ino_flags)                   \
  X(readdir, read, ino_fh_off_size)             \
  X(releasedir, ino_fi, ino_fh)                 \
  X(fsyncdir, fsync, ino_fh_flags)              \
  X(statfs, ino, ino)                           \
  X(access, custom, access)                     \
  X(create, custom, create)                     \
  X(fallocate, custom, fallocate)               \
  X(readdirplus, read, ino_fh_off_size)

#define FUSE_ALL_OPS(X) FUSE_NOTIFICATIONS(X) FUSE_REQUESTS(X)

enum {
#define FUSE_OP_ENUM(name, entry, args) OP_##name,
  FUSE_ALL_OPS(FUSE_OP_ENUM)
#undef FUSE_OP_ENUM
  OP_COUNT
};

// Requests come after the notifications: their opcodes start here.
enum {
#define FUSE_OP_ONE(name, entry, args) +1
  OP_FIRST_REQUEST = 0 FUSE_NOTIFICATIONS(FUSE_OP_ONE)
#undef FUSE_OP_ONE
};

#endif
