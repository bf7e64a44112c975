// The replies, from JS to the kernel: replyErr, replyEntry, ... Each takes the
// request id first; a stale id (the request was answered already) returns
// false. A malformed value answers EIO to the kernel and throws a TypeError.
// They run on the JS thread; libfuse allows replies from any thread.
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fuse_internal.h"

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value bool_value(napi_env env, bool b) {
  napi_value r;
  NAPI_CALL(env, napi_get_boolean(env, b, &r));
  return r;
}

static napi_status type_of(napi_env env, napi_value v, napi_valuetype *t) {
  return napi_typeof(env, v, t);
}

// A bigint or a non-negative number into a uint64; -1 when it is neither.
static int get_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (type_of(env, v, &t) != napi_ok) return -1;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless ? 0 : -1;
  }
  if (t == napi_number) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) return -1;
    if (!(d >= 0 && d < 18446744073709551616.0)) return -1;
    *out = (uint64_t)d;
    return 0;
  }
  return -1;
}

// Numeric property: 0 and 1 when missing/undefined/null (-1 if `required`),
// 0 when set, -1 when it is not a valid number.
static int prop_u64(napi_env env, napi_value obj, const char *key, uint64_t *out, int required) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || type_of(env, v, &t) != napi_ok)
    return -1;
  if (t == napi_undefined || t == napi_null) {
    *out = 0;
    return required ? -1 : 1;
  }
  return get_u64(env, v, out);
}

// Time property in ns since the epoch (bigint); missing is 0.
static int prop_time(napi_env env, napi_value obj, const char *key, struct timespec *ts) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || type_of(env, v, &t) != napi_ok)
    return -1;
  if (t == napi_undefined) {
    ts->tv_sec = 0;
    ts->tv_nsec = 0;
    return 0;
  }
  if (t != napi_bigint) return -1;
  int64_t ns;
  bool lossless;
  if (napi_get_value_bigint_int64(env, v, &ns, &lossless) != napi_ok || !lossless) return -1;
  int64_t sec = ns / 1000000000LL, rem = ns % 1000000000LL;
  if (rem < 0) rem += 1000000000LL, sec -= 1;
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)rem;
  return 0;
}

// Attr object -> struct stat. Returns 0 or -1 (TypeError thrown by caller).
static int read_attr(napi_env env, napi_value obj, struct stat *st) {
  napi_valuetype t;
  if (type_of(env, obj, &t) != napi_ok || t != napi_object) return -1;
  memset(st, 0, sizeof *st);
  uint64_t v;
  if (prop_u64(env, obj, "ino", &v, 1) != 0) return -1;
  st->st_ino = v;
  if (prop_u64(env, obj, "mode", &v, 1) != 0) return -1;
  st->st_mode = (mode_t)v;
  // Absent means 1; an explicit 0 is an unlinked file still open (fstat after unlink).
  int nlink_missing = prop_u64(env, obj, "nlink", &v, 0);
  if (nlink_missing < 0) return -1;
  st->st_nlink = nlink_missing ? 1 : v;
  if (prop_u64(env, obj, "uid", &v, 0) < 0) return -1;
  st->st_uid = (uid_t)v;
  if (prop_u64(env, obj, "gid", &v, 0) < 0) return -1;
  st->st_gid = (gid_t)v;
  if (prop_u64(env, obj, "rdev", &v, 0) < 0) return -1;
  st->st_rdev = v;
  if (prop_u64(env, obj, "size", &v, 0) < 0) return -1;
  st->st_size = (off_t)v;
  int r = prop_u64(env, obj, "blocks", &v, 0);
  if (r < 0) return -1;
  st->st_blocks = r == 1 ? (blkcnt_t)((st->st_size + 511) / 512) : (blkcnt_t)v;
  r = prop_u64(env, obj, "blksize", &v, 0);
  if (r < 0) return -1;
  st->st_blksize = r == 1 ? 4096 : (blksize_t)v;
  if (prop_time(env, obj, "atimeNs", &st->st_atim) != 0) return -1;
  if (prop_time(env, obj, "mtimeNs", &st->st_mtim) != 0) return -1;
  if (prop_time(env, obj, "ctimeNs", &st->st_ctim) != 0) return -1;
  return 0;
}

// A number argument, or `dflt` when it is something else.
static double get_double_or(napi_env env, napi_value v, double dflt) {
  napi_valuetype t;
  double d;
  if (type_of(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok)
    return dflt;
  return d;
}

// Takes the request named by argv[0]; NULL (and false to JS) when the id is
// stale, i.e. the request was answered already.
static pending_t *take_request(napi_env env, napi_value idv) {
  double id;
  if (napi_get_value_double(env, idv, &id) != napi_ok) return NULL;
  return slot_take(get_addon(env), id);
}

// A reply function's n arguments (missing ones undefined), and `p`, the
// request its id (argv[0]) names; a stale id returns false to JS.
#define GET_REPLY_ARGS(n)                                                   \
  size_t argc = n;                                                          \
  napi_value argv[n];                                                       \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));     \
  for (size_t i_ = argc; i_ < n; i_++)                                      \
    NAPI_CALL(env, napi_get_undefined(env, &argv[i_]));                     \
  pending_t *p = take_request(env, argv[0]);                                \
  if (!p) return bool_value(env, false);

// After the answer went to the kernel: releases the request; `ok` goes to JS.
static napi_value replied(napi_env env, pending_t *p, bool ok) {
  finish(p);
  return bool_value(env, ok);
}

// Replies EIO after a malformed reply value, and throws.
static napi_value bad_reply(napi_env env, pending_t *p, const char *msg) {
  fuse_reply_err(p->req, EIO);
  finish(p);
  return throw_type(env, msg);
}

// replyErr(id, errno): errno 0 answers success for operations without data.
napi_value js_reply_err(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  int32_t e = EIO;
  if (napi_get_value_int32(env, argv[1], &e) != napi_ok) e = EIO;
  if (e < 0) e = -e;
  if (e > 4095) e = EIO;
  fuse_reply_err(p->req, e);
  return replied(env, p, true);
}

// attr (null: a negative entry) and its timeouts in seconds (default 1).
static int fill_entry(napi_env env, napi_value attr, napi_value entry_timeout,
                      napi_value attr_timeout, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->attr_timeout = get_double_or(env, attr_timeout, 1);
  e->entry_timeout = get_double_or(env, entry_timeout, 1);
  napi_valuetype t;
  if (type_of(env, attr, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;  // negative entry: ino 0
  if (read_attr(env, attr, &e->attr) != 0) return -1;
  e->ino = e->attr.st_ino;
  return 0;
}

// replyEntry(id, attr | null, entryTimeout, attrTimeout)
napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(4);
  struct fuse_entry_param e;
  if (fill_entry(env, argv[1], argv[2], argv[3], &e) != 0)
    return bad_reply(env, p, "replyEntry: invalid attr");
  fuse_reply_entry(p->req, &e);
  return replied(env, p, true);
}

// replyAttr(id, attr, timeout)
napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(3);
  struct stat st;
  if (read_attr(env, argv[1], &st) != 0) return bad_reply(env, p, "replyAttr: invalid attr");
  fuse_reply_attr(p->req, &st, get_double_or(env, argv[2], 1));
  return replied(env, p, true);
}

static int fill_open(napi_env env, pending_t *p, napi_value fhv, napi_value flagsv) {
  uint64_t fh = 0;
  napi_valuetype t;
  if (type_of(env, fhv, &t) != napi_ok) return -1;
  if (t != napi_undefined && get_u64(env, fhv, &fh) != 0) return -1;
  uint32_t flags = 0;
  if (type_of(env, flagsv, &t) != napi_ok) return -1;
  if (t == napi_number && napi_get_value_uint32(env, flagsv, &flags) != napi_ok) return -1;
  p->fi.fh = fh;
  p->fi.direct_io = !!(flags & OPEN_DIRECT_IO);
  p->fi.keep_cache = !!(flags & OPEN_KEEP_CACHE);
  p->fi.nonseekable = !!(flags & OPEN_NONSEEKABLE);
  p->fi.cache_readdir = !!(flags & OPEN_CACHE_READDIR);
  p->fi.noflush = !!(flags & OPEN_NOFLUSH);
  return 0;
}

// replyOpen(id, fh, flags)
napi_value js_reply_open(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(3);
  if (fill_open(env, p, argv[1], argv[2]) != 0) return bad_reply(env, p, "replyOpen: invalid fh");
  // -ENOENT: the opener was interrupted and is gone, and the kernel will never
  // send a release for this handle. JS learns it from the return value.
  return replied(env, p, fuse_reply_open(p->req, &p->fi) != -ENOENT);
}

// replyCreate(id, attr, entryTimeout, attrTimeout, fh, flags)
napi_value js_reply_create(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(6);
  struct fuse_entry_param e;
  if (fill_entry(env, argv[1], argv[2], argv[3], &e) != 0 || e.ino == 0)
    return bad_reply(env, p, "replyCreate: invalid attr");
  if (fill_open(env, p, argv[4], argv[5]) != 0) return bad_reply(env, p, "replyCreate: invalid fh");
  return replied(env, p, fuse_reply_create(p->req, &e, &p->fi) != -ENOENT);
}

static size_t typedarray_element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 1;
  }
}

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is)
    return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return -1;
    *len = length * typedarray_element_size(type);
    return 0;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is)
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  return -1;
}

// replyData(id, bytes): read replies. The kernel copy happens inside this
// call, so the JS buffer may be reused afterwards.
napi_value js_reply_data(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  void *data = NULL;
  size_t len = 0;
  if (get_bytes(env, argv[1], &data, &len) != 0)
    return bad_reply(env, p, "replyData: expected a Buffer, TypedArray or ArrayBuffer");
  if (p->op == OP_read && len > p->size) len = p->size;
  fuse_reply_buf(p->req, data, len);
  return replied(env, p, true);
}

// replyWrite(id, count)
napi_value js_reply_write(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  double count = get_double_or(env, argv[1], -1);
  if (!(count >= 0) || count > (double)p->size)
    return bad_reply(env, p, "replyWrite: count outside 0..size");
  fuse_reply_write(p->req, (size_t)count);
  return replied(env, p, true);
}

// replyReadlink(id, target)
napi_value js_reply_readlink(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  char target[NAME_BUF];
  size_t n;
  if (napi_get_value_string_utf8(env, argv[1], target, sizeof target, &n) != napi_ok ||
      n >= sizeof target - 1)
    return bad_reply(env, p, "replyReadlink: expected a string shorter than 4 KiB");
  fuse_reply_readlink(p->req, target);
  return replied(env, p, true);
}

// replyStatfs(id, {bsize, frsize, blocks, bfree, bavail, files, ffree, favail, namemax})
napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  uint64_t v;
  napi_valuetype t;
  if (type_of(env, argv[1], &t) != napi_ok || t != napi_object)
    return bad_reply(env, p, "replyStatfs: expected an object");
#define SV(field, key, dflt)                                                  \
  {                                                                           \
    int r_ = prop_u64(env, argv[1], key, &v, 0);                              \
    if (r_ < 0) return bad_reply(env, p, "replyStatfs: invalid " key);        \
    sv.field = r_ == 1 ? (dflt) : v;                                          \
  }
  SV(f_bsize, "bsize", 4096)
  SV(f_frsize, "frsize", sv.f_bsize)
  SV(f_blocks, "blocks", 0)
  SV(f_bfree, "bfree", 0)
  SV(f_bavail, "bavail", sv.f_bfree)
  SV(f_files, "files", 0)
  SV(f_ffree, "ffree", 0)
  SV(f_favail, "favail", sv.f_ffree)
  SV(f_namemax, "namemax", 255)
#undef SV
  fuse_reply_statfs(p->req, &sv);
  return replied(env, p, true);
}

// One replyReaddir entry: its name into `name` (NAME_BUF bytes), ino and mode
// into `st`, and its offset into `next` (`dflt` when it has none). Returns
// NULL, or the message for a malformed entry.
static const char *read_dirent(napi_env env, napi_value ent, char *name, struct stat *st,
                               off_t *next, off_t dflt) {
  napi_value v;
  size_t nlen;
  if (napi_get_named_property(env, ent, "name", &v) != napi_ok ||
      napi_get_value_string_utf8(env, v, name, NAME_BUF, &nlen) != napi_ok ||
      nlen >= NAME_BUF - 1)
    return "replyReaddir: entry name must be a string";
  memset(st, 0, sizeof *st);
  uint64_t u;
  if (prop_u64(env, ent, "ino", &u, 1) != 0) return "replyReaddir: entry ino must be a bigint";
  st->st_ino = u;
  if (prop_u64(env, ent, "mode", &u, 0) < 0) return "replyReaddir: entry mode must be a number";
  st->st_mode = (mode_t)u;
  int r = prop_u64(env, ent, "offset", &u, 0);
  if (r < 0) return "replyReaddir: entry offset must be a number";
  *next = r == 1 ? dflt : (off_t)u;
  return NULL;
}

// Packs directory entries into the size the kernel asked for and replies;
// returns how many fit (the rest are left for the next call at the last offset
// sent). An entry's offset is the cookie of the entry after it (default:
// request offset + index + 1). With `plus` (readdirplus), argv[2] and argv[3]
// are the entry and attr timeouts and each entry may carry an attr: an entry
// with one is a lookup for the kernel (one reference to attr.ino) unless it is
// "." or ".."; one without is a plain name (ino 0 in the entry part, so the
// kernel links nothing). Entries past the count did not reach the kernel and
// count nothing.
static napi_value reply_dir(napi_env env, pending_t *p, napi_value *argv, bool plus) {
  const char *what = plus ? "replyReaddirPlus" : "replyReaddir";
  char msg[96];
  bool is_array;
  uint32_t n;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &n) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: expected an array", what);
    return bad_reply(env, p, msg);
  }
  char *buf = malloc(p->size ? p->size : 1);
  if (!buf) {
    fuse_reply_err(p->req, ENOMEM);
    return replied(env, p, false);
  }
  size_t used = 0;
  uint32_t i;
  char name[NAME_BUF];
  for (i = 0; i < n; i++) {
    napi_value ent;
    const char *bad = NULL;
    struct stat st;
    off_t next = 0;
    if (napi_get_element(env, argv[1], i, &ent) != napi_ok)
      bad = "replyReaddir: cannot read an entry";
    else
      bad = read_dirent(env, ent, name, &st, &next, (off_t)(p->off + i + 1));
    struct fuse_entry_param e;
    if (plus && !bad) {
      napi_value attr;
      if (napi_get_named_property(env, ent, "attr", &attr) != napi_ok ||
          fill_entry(env, attr, argv[2], argv[3], &e) != 0)
        bad = "replyReaddirPlus: invalid entry attr";
    }
    if (bad) {
      free(buf);
      return bad_reply(env, p, bad);
    }
    size_t need;
    if (plus) {
      if (e.ino == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        // A plain name: the kernel takes ino and type from attr.
        e.ino = 0;
        e.attr = st;
      }
      need = fuse_add_direntry_plus(p->req, buf + used, p->size - used, name, &e, next);
    } else {
      need = fuse_add_direntry(p->req, buf + used, p->size - used, name, &st, next);
    }
    if (need > p->size - used) break;
    used += need;
  }
  fuse_reply_buf(p->req, buf, used);
  free(buf);
  finish(p);
  napi_value r;
  NAPI_CALL(env, napi_create_uint32(env, i, &r));
  return r;
}

// replyReaddir(id, entries[{name, ino, mode, offset?}]) -> number of entries that fit.
napi_value js_reply_readdir(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  return reply_dir(env, p, argv, false);
}

// replyReaddirPlus(id, entries[{name, ino, mode, offset?, attr?}], entryTimeout, attrTimeout)
// -> number of entries that fit.
napi_value js_reply_readdirplus(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(4);
  return reply_dir(env, p, argv, true);
}
