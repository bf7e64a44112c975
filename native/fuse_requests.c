// The FUSE requests, from the kernel to JS: the low-level entry points libfuse
// calls on the loop thread (ll_*), which copy a request into a pending_t and
// queue it, and the per-op marshalling that turns a pending_t into the JS
// arguments on the JS thread. Which ops exist, and which entry-point shape and
// marshaller each uses, is the table in fuse_ops.h.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse_internal.h"

// ---- loop thread: copying requests ----

static void set_ctx(pending_t *p, fuse_req_t req) {
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  p->uid = ctx->uid;
  p->gid = ctx->gid;
}

// Names reach JS as strings; a name that is not UTF-8 cannot name anything
// there. Creating one fails with EILSEQ, looking one up finds nothing.
static int valid_utf8(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  while (*s) {
    if (*s < 0x80) {
      s++;
      continue;
    }
    int n;
    uint32_t cp;
    if ((*s & 0xe0) == 0xc0) n = 1, cp = *s & 0x1f;
    else if ((*s & 0xf0) == 0xe0) n = 2, cp = *s & 0x0f;
    else if ((*s & 0xf8) == 0xf0) n = 3, cp = *s & 0x07;
    else return 0;
    s++;
    for (int i = 0; i < n; i++, s++) {
      if ((*s & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (*s & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
  }
  return 1;
}

static pending_t *begin(fuse_req_t req, int op, const char *name, const char *name2,
                        int bad_name_errno) {
  session_t *s = fuse_req_userdata(req);
  if ((name && !valid_utf8(name)) || (name2 && !valid_utf8(name2))) {
    fuse_reply_err(req, bad_name_errno);
    return NULL;
  }
  pending_t *p = new_pending(s, op, req, name, name2);
  if (!p) fuse_reply_err(req, ENOMEM);
  return p;
}

static void take_fi(pending_t *p, struct fuse_file_info *fi) {
  if (!fi) return;
  p->fi = *fi;
  p->has_fh = 1;
  p->flags = fi->flags;
}

// ---- loop thread: entry points of the regular shapes (the `entry` column) ----

// (parent, name) of an existing entry: a name that is not UTF-8 is not there.
#define LL_name_lookup(op)                                                    \
  static void ll_##op(fuse_req_t req, fuse_ino_t parent, const char *name) {  \
    pending_t *p = begin(req, OP_##op, name, NULL, ENOENT);                   \
    if (!p) return;                                                           \
    p->ino = parent;                                                          \
    enqueue(p->s, p);                                                         \
  }

#define LL_ino(op)                                       \
  static void ll_##op(fuse_req_t req, fuse_ino_t ino) {  \
    pending_t *p = begin(req, OP_##op, NULL, NULL, 0);   \
    if (!p) return;                                      \
    p->ino = ino;                                        \
    enqueue(p->s, p);                                    \
  }

#define LL_ino_fi(op)                                                           \
  static void ll_##op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { \
    pending_t *p = begin(req, OP_##op, NULL, NULL, 0);                          \
    if (!p) return;                                                             \
    p->ino = ino;                                                               \
    take_fi(p, fi);                                                             \
    enqueue(p->s, p);                                                           \
  }

// open and opendir: the open flags; no handle yet.
#define LL_open(op)                                                             \
  static void ll_##op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { \
    pending_t *p = begin(req, OP_##op, NULL, NULL, 0);                          \
    if (!p) return;                                                             \
    p->ino = ino;                                                               \
    p->fi = *fi;                                                                \
    p->flags = fi->flags;                                                       \
    enqueue(p->s, p);                                                           \
  }

// read, readdir, readdirplus: a handle, an offset and the most bytes the kernel takes.
#define LL_read(op)                                                                \
  static void ll_##op(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,      \
                      struct fuse_file_info *fi) {                                 \
    pending_t *p = begin(req, OP_##op, NULL, NULL, 0);                             \
    if (!p) return;                                                                \
    p->ino = ino;                                                                  \
    take_fi(p, fi);                                                                \
    p->size = size;                                                                \
    p->off = (uint64_t)off;                                                        \
    enqueue(p->s, p);                                                              \
  }

// fsync and fsyncdir: a handle and the datasync flag.
#define LL_fsync(op)                                                               \
  static void ll_##op(fuse_req_t req, fuse_ino_t ino, int datasync,                \
                      struct fuse_file_info *fi) {                                 \
    pending_t *p = begin(req, OP_##op, NULL, NULL, 0);                             \
    if (!p) return;                                                                \
    p->ino = ino;                                                                  \
    take_fi(p, fi);                                                                \
    p->flags = datasync;                                                           \
    enqueue(p->s, p);                                                              \
  }

#define LL_custom(op)

#define DEFINE_ENTRY(name, entry, args) LL_##entry(name)
FUSE_REQUESTS(DEFINE_ENTRY)
#undef DEFINE_ENTRY

// ---- loop thread: the entry points written out ----

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  session_t *s = userdata;
  // libfuse's own ceiling is its receive buffer (1 MiB of pages); ask for it
  // explicitly so the figure JS sees is the one the kernel gets.
  if (conn->max_write > (1u << 20)) conn->max_write = 1u << 20;
  if (s->conn_opts) fuse_apply_conn_info_opts(s->conn_opts, conn);
  // libfuse wants READDIRPLUS(_AUTO) only when the op exists, but
  // -o readdirplus=yes would force it on: without a handler every listing
  // would then fail with ENOSYS.
  if (!s->has_readdirplus) conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  pending_t *p = new_pending(s, OP_init, NULL, NULL, NULL);
  if (!p) return;
  p->u.conn = *conn;
  enqueue(s, p);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  session_t *s = fuse_req_userdata(req);
  pending_t *p = new_pending(s, OP_forget, NULL, NULL, NULL);
  if (p) {
    p->u.forgets.items = malloc(count * sizeof(struct fuse_forget_data));
    if (p->u.forgets.items) {
      memcpy(p->u.forgets.items, forgets, count * sizeof(struct fuse_forget_data));
      p->u.forgets.count = count;
    } else {
      free(p);
      p = NULL;
    }
  }
  fuse_reply_none(req);
  if (p) enqueue(s, p);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  struct fuse_forget_data one = {.ino = ino, .nlookup = nlookup};
  ll_forget_multi(req, 1, &one);
}

static void now_into(struct timespec *ts) { clock_gettime(CLOCK_REALTIME, ts); }

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_setattr, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  p->u.setattr.st = *attr;
  // "now" is resolved here so JS always sees a concrete time.
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    now_into(&p->u.setattr.st.st_atim);
    to_set |= FUSE_SET_ATTR_ATIME;
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    now_into(&p->u.setattr.st.st_mtim);
    to_set |= FUSE_SET_ATTR_MTIME;
  }
  p->u.setattr.to_set = to_set;
  enqueue(p->s, p);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  pending_t *p = begin(req, OP_mkdir, name, NULL, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->mode = mode;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  pending_t *p = begin(req, OP_symlink, name, link, EILSEQ);
  if (!p) return;
  p->ino = parent;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags) {
  if (!valid_utf8(name)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  pending_t *p = begin(req, OP_rename, name, newname, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->ino2 = newparent;
  p->flags = (int)flags;
  enqueue(p->s, p);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  pending_t *p = begin(req, OP_link, newname, NULL, EILSEQ);
  if (!p) return;
  p->ino = ino;
  p->ino2 = newparent;
  enqueue(p->s, p);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_write, NULL, NULL, 0);
  if (!p) return;
  // buf lives in libfuse's receive buffer, reused for the next request: copy
  // it once here; JS gets this copy without another one (external buffer).
  p->data = malloc(size ? size : 1);
  if (!p->data) {
    free(p);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  memcpy(p->data, buf, size);
  p->ino = ino;
  take_fi(p, fi);
  p->size = size;
  p->off = (uint64_t)off;
  enqueue(p->s, p);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  pending_t *p = begin(req, OP_access, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  p->flags = mask;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_create, name, NULL, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->mode = mode;
  p->fi = *fi;
  p->flags = fi->flags;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_fallocate, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  p->flags = mode;
  p->off = (uint64_t)offset;
  p->len = (uint64_t)length;
  enqueue(p->s, p);
}

// mknod, and so mkfifo and bind(2) of a UNIX socket: the type and permission bits, the device
// number, the caller (the new node's owner).
static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  pending_t *p = begin(req, OP_mknod, name, NULL, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->mode = mode;
  p->rdev = (uint64_t)rdev;
  set_ctx(p, req);
  enqueue(p->s, p);
}

// A filesystem without mknod: EPERM, as mknod(2) answers for a node type the file system does
// not support (libfuse's default, ENOSYS, would reach mkfifo as "Function not implemented").
static void ll_mknod_refused(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                             dev_t rdev) {
  (void)parent;
  (void)name;
  (void)mode;
  (void)rdev;
  fuse_reply_err(req, EPERM);
}

void set_ops(struct fuse_lowlevel_ops *ops, const bool implemented[OP_COUNT]) {
  memset(ops, 0, sizeof *ops);
  ops->init = ll_init;
  ops->mknod = ll_mknod_refused;
#define REGISTER(name, entry, args) \
  if (implemented[OP_##name]) ops->name = ll_##name;
  FUSE_REQUESTS(REGISTER)
#undef REGISTER
  if (implemented[OP_forget]) ops->forget_multi = ll_forget_multi;
}

// ---- JS thread: marshalling (the `args` column) ----
// Each appends what its ops pass to JS after (op, id); see NativeOpArgs in
// src/fuse/native.ts for the same list as TypeScript types.

static napi_status put_u64(js_args_t *a, uint64_t v) {
  return napi_create_bigint_uint64(a->env, v, &a->v[a->n++]);
}
static napi_status put_num(js_args_t *a, double v) {
  return napi_create_double(a->env, v, &a->v[a->n++]);
}
// NULL becomes null.
static napi_status put_str(js_args_t *a, const char *s) {
  napi_value *slot = &a->v[a->n++];
  if (!s) return napi_get_null(a->env, slot);
  return napi_create_string_utf8(a->env, s, NAPI_AUTO_LENGTH, slot);
}
static napi_status set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  NAPI_TRY(napi_create_double(env, v, &n));
  return napi_set_named_property(env, obj, key, n);
}
static napi_status set_ns(napi_env env, napi_value obj, const char *key, const struct timespec *ts) {
  napi_value n;
  NAPI_TRY(napi_create_bigint_int64(env, (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec, &n));
  return napi_set_named_property(env, obj, key, n);
}

static napi_status marshal_init(js_args_t *a, pending_t *p) {
  const struct fuse_conn_info *c = &p->u.conn;
  napi_env env = a->env;
  napi_value o;
  NAPI_TRY(napi_create_object(env, &o));
  NAPI_TRY(set_num(env, o, "protoMajor", c->proto_major));
  NAPI_TRY(set_num(env, o, "protoMinor", c->proto_minor));
  NAPI_TRY(set_num(env, o, "maxWrite", c->max_write));
  NAPI_TRY(set_num(env, o, "maxRead", c->max_read));
  NAPI_TRY(set_num(env, o, "maxReadahead", c->max_readahead));
  NAPI_TRY(set_num(env, o, "maxBackground", c->max_background));
  NAPI_TRY(set_num(env, o, "congestionThreshold", c->congestion_threshold));
  NAPI_TRY(set_num(env, o, "timeGran", c->time_gran));
  NAPI_TRY(set_num(env, o, "capable", c->capable));
  NAPI_TRY(set_num(env, o, "want", c->want));
  a->v[a->n++] = o;
  return napi_ok;
}

static napi_status marshal_end(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_num(a, p->u.end.err));
  return put_str(a, p->u.end.msg);
}

static napi_status marshal_log(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_num(a, p->u.log.level));
  return put_str(a, p->u.log.msg);
}

// forget is delivered one JS call per inode (forget_multi batches are small):
// this marshals nothing, fuse_binding.c's deliver_forgets makes the calls.
static napi_status marshal_forget(js_args_t *a, pending_t *p) {
  (void)a;
  (void)p;
  return napi_ok;
}

static napi_status marshal_ino(js_args_t *a, pending_t *p) { return put_u64(a, p->ino); }

static napi_status marshal_ino_name(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_u64(a, p->ino));
  return put_str(a, p->name);
}

// getattr: the handle only when the kernel sent one (fstat, not stat).
static napi_status marshal_ino_optfh(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_u64(a, p->ino));
  if (p->has_fh) return put_u64(a, p->fi.fh);
  return napi_get_undefined(a->env, &a->v[a->n++]);
}

static napi_status marshal_ino_fh(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_u64(a, p->ino));
  return put_u64(a, p->fi.fh);
}

// release: open flags; fsync, fsyncdir: datasync.
static napi_status marshal_ino_fh_flags(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_fh(a, p));
  return put_num(a, p->flags);
}

static napi_status marshal_ino_flags(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_u64(a, p->ino));
  return put_num(a, p->flags);
}

static napi_status marshal_ino_fh_off_size(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_fh(a, p));
  NAPI_TRY(put_num(a, (double)p->off));
  return put_num(a, (double)p->size);
}

// (ino, changes: only the fields to_set names, fh | undefined)
static napi_status marshal_setattr(js_args_t *a, pending_t *p) {
  napi_env env = a->env;
  const struct stat *st = &p->u.setattr.st;
  int to_set = p->u.setattr.to_set;
  NAPI_TRY(put_u64(a, p->ino));
  napi_value o;
  NAPI_TRY(napi_create_object(env, &o));
  if (to_set & FUSE_SET_ATTR_MODE) NAPI_TRY(set_num(env, o, "mode", st->st_mode & 07777));
  if (to_set & FUSE_SET_ATTR_UID) NAPI_TRY(set_num(env, o, "uid", st->st_uid));
  if (to_set & FUSE_SET_ATTR_GID) NAPI_TRY(set_num(env, o, "gid", st->st_gid));
  if (to_set & FUSE_SET_ATTR_SIZE) NAPI_TRY(set_num(env, o, "size", (double)st->st_size));
  if (to_set & FUSE_SET_ATTR_ATIME) NAPI_TRY(set_ns(env, o, "atimeNs", &st->st_atim));
  if (to_set & FUSE_SET_ATTR_MTIME) NAPI_TRY(set_ns(env, o, "mtimeNs", &st->st_mtim));
  if (to_set & FUSE_SET_ATTR_CTIME) NAPI_TRY(set_ns(env, o, "ctimeNs", &st->st_ctim));
  a->v[a->n++] = o;
  if (p->has_fh) return put_u64(a, p->fi.fh);
  return napi_get_undefined(env, &a->v[a->n++]);
}

static napi_status put_caller(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_num(a, p->uid));
  return put_num(a, p->gid);
}

static napi_status marshal_mkdir(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_name(a, p));
  NAPI_TRY(put_num(a, p->mode));
  return put_caller(a, p);
}

static napi_status marshal_symlink(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_str(a, p->name2));  // the link's target
  NAPI_TRY(marshal_ino_name(a, p));
  return put_caller(a, p);
}

static napi_status marshal_rename(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_name(a, p));
  NAPI_TRY(put_u64(a, p->ino2));
  NAPI_TRY(put_str(a, p->name2));
  return put_num(a, p->flags);
}

static napi_status marshal_link(js_args_t *a, pending_t *p) {
  NAPI_TRY(put_u64(a, p->ino));
  NAPI_TRY(put_u64(a, p->ino2));
  return put_str(a, p->name);
}

static napi_status marshal_mknod(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_name(a, p));
  NAPI_TRY(put_num(a, p->mode));
  NAPI_TRY(put_num(a, (double)p->rdev));
  return put_caller(a, p);
}

// Finalizer of a write payload handed to JS; `hint` carries its length (plaintext: zeroed first).
static void free_external(napi_env env, void *data, void *hint) {
  (void)env;
  explicit_bzero(data, (size_t)(uintptr_t)hint);
  free(data);
}

// (ino, fh, data, offset): data is the payload copied on the loop thread,
// handed over without another copy where the runtime allows external buffers.
static napi_status marshal_write(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_fh(a, p));
  napi_value *buf = &a->v[a->n++];
  if (napi_create_external_buffer(a->env, p->size, p->data, free_external,
                                  (void *)(uintptr_t)p->size, buf) == napi_ok) {
    p->data = NULL;  // owned by the JS buffer now
  } else {
    void *copy;
    NAPI_TRY(napi_create_buffer_copy(a->env, p->size, p->data, &copy, buf));
  }
  return put_num(a, (double)p->off);
}

static napi_status marshal_access(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_flags(a, p));  // the mask
  return put_caller(a, p);
}

static napi_status marshal_create(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_name(a, p));
  NAPI_TRY(put_num(a, p->mode));
  NAPI_TRY(put_num(a, p->flags));
  return put_caller(a, p);
}

static napi_status marshal_fallocate(js_args_t *a, pending_t *p) {
  NAPI_TRY(marshal_ino_fh_flags(a, p));  // the mode
  NAPI_TRY(put_num(a, (double)p->off));
  return put_num(a, (double)p->len);
}

const char *const op_names[OP_COUNT] = {
#define NAME(name, entry, args) [OP_##name] = #name,
    FUSE_ALL_OPS(NAME)
#undef NAME
};

const marshal_fn marshal_table[OP_COUNT] = {
#define MARSHAL(name, entry, args) [OP_##name] = marshal_##args,
    FUSE_ALL_OPS(MARSHAL)
#undef MARSHAL
};
