// N-API binding to the libfuse3 low-level API.
//
// Threads: each session has one loop thread that mounts, reads requests from
// /dev/fuse and hands every request to JS through a napi_threadsafe_function
// (non-blocking, unbounded queue). It never waits for JS. JS answers later by
// request id with the reply* functions, which run on the JS thread and call
// fuse_reply_* (libfuse allows replies from any thread).
//
// Request ids: the JS thread keeps a slot table (per env). An id is
// generation * 2^22 + slot, so a stale or repeated id is refused instead of
// touching a freed fuse_req_t.
//
// End of a session: the loop ends when the kernel connection goes away
// (unmount: read() gives ENODEV) or when stop() writes the wake-up eventfd.
// The loop thread then queues an END item behind every request it queued and
// releases the threadsafe function. The JS thread handles END: joins the
// thread, unmounts if still mounted, and destroys the fuse_session once every
// dispatched request has been answered. fuse_session_unmount() is never called
// while the loop runs (it would close /dev/fuse under it).

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <node_api.h>

// ---- operation codes (shared with JS through the `opcodes` export) ----

enum {
  OP_INIT = 1,
  OP_END = 2,
  OP_LOG = 3,
  // Filesystem operations: code - OP_FIRST is the bit in the ops mask.
  OP_FIRST = 10,
  OP_LOOKUP = 10,
  OP_FORGET,
  OP_GETATTR,
  OP_SETATTR,
  OP_READLINK,
  OP_MKDIR,
  OP_UNLINK,
  OP_RMDIR,
  OP_SYMLINK,
  OP_RENAME,
  OP_LINK,
  OP_OPEN,
  OP_READ,
  OP_WRITE,
  OP_FLUSH,
  OP_RELEASE,
  OP_FSYNC,
  OP_OPENDIR,
  OP_READDIR,
  OP_RELEASEDIR,
  OP_FSYNCDIR,
  OP_STATFS,
  OP_ACCESS,
  OP_CREATE,
  OP_FALLOCATE,
  OP_READDIRPLUS,
  OP_LAST = OP_READDIRPLUS,
};

static const struct {
  const char *name;
  int code;
} opcode_names[] = {
    {"init", OP_INIT},         {"end", OP_END},           {"log", OP_LOG},
    {"lookup", OP_LOOKUP},     {"forget", OP_FORGET},     {"getattr", OP_GETATTR},
    {"setattr", OP_SETATTR},   {"readlink", OP_READLINK}, {"mkdir", OP_MKDIR},
    {"unlink", OP_UNLINK},     {"rmdir", OP_RMDIR},       {"symlink", OP_SYMLINK},
    {"rename", OP_RENAME},     {"link", OP_LINK},         {"open", OP_OPEN},
    {"read", OP_READ},         {"write", OP_WRITE},       {"flush", OP_FLUSH},
    {"release", OP_RELEASE},   {"fsync", OP_FSYNC},       {"opendir", OP_OPENDIR},
    {"readdir", OP_READDIR},   {"releasedir", OP_RELEASEDIR},
    {"fsyncdir", OP_FSYNCDIR}, {"statfs", OP_STATFS},     {"access", OP_ACCESS},
    {"create", OP_CREATE},     {"fallocate", OP_FALLOCATE},
    {"readdirplus", OP_READDIRPLUS},
};

// Open reply flags (replyOpen / replyCreate).
#define OPEN_DIRECT_IO 1
#define OPEN_KEEP_CACHE 2
#define OPEN_NONSEEKABLE 4
#define OPEN_CACHE_READDIR 8
#define OPEN_NOFLUSH 16

#define SLOT_SPAN (1u << 22)   // slots per generation in an id
#define GEN_MASK 0x3fffffffu   // generations kept below 2^30: ids stay < 2^52
#define NO_SLOT UINT32_MAX
#define NAME_BUF 4096          // longest name accepted from JS in a readdir reply
#define LOG_MSG_MAX 1024

typedef struct session session_t;

typedef struct pending {
  uint8_t op;
  uint8_t has_fh;       // fi.fh is the kernel's handle (take_fi)
  session_t *s;
  fuse_req_t req;       // NULL for notifications (forget, init, end, log)
  uint32_t slot;        // slot while dispatched to JS
  fuse_ino_t ino, ino2;
  uint64_t off;         // read/readdir/write/fallocate offset
  uint64_t len;         // fallocate length
  size_t size;          // read/readdir size, write length
  int flags;            // open flags, rename flags, fallocate mode, access mask, datasync
  uint32_t mode;
  uint32_t uid, gid;
  struct fuse_file_info fi;  // as the kernel sent it; open/create replies fill in fh and flags
  char *data;           // write payload (malloc), handed to JS as an external buffer
  const char *name, *name2;
  union {
    struct { struct stat st; int to_set; } setattr;
    struct fuse_conn_info conn;
    struct { struct fuse_forget_data *items; size_t count; } forgets;
    struct { int err; char *msg; } end;
    struct { int level; char *msg; } log;
  } u;
  char strings[];       // storage for name/name2
} pending_t;

struct session {
  struct fuse_session *se;
  struct fuse_conn_info_opts *conn_opts;
  napi_threadsafe_function tsfn;
  pthread_t thread;
  int thread_started;
  int thread_joined;
  int wake_fd;
  char *mountpoint;
  volatile int mounted;    // set by the loop thread once mount(2) succeeded
  int detached;            // JS unmounted it already (umount2 / fusermount3)
  int ended;               // END handled on the JS thread
  int destroyed;           // fuse_session destroyed
  int finalized;           // the JS handle was collected
  int hook_registered;     // env cleanup hook in place
  uint32_t outstanding;    // requests dispatched to JS and not yet answered
  int has_readdirplus;     // JS implements readdirplus
  char last_error[LOG_MSG_MAX];  // last error-level libfuse message on the loop thread
  struct addon *addon;
  session_t *next;         // the env's sessions
  session_t *live_next;    // all sessions of the process (for atexit)
};

typedef struct {
  pending_t *p;
  uint32_t gen;
  uint32_t next;
} slot_t;

typedef struct addon {
  slot_t *slots;
  uint32_t cap;
  uint32_t free_head;
  session_t *sessions;
} addon_t;

// ---- libfuse log routing ----
// libfuse logs through one process-wide function. Messages from a loop thread
// go to that session's JS side; messages on the JS thread (fuse_session_new
// option errors) are captured so the thrown error can carry them.

static __thread session_t *tls_session;
static __thread char *tls_capture;
static __thread size_t tls_capture_len;
static __thread int tls_quiet;

static int enqueue(session_t *s, pending_t *p);
static pending_t *new_pending(session_t *s, int op, fuse_req_t req, const char *name,
                              const char *name2);

static void log_func_inner(enum fuse_log_level level, const char *fmt, va_list ap);

// libfuse logs right before returning an error whose errno its caller reads.
static void log_func(enum fuse_log_level level, const char *fmt, va_list ap) {
  int saved_errno = errno;
  log_func_inner(level, fmt, ap);
  errno = saved_errno;
}

static void log_func_inner(enum fuse_log_level level, const char *fmt, va_list ap) {
  char msg[LOG_MSG_MAX];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && msg[n - 1] == '\n') msg[--n] = 0;
  if (tls_quiet) return;
  if (tls_capture) {
    if (tls_capture_len + n + 2 < LOG_MSG_MAX) {
      if (tls_capture_len) tls_capture[tls_capture_len++] = ' ';
      memcpy(tls_capture + tls_capture_len, msg, n + 1);
      tls_capture_len += n;
    }
    return;
  }
  session_t *s = tls_session;
  if (!s) {
    fprintf(stderr, "%s\n", msg);
    return;
  }
  if (level <= FUSE_LOG_ERR) snprintf(s->last_error, sizeof s->last_error, "%s", msg);
  pending_t *p = new_pending(s, OP_LOG, NULL, NULL, NULL);
  if (!p) return;
  p->u.log.level = (int)level;
  p->u.log.msg = strdup(msg);
  enqueue(s, p);
}

// ---- pending requests ----

static pending_t *new_pending(session_t *s, int op, fuse_req_t req, const char *name,
                              const char *name2) {
  size_t l1 = name ? strlen(name) + 1 : 0, l2 = name2 ? strlen(name2) + 1 : 0;
  pending_t *p = malloc(sizeof(pending_t) + l1 + l2);
  if (!p) return NULL;
  memset(p, 0, sizeof(pending_t));
  p->op = (uint8_t)op;
  p->s = s;
  p->req = req;
  p->slot = NO_SLOT;
  if (name) {
    memcpy(p->strings, name, l1);
    p->name = p->strings;
  }
  if (name2) {
    memcpy(p->strings + l1, name2, l2);
    p->name2 = p->strings + l1;
  }
  return p;
}

static void free_pending(pending_t *p) {
  // Write payloads are plaintext: never hand them back to the allocator readable.
  if (p->data) explicit_bzero(p->data, p->size);
  free(p->data);
  if (p->op == OP_FORGET) free(p->u.forgets.items);
  if (p->op == OP_END) free(p->u.end.msg);
  if (p->op == OP_LOG) free(p->u.log.msg);
  free(p);
}

// Hands a pending request to the JS thread. Never blocks.
static int enqueue(session_t *s, pending_t *p) {
  napi_status st = napi_call_threadsafe_function(s->tsfn, p, napi_tsfn_nonblocking);
  if (st == napi_ok) return 0;
  if (p->req) fuse_reply_err(p->req, EIO);
  free_pending(p);
  return -1;
}

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

// ---- low-level callbacks (loop thread) ----

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
  pending_t *p = new_pending(s, OP_INIT, NULL, NULL, NULL);
  if (!p) return;
  p->u.conn = *conn;
  enqueue(s, p);
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  pending_t *p = begin(req, OP_LOOKUP, name, NULL, ENOENT);
  if (!p) return;
  p->ino = parent;
  enqueue(p->s, p);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  session_t *s = fuse_req_userdata(req);
  pending_t *p = new_pending(s, OP_FORGET, NULL, NULL, NULL);
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

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_GETATTR, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  enqueue(p->s, p);
}

static void now_into(struct timespec *ts) { clock_gettime(CLOCK_REALTIME, ts); }

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_SETATTR, NULL, NULL, 0);
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

static void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
  pending_t *p = begin(req, OP_READLINK, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  enqueue(p->s, p);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  pending_t *p = begin(req, OP_MKDIR, name, NULL, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->mode = mode;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  pending_t *p = begin(req, OP_UNLINK, name, NULL, ENOENT);
  if (!p) return;
  p->ino = parent;
  enqueue(p->s, p);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  pending_t *p = begin(req, OP_RMDIR, name, NULL, ENOENT);
  if (!p) return;
  p->ino = parent;
  enqueue(p->s, p);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  pending_t *p = begin(req, OP_SYMLINK, name, link, EILSEQ);
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
  pending_t *p = begin(req, OP_RENAME, name, newname, EILSEQ);
  if (!p) return;
  p->ino = parent;
  p->ino2 = newparent;
  p->flags = (int)flags;
  enqueue(p->s, p);
}

// Device nodes, FIFOs and sockets can't be stored on a remote: EPERM, as mknod(2)
// answers for a node type the file system does not support (libfuse's default
// would be ENOSYS). Regular files are made with create, which the kernel prefers.
static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  fuse_reply_err(req, EPERM);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  pending_t *p = begin(req, OP_LINK, newname, NULL, EILSEQ);
  if (!p) return;
  p->ino = ino;
  p->ino2 = newparent;
  enqueue(p->s, p);
}

// open and opendir: the open flags; no handle yet.
static void queue_open(fuse_req_t req, int op, fuse_ino_t ino, struct fuse_file_info *fi) {
  pending_t *p = begin(req, op, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  p->fi = *fi;
  p->flags = fi->flags;
  enqueue(p->s, p);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  queue_open(req, OP_OPEN, ino, fi);
}

// read and readdir: a handle, an offset and the most bytes the kernel takes.
static void queue_read(fuse_req_t req, int op, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
  pending_t *p = begin(req, op, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  p->size = size;
  p->off = (uint64_t)off;
  enqueue(p->s, p);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  queue_read(req, OP_READ, ino, size, off, fi);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_WRITE, NULL, NULL, 0);
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

#define SIMPLE_FI_OP(fn, code)                                                  \
  static void fn(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {   \
    pending_t *p = begin(req, code, NULL, NULL, 0);                             \
    if (!p) return;                                                             \
    p->ino = ino;                                                               \
    take_fi(p, fi);                                                             \
    enqueue(p->s, p);                                                           \
  }

SIMPLE_FI_OP(ll_flush, OP_FLUSH)
SIMPLE_FI_OP(ll_release, OP_RELEASE)
SIMPLE_FI_OP(ll_releasedir, OP_RELEASEDIR)

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  queue_open(req, OP_OPENDIR, ino, fi);
}

// fsync and fsyncdir: a handle and the datasync flag.
static void queue_fsync(fuse_req_t req, int op, fuse_ino_t ino, int datasync,
                        struct fuse_file_info *fi) {
  pending_t *p = begin(req, op, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  p->flags = datasync;
  enqueue(p->s, p);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  queue_fsync(req, OP_FSYNC, ino, datasync, fi);
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  queue_fsync(req, OP_FSYNCDIR, ino, datasync, fi);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
  queue_read(req, OP_READDIR, ino, size, off, fi);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi) {
  queue_read(req, OP_READDIRPLUS, ino, size, off, fi);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino) {
  pending_t *p = begin(req, OP_STATFS, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  enqueue(p->s, p);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  pending_t *p = begin(req, OP_ACCESS, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  p->flags = mask;
  set_ctx(p, req);
  enqueue(p->s, p);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi) {
  pending_t *p = begin(req, OP_CREATE, name, NULL, EILSEQ);
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
  pending_t *p = begin(req, OP_FALLOCATE, NULL, NULL, 0);
  if (!p) return;
  p->ino = ino;
  take_fi(p, fi);
  p->flags = mode;
  p->off = (uint64_t)offset;
  p->len = (uint64_t)length;
  enqueue(p->s, p);
}

// ---- loop thread ----

static void *loop_main(void *arg) {
  session_t *s = arg;
  tls_session = s;
  pthread_setname_np(pthread_self(), "fuse-loop");  // visible in top -H, /proc/*/task
  int err = 0;
  errno = 0;
  if (fuse_session_mount(s->se, s->mountpoint) != 0) {
    err = errno ? errno : EIO;
  } else {
    s->mounted = 1;
    struct fuse_buf fbuf = {.mem = NULL};
    size_t received_max = 0;
    struct pollfd pfd[2] = {
        {.fd = fuse_session_fd(s->se), .events = POLLIN},
        {.fd = s->wake_fd, .events = POLLIN},
    };
    while (!fuse_session_exited(s->se)) {
      int r = poll(pfd, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (pfd[1].revents) break;  // stop() asked us to end
      int res = fuse_session_receive_buf(s->se, &fbuf);
      if (res == -EINTR || res == -EAGAIN) continue;
      if (res <= 0) {  // 0: unmounted or connection aborted (ENODEV)
        if (res < 0) err = -res;
        break;
      }
      if (fbuf.size > received_max) received_max = fbuf.size;
      fuse_session_process_buf(s->se, &fbuf);
    }
    // The receive buffer held write payloads (plaintext).
    if (fbuf.mem) explicit_bzero(fbuf.mem, received_max);
    free(fbuf.mem);
  }
  // Replies still to come from JS must not report write errors on a dead
  // connection.
  fuse_session_exit(s->se);
  tls_session = NULL;
  pending_t *p = new_pending(s, OP_END, NULL, NULL, NULL);
  if (p) {
    p->u.end.err = err;
    p->u.end.msg = s->last_error[0] ? strdup(s->last_error) : NULL;
    enqueue(s, p);
  }
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return NULL;
}

// ---- JS thread: slots ----

static int slot_alloc(addon_t *a, pending_t *p, double *id) {
  if (a->free_head == NO_SLOT) {
    uint32_t ncap = a->cap ? a->cap * 2 : 256;
    if (ncap > SLOT_SPAN) return -1;
    slot_t *ns = realloc(a->slots, ncap * sizeof(slot_t));
    if (!ns) return -1;
    for (uint32_t i = a->cap; i < ncap; i++) {
      ns[i].p = NULL;
      ns[i].gen = 0;
      ns[i].next = i + 1 < ncap ? i + 1 : NO_SLOT;
    }
    a->free_head = a->cap;
    a->slots = ns;
    a->cap = ncap;
  }
  uint32_t i = a->free_head;
  slot_t *sl = &a->slots[i];
  a->free_head = sl->next;
  sl->p = p;
  sl->gen = (sl->gen + 1) & GEN_MASK;
  p->slot = i;
  *id = (double)sl->gen * SLOT_SPAN + i;
  return 0;
}

static pending_t *slot_take(addon_t *a, double id) {
  if (!(id >= 0 && id < 9007199254740992.0) || id != floor(id)) return NULL;
  uint64_t v = (uint64_t)id;
  uint32_t i = (uint32_t)(v % SLOT_SPAN), g = (uint32_t)(v / SLOT_SPAN);
  if (i >= a->cap) return NULL;
  slot_t *sl = &a->slots[i];
  if (!sl->p || sl->gen != g) return NULL;
  pending_t *p = sl->p;
  sl->p = NULL;
  sl->next = a->free_head;
  a->free_head = i;
  p->slot = NO_SLOT;
  return p;
}

// ---- process-wide list of live sessions ----
// process.exit() and fatal exceptions end the process without tearing the
// environment down, so env cleanup hooks do not run; an atexit handler still
// does, and detaches every mount that is still up (as root) so none is left
// behind as "Transport endpoint is not connected".

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static session_t *live_sessions;

static void live_add(session_t *s) {
  pthread_mutex_lock(&live_lock);
  s->live_next = live_sessions;
  live_sessions = s;
  pthread_mutex_unlock(&live_lock);
}

static void live_remove(session_t *s) {
  pthread_mutex_lock(&live_lock);
  session_t **pp = &live_sessions;
  while (*pp && *pp != s) pp = &(*pp)->live_next;
  if (*pp) *pp = s->live_next;
  pthread_mutex_unlock(&live_lock);
}

static void detach_live_at_exit(void) {
  pthread_mutex_lock(&live_lock);
  for (session_t *s = live_sessions; s; s = s->live_next) {
    if (s->mounted && !s->detached && !s->ended) {
      umount2(s->mountpoint, MNT_DETACH);
      s->detached = 1;
    }
  }
  pthread_mutex_unlock(&live_lock);
}

// ---- JS thread: session end ----

static void session_unlink(session_t *s) {
  session_t **pp = &s->addon->sessions;
  while (*pp && *pp != s) pp = &(*pp)->next;
  if (*pp) *pp = s->next;
}

static void session_free(session_t *s) {
  free(s->mountpoint);
  free(s);
}

static void session_destroy(session_t *s) {
  if (s->destroyed) return;
  s->destroyed = 1;
  if (s->se) fuse_session_destroy(s->se);
  s->se = NULL;
  if (s->conn_opts) free(s->conn_opts);
  s->conn_opts = NULL;
  if (s->wake_fd >= 0) close(s->wake_fd);
  s->wake_fd = -1;
  session_unlink(s);
  live_remove(s);
  if (s->finalized) session_free(s);
}

// A request answered (or dropped): release its hold on the session.
static void finish(pending_t *p) {
  session_t *s = p->s;
  if (p->req) s->outstanding--;
  free_pending(p);
  if (s->ended && s->outstanding == 0) session_destroy(s);
}

static void join_loop(session_t *s) {
  if (s->thread_started && !s->thread_joined) {
    pthread_join(s->thread, NULL);
    s->thread_joined = 1;
  }
}

// The environment is going away with the session still running (process
// exit without unmount): detach the mount so none is left stale (as root),
// end and join the loop. Registered per session, after its threadsafe
// function, so it runs before Node tears that queue down (hooks run in
// reverse order) and the loop thread's last queue calls stay valid.
static void session_env_cleanup(void *arg) {
  session_t *s = arg;
  s->hook_registered = 0;
  if (s->ended) return;
  if (s->mounted && !s->detached) umount2(s->mountpoint, MNT_DETACH);
  if (s->wake_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(s->wake_fd, &one, sizeof one);
    (void)w;
  }
  join_loop(s);
}

static void handle_end(napi_env env, session_t *s) {
  if (s->hook_registered) {
    napi_remove_env_cleanup_hook(env, session_env_cleanup, s);
    s->hook_registered = 0;
  }
  join_loop(s);
  // Unmount if the kernel still has us mounted (the loop was stopped, or it
  // failed); quiet when JS already detached the mount itself.
  tls_quiet = s->detached;
  fuse_session_unmount(s->se);
  tls_quiet = 0;
  s->ended = 1;
}

// ---- JS thread: dispatch ----

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) goto napi_fail;            \
  } while (0)

static napi_value big_u64(napi_env env, uint64_t v) {
  napi_value r;
  napi_create_bigint_uint64(env, v, &r);
  return r;
}
static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}
static napi_value str(napi_env env, const char *s) {
  napi_value r;
  if (!s) {
    napi_get_null(env, &r);
    return r;
  }
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}
static napi_value undef(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}
static napi_value fh_value(napi_env env, pending_t *p) {
  return p->has_fh ? big_u64(env, p->fi.fh) : undef(env);
}
static napi_value ns_value(napi_env env, const struct timespec *ts) {
  napi_value r;
  napi_create_bigint_int64(env, (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec, &r);
  return r;
}

static void set_prop(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

static napi_value conn_info_object(napi_env env, const struct fuse_conn_info *c) {
  napi_value o;
  napi_create_object(env, &o);
  set_prop(env, o, "protoMajor", num(env, c->proto_major));
  set_prop(env, o, "protoMinor", num(env, c->proto_minor));
  set_prop(env, o, "maxWrite", num(env, c->max_write));
  set_prop(env, o, "maxRead", num(env, c->max_read));
  set_prop(env, o, "maxReadahead", num(env, c->max_readahead));
  set_prop(env, o, "maxBackground", num(env, c->max_background));
  set_prop(env, o, "congestionThreshold", num(env, c->congestion_threshold));
  set_prop(env, o, "timeGran", num(env, c->time_gran));
  set_prop(env, o, "capable", num(env, c->capable));
  set_prop(env, o, "want", num(env, c->want));
  return o;
}

static napi_value setattr_object(napi_env env, pending_t *p) {
  napi_value o;
  napi_create_object(env, &o);
  const struct stat *st = &p->u.setattr.st;
  int to_set = p->u.setattr.to_set;
  if (to_set & FUSE_SET_ATTR_MODE) set_prop(env, o, "mode", num(env, st->st_mode & 07777));
  if (to_set & FUSE_SET_ATTR_UID) set_prop(env, o, "uid", num(env, st->st_uid));
  if (to_set & FUSE_SET_ATTR_GID) set_prop(env, o, "gid", num(env, st->st_gid));
  if (to_set & FUSE_SET_ATTR_SIZE) set_prop(env, o, "size", num(env, (double)st->st_size));
  if (to_set & FUSE_SET_ATTR_ATIME) set_prop(env, o, "atimeNs", ns_value(env, &st->st_atim));
  if (to_set & FUSE_SET_ATTR_MTIME) set_prop(env, o, "mtimeNs", ns_value(env, &st->st_mtim));
  if (to_set & FUSE_SET_ATTR_CTIME) set_prop(env, o, "ctimeNs", ns_value(env, &st->st_ctim));
  return o;
}

// Finalizer of a write payload handed to JS; `hint` carries its length (plaintext: zeroed first).
static void free_external(napi_env env, void *data, void *hint) {
  (void)env;
  explicit_bzero(data, (size_t)(uintptr_t)hint);
  free(data);
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  pending_t *p = data;
  session_t *s = p->s;
  if (!env) {  // environment going away: answer and drop
    if (p->op == OP_END) {
      join_loop(s);
      s->ended = 1;
    }
    if (p->req) fuse_reply_err(p->req, EIO);
    free_pending(p);
    return;
  }
  addon_t *a = s->addon;
  napi_value argv[10];
  size_t argc = 2;
  double id = 0;
  if (p->req) {
    if (slot_alloc(a, p, &id) != 0) {
      fuse_reply_err(p->req, ENOMEM);
      free_pending(p);
      return;
    }
    s->outstanding++;
  }
  argv[0] = num(env, p->op);
  argv[1] = num(env, id);
  switch (p->op) {
    case OP_INIT:
      argv[argc++] = conn_info_object(env, &p->u.conn);
      break;
    case OP_END:
      handle_end(env, s);
      argv[argc++] = num(env, p->u.end.err);
      argv[argc++] = str(env, p->u.end.msg);
      break;
    case OP_LOG:
      argv[argc++] = num(env, p->u.log.level);
      argv[argc++] = str(env, p->u.log.msg);
      break;
    case OP_FORGET: {
      // One JS call per inode keeps the JS side simple; forget_multi batches
      // are small.
      napi_value undefined = undef(env), ignored;
      for (size_t i = 0; i < p->u.forgets.count; i++) {
        napi_value fargv[4] = {argv[0], argv[1], big_u64(env, p->u.forgets.items[i].ino),
                               num(env, (double)p->u.forgets.items[i].nlookup)};
        if (napi_call_function(env, undefined, js_cb, 4, fargv, &ignored) != napi_ok) break;
      }
      free_pending(p);
      goto check_exception;
    }
    case OP_LOOKUP:
    case OP_UNLINK:
    case OP_RMDIR:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = str(env, p->name);
      break;
    case OP_GETATTR:
    case OP_RELEASEDIR:
    case OP_FLUSH:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      break;
    case OP_RELEASE:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      argv[argc++] = num(env, p->flags);
      break;
    case OP_SETATTR:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = setattr_object(env, p);
      argv[argc++] = fh_value(env, p);
      break;
    case OP_READLINK:
    case OP_STATFS:
      argv[argc++] = big_u64(env, p->ino);
      break;
    case OP_MKDIR:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = str(env, p->name);
      argv[argc++] = num(env, p->mode);
      argv[argc++] = num(env, p->uid);
      argv[argc++] = num(env, p->gid);
      break;
    case OP_SYMLINK:
      argv[argc++] = str(env, p->name2);  // target
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = str(env, p->name);
      argv[argc++] = num(env, p->uid);
      argv[argc++] = num(env, p->gid);
      break;
    case OP_RENAME:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = str(env, p->name);
      argv[argc++] = big_u64(env, p->ino2);
      argv[argc++] = str(env, p->name2);
      argv[argc++] = num(env, p->flags);
      break;
    case OP_LINK:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = big_u64(env, p->ino2);
      argv[argc++] = str(env, p->name);
      break;
    case OP_OPEN:
    case OP_OPENDIR:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = num(env, p->flags);
      break;
    case OP_READ:
    case OP_READDIR:
    case OP_READDIRPLUS:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      argv[argc++] = num(env, (double)p->off);
      argv[argc++] = num(env, (double)p->size);
      break;
    case OP_WRITE: {
      napi_value buf;
      napi_status st = napi_create_external_buffer(env, p->size, p->data, free_external, (void *)(uintptr_t)p->size, &buf);
      if (st == napi_ok) {
        p->data = NULL;  // owned by the JS buffer now
      } else {
        void *copy;
        CHECK(napi_create_buffer_copy(env, p->size, p->data, &copy, &buf));
      }
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      argv[argc++] = buf;
      argv[argc++] = num(env, (double)p->off);
      break;
    }
    case OP_FSYNC:
    case OP_FSYNCDIR:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      argv[argc++] = num(env, p->flags);
      break;
    case OP_ACCESS:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = num(env, p->flags);
      argv[argc++] = num(env, p->uid);
      argv[argc++] = num(env, p->gid);
      break;
    case OP_CREATE:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = str(env, p->name);
      argv[argc++] = num(env, p->mode);
      argv[argc++] = num(env, p->flags);
      argv[argc++] = num(env, p->uid);
      argv[argc++] = num(env, p->gid);
      break;
    case OP_FALLOCATE:
      argv[argc++] = big_u64(env, p->ino);
      argv[argc++] = fh_value(env, p);
      argv[argc++] = num(env, p->flags);
      argv[argc++] = num(env, (double)p->off);
      argv[argc++] = num(env, (double)p->len);
      break;
    default:
      break;
  }
  {
    // p may be answered (and freed) inside this call: remember what is needed.
    int notification = p->req == NULL;
    uint32_t slot = p->slot;
    uint32_t gen = notification ? 0 : a->slots[slot].gen;
    napi_value undefined = undef(env), ignored;
    napi_status st = napi_call_function(env, undefined, js_cb, argc, argv, &ignored);
    if (notification) {
      free_pending(p);
      if (s->ended && s->outstanding == 0) session_destroy(s);
    } else if (st != napi_ok && a->slots[slot].p != NULL && a->slots[slot].gen == gen) {
      // The dispatcher threw before answering: the kernel must not wait forever.
      pending_t *q = slot_take(a, (double)gen * SLOT_SPAN + slot);
      fuse_reply_err(q->req, EIO);
      finish(q);
    }
  }
check_exception : {
  bool pending_exc = false;
  napi_is_exception_pending(env, &pending_exc);
  if (pending_exc) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}
  return;
napi_fail:
  // Could not even build the arguments: answer EIO and drop the request.
  if (p->req && p->slot != NO_SLOT) {
    slot_take(a, (double)a->slots[p->slot].gen * SLOT_SPAN + p->slot);
    fuse_reply_err(p->req, EIO);
    finish(p);
  } else {
    free_pending(p);
  }
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  // Nothing to free: the session outlives its queue (END is handled before).
  (void)env;
  (void)data;
  (void)hint;
}

// ---- argument helpers ----

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static int get_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless ? 0 : -1;
  }
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    if (!(d >= 0 && d < 18446744073709551616.0)) return -1;
    *out = (uint64_t)d;
    return 0;
  }
  return -1;
}

// Optional numeric property: 0 when missing/undefined.
static int prop_u64(napi_env env, napi_value obj, const char *key, uint64_t *out, int required) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) {
    *out = 0;
    return required ? -1 : 1;
  }
  return get_u64(env, v, out);
}

static int prop_time(napi_env env, napi_value obj, const char *key, struct timespec *ts) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  napi_typeof(env, v, &t);
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
  if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return -1;
  memset(st, 0, sizeof *st);
  uint64_t v;
  if (prop_u64(env, obj, "ino", &v, 1) != 0) return -1;
  st->st_ino = v;
  if (prop_u64(env, obj, "mode", &v, 1) != 0) return -1;
  st->st_mode = (mode_t)v;
  if (prop_u64(env, obj, "nlink", &v, 0) < 0) return -1;
  st->st_nlink = v ? v : 1;
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

static addon_t *get_addon(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static napi_value bool_value(napi_env env, bool b) {
  napi_value r;
  napi_get_boolean(env, b, &r);
  return r;
}

// Takes the request named by argv[0]; NULL (and false to JS) when the id is
// stale, i.e. the request was answered already.
static pending_t *take_request(napi_env env, napi_value idv) {
  double id;
  if (napi_get_value_double(env, idv, &id) != napi_ok) return NULL;
  return slot_take(get_addon(env), id);
}

#define GET_ARGS(n)                                                     \
  size_t argc = n;                                                      \
  napi_value argv[n];                                                   \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)  \
    return NULL;                                                        \
  for (size_t i_ = argc; i_ < n; i_++) argv[i_] = undef(env);

// A reply function's n arguments, and `p`, the request its id (argv[0])
// names; a stale id (the request was answered already) returns false to JS.
#define GET_REPLY_ARGS(n)                        \
  GET_ARGS(n)                                    \
  pending_t *p = take_request(env, argv[0]);     \
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

static double get_double_or(napi_env env, napi_value v, double dflt) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) return dflt;
  double d;
  napi_get_value_double(env, v, &d);
  return d;
}

// replyErr(id, errno): errno 0 answers success for operations without data.
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  int32_t e = EIO;
  napi_get_value_int32(env, argv[1], &e);
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
  napi_typeof(env, attr, &t);
  if (t == napi_null || t == napi_undefined) return 0;  // negative entry: ino 0
  if (read_attr(env, attr, &e->attr) != 0) return -1;
  e->ino = e->attr.st_ino;
  return 0;
}

// replyEntry(id, attr | null, entryTimeout, attrTimeout)
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(4);
  struct fuse_entry_param e;
  if (fill_entry(env, argv[1], argv[2], argv[3], &e) != 0)
    return bad_reply(env, p, "replyEntry: invalid attr");
  fuse_reply_entry(p->req, &e);
  return replied(env, p, true);
}

// replyAttr(id, attr, timeout)
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(3);
  struct stat st;
  if (read_attr(env, argv[1], &st) != 0) return bad_reply(env, p, "replyAttr: invalid attr");
  fuse_reply_attr(p->req, &st, get_double_or(env, argv[2], 1));
  return replied(env, p, true);
}

static int fill_open(napi_env env, pending_t *p, napi_value fhv, napi_value flagsv) {
  uint64_t fh = 0;
  napi_valuetype t;
  napi_typeof(env, fhv, &t);
  if (t != napi_undefined && get_u64(env, fhv, &fh) != 0) return -1;
  uint32_t flags = 0;
  napi_typeof(env, flagsv, &t);
  if (t == napi_number) napi_get_value_uint32(env, flagsv, &flags);
  p->fi.fh = fh;
  p->fi.direct_io = !!(flags & OPEN_DIRECT_IO);
  p->fi.keep_cache = !!(flags & OPEN_KEEP_CACHE);
  p->fi.nonseekable = !!(flags & OPEN_NONSEEKABLE);
  p->fi.cache_readdir = !!(flags & OPEN_CACHE_READDIR);
  p->fi.noflush = !!(flags & OPEN_NOFLUSH);
  return 0;
}

// replyOpen(id, fh, flags)
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(3);
  if (fill_open(env, p, argv[1], argv[2]) != 0) return bad_reply(env, p, "replyOpen: invalid fh");
  // -ENOENT: the opener was interrupted and is gone, and the kernel will never
  // send a release for this handle. JS learns it from the return value.
  return replied(env, p, fuse_reply_open(p->req, &p->fi) != -ENOENT);
}

// replyCreate(id, attr, entryTimeout, attrTimeout, fh, flags)
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(6);
  struct fuse_entry_param e;
  if (fill_entry(env, argv[1], argv[2], argv[3], &e) != 0 || e.ino == 0)
    return bad_reply(env, p, "replyCreate: invalid attr");
  if (fill_open(env, p, argv[4], argv[5]) != 0) return bad_reply(env, p, "replyCreate: invalid fh");
  return replied(env, p, fuse_reply_create(p->req, &e, &p->fi) != -ENOENT);
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
    size_t el = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *len = length * el;
    return 0;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is)
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  return -1;
}

// replyData(id, bytes): read and readlink-free data replies. The kernel copy
// happens inside this call, so the JS buffer may be reused afterwards.
static napi_value js_reply_data(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  void *data = NULL;
  size_t len = 0;
  if (get_bytes(env, argv[1], &data, &len) != 0)
    return bad_reply(env, p, "replyData: expected a Buffer, TypedArray or ArrayBuffer");
  if (p->op == OP_READ && len > p->size) len = p->size;
  fuse_reply_buf(p->req, data, len);
  return replied(env, p, true);
}

// replyWrite(id, count)
static napi_value js_reply_write(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  double count = get_double_or(env, argv[1], -1);
  if (!(count >= 0) || count > (double)p->size)
    return bad_reply(env, p, "replyWrite: count outside 0..size");
  fuse_reply_write(p->req, (size_t)count);
  return replied(env, p, true);
}

// replyReadlink(id, target)
static napi_value js_reply_readlink(napi_env env, napi_callback_info info) {
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
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  uint64_t v;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_object) return bad_reply(env, p, "replyStatfs: expected an object");
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
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    snprintf(msg, sizeof msg, "%s: expected an array", what);
    return bad_reply(env, p, msg);
  }
  uint32_t n;
  napi_get_array_length(env, argv[1], &n);
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
    if (napi_get_element(env, argv[1], i, &ent) != napi_ok) break;
    struct stat st;
    off_t next;
    const char *bad = read_dirent(env, ent, name, &st, &next, (off_t)(p->off + i + 1));
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
  napi_create_uint32(env, i, &r);
  return r;
}

// replyReaddir(id, entries[{name, ino, mode, offset?}]) -> number of entries that fit.
static napi_value js_reply_readdir(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(2);
  return reply_dir(env, p, argv, false);
}

// replyReaddirPlus(id, entries[{name, ino, mode, offset?, attr?}], entryTimeout, attrTimeout)
// -> number of entries that fit.
static napi_value js_reply_readdirplus(napi_env env, napi_callback_info info) {
  GET_REPLY_ARGS(4);
  return reply_dir(env, p, argv, true);
}

// ---- mount / stop / umount ----

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  session_t *s = data;
  s->finalized = 1;
  if (s->destroyed) session_free(s);
}

static int get_string(napi_env env, napi_value v, char **out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  *out = malloc(len + 1);
  if (!*out) return -1;
  napi_get_value_string_utf8(env, v, *out, len + 1, &len);
  return 0;
}

static void set_ops(struct fuse_lowlevel_ops *ops, uint32_t mask) {
  memset(ops, 0, sizeof *ops);
  ops->init = ll_init;
#define HAS(op) (mask & (1u << ((op) - OP_FIRST)))
  if (HAS(OP_LOOKUP)) ops->lookup = ll_lookup;
  if (HAS(OP_FORGET)) {
    ops->forget = ll_forget;
    ops->forget_multi = ll_forget_multi;
  }
  if (HAS(OP_GETATTR)) ops->getattr = ll_getattr;
  if (HAS(OP_SETATTR)) ops->setattr = ll_setattr;
  if (HAS(OP_READLINK)) ops->readlink = ll_readlink;
  if (HAS(OP_MKDIR)) ops->mkdir = ll_mkdir;
  if (HAS(OP_UNLINK)) ops->unlink = ll_unlink;
  if (HAS(OP_RMDIR)) ops->rmdir = ll_rmdir;
  if (HAS(OP_SYMLINK)) ops->symlink = ll_symlink;
  if (HAS(OP_RENAME)) ops->rename = ll_rename;
  ops->mknod = ll_mknod;
  if (HAS(OP_LINK)) ops->link = ll_link;
  if (HAS(OP_OPEN)) ops->open = ll_open;
  if (HAS(OP_READ)) ops->read = ll_read;
  if (HAS(OP_WRITE)) ops->write = ll_write;
  if (HAS(OP_FLUSH)) ops->flush = ll_flush;
  if (HAS(OP_RELEASE)) ops->release = ll_release;
  if (HAS(OP_FSYNC)) ops->fsync = ll_fsync;
  if (HAS(OP_OPENDIR)) ops->opendir = ll_opendir;
  if (HAS(OP_READDIR)) ops->readdir = ll_readdir;
  if (HAS(OP_RELEASEDIR)) ops->releasedir = ll_releasedir;
  if (HAS(OP_FSYNCDIR)) ops->fsyncdir = ll_fsyncdir;
  if (HAS(OP_STATFS)) ops->statfs = ll_statfs;
  if (HAS(OP_ACCESS)) ops->access = ll_access;
  if (HAS(OP_CREATE)) ops->create = ll_create;
  if (HAS(OP_FALLOCATE)) ops->fallocate = ll_fallocate;
  if (HAS(OP_READDIRPLUS)) ops->readdirplus = ll_readdirplus;
#undef HAS
}

static napi_value throw_error(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

// mount(mountpoint, args[], opsMask, dispatch) -> handle
// args are fuse_session_new arguments after argv[0] (e.g. "-o", "ro", "-d").
// Mounting happens on the loop thread; dispatch gets (INIT, 0, connInfo) once
// the kernel handshake is done, or (END, 0, errno, message) if it fails.
static napi_value js_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  addon_t *a = get_addon(env);
  session_t *s = calloc(1, sizeof(session_t));
  if (!s) return throw_error(env, "ENOMEM", "out of memory");
  s->wake_fd = -1;
  s->addon = a;
  if (get_string(env, argv[0], &s->mountpoint) != 0) {
    free(s);
    return throw_type(env, "mount: mountpoint must be a string");
  }
  bool is_array;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    session_free(s);
    return throw_type(env, "mount: args must be an array of strings");
  }
  uint32_t ops_mask = 0;
  napi_get_value_uint32(env, argv[2], &ops_mask);
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t != napi_function) {
    session_free(s);
    return throw_type(env, "mount: dispatch must be a function");
  }

  uint32_t n;
  napi_get_array_length(env, argv[1], &n);
  struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
  fuse_opt_add_arg(&args, "cryptfs");
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    char *arg;
    napi_get_element(env, argv[1], i, &v);
    if (get_string(env, v, &arg) != 0) {
      fuse_opt_free_args(&args);
      session_free(s);
      return throw_type(env, "mount: args must be an array of strings");
    }
    fuse_opt_add_arg(&args, arg);
    free(arg);
  }

  char captured[LOG_MSG_MAX] = "";
  tls_capture = captured;
  tls_capture_len = 0;
  // Connection options (max_write, writeback_cache, max_readahead, ...) are
  // taken out of args here and applied in init; the rest go to the session.
  s->conn_opts = fuse_parse_conn_info_opts(&args);
  struct fuse_lowlevel_ops ops;
  set_ops(&ops, ops_mask);
  s->has_readdirplus = ops.readdirplus != NULL;
  if (s->conn_opts) s->se = fuse_session_new(&args, &ops, sizeof ops, s);
  tls_capture = NULL;
  fuse_opt_free_args(&args);
  if (!s->se) {
    free(s->conn_opts);
    session_free(s);
    char msg[LOG_MSG_MAX + 64];
    snprintf(msg, sizeof msg, "fuse_session_new failed: %s",
             captured[0] ? captured : "invalid arguments");
    return throw_error(env, "EINVAL", msg);
  }

  s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  napi_value name;
  napi_create_string_utf8(env, "cryptfs-fuse", NAPI_AUTO_LENGTH, &name);
  if (s->wake_fd < 0 ||
      napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, s, tsfn_finalize, s, call_js,
                                      &s->tsfn) != napi_ok) {
    if (s->wake_fd >= 0) close(s->wake_fd);
    fuse_session_destroy(s->se);
    free(s->conn_opts);
    session_free(s);
    return throw_error(env, "EIO", "mount: cannot create the request queue");
  }

  // The loop thread takes no signals: Node's handlers run elsewhere, and
  // libfuse's handlers are never installed.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&s->thread, NULL, loop_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    close(s->wake_fd);
    fuse_session_destroy(s->se);
    free(s->conn_opts);
    session_free(s);
    return throw_error(env, "EAGAIN", "mount: cannot start the FUSE thread");
  }
  s->thread_started = 1;
  if (napi_add_env_cleanup_hook(env, session_env_cleanup, s) == napi_ok) s->hook_registered = 1;
  s->next = a->sessions;
  a->sessions = s;
  live_add(s);

  napi_value handle;
  if (napi_create_external(env, s, handle_finalize, NULL, &handle) != napi_ok) return NULL;
  return handle;
}

static session_t *get_session(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  napi_get_value_external(env, v, &data);
  return data;
}

// stop(handle, detached): ends the loop. `detached` says JS already removed
// the mount (so the end of the session does not try again).
static napi_value js_stop(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  session_t *s = get_session(env, argv[0]);
  if (!s) return throw_type(env, "stop: invalid session handle");
  bool detached = false;
  napi_get_value_bool(env, argv[1], &detached);
  if (detached) s->detached = 1;
  if (s->ended || s->wake_fd < 0) return bool_value(env, false);
  uint64_t one = 1;
  ssize_t w = write(s->wake_fd, &one, sizeof one);
  (void)w;
  return bool_value(env, true);
}

// umount(path) -> 0 or errno. Lazy (MNT_DETACH): the kernel drops the mount
// from the namespace now; it never waits on this process.
static napi_value js_umount(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (get_string(env, argv[0], &path) != 0) return throw_type(env, "umount: path must be a string");
  int r = umount2(path, MNT_DETACH);
  int e = r == 0 ? 0 : errno;
  free(path);
  return num(env, e);
}


static void addon_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  addon_t *a = data;
  free(a->slots);
  free(a);
}

static pthread_once_t process_setup_once = PTHREAD_ONCE_INIT;

static void process_setup(void) {
  fuse_set_log_func(log_func);
  atexit(detach_live_at_exit);
}

static napi_value init_module(napi_env env, napi_value exports) {
  pthread_once(&process_setup_once, process_setup);
  addon_t *a = calloc(1, sizeof(addon_t));
  if (!a) return NULL;
  a->free_head = NO_SLOT;
  napi_set_instance_data(env, a, addon_finalize, NULL);

  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
      {"replyErr", NULL, js_reply_err, NULL, NULL, NULL, napi_default, NULL},
      {"replyEntry", NULL, js_reply_entry, NULL, NULL, NULL, napi_default, NULL},
      {"replyAttr", NULL, js_reply_attr, NULL, NULL, NULL, napi_default, NULL},
      {"replyOpen", NULL, js_reply_open, NULL, NULL, NULL, napi_default, NULL},
      {"replyCreate", NULL, js_reply_create, NULL, NULL, NULL, napi_default, NULL},
      {"replyData", NULL, js_reply_data, NULL, NULL, NULL, napi_default, NULL},
      {"replyWrite", NULL, js_reply_write, NULL, NULL, NULL, napi_default, NULL},
      {"replyReadlink", NULL, js_reply_readlink, NULL, NULL, NULL, napi_default, NULL},
      {"replyStatfs", NULL, js_reply_statfs, NULL, NULL, NULL, napi_default, NULL},
      {"replyReaddir", NULL, js_reply_readdir, NULL, NULL, NULL, napi_default, NULL},
      {"replyReaddirPlus", NULL, js_reply_readdirplus, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);

  napi_value codes, flags, v;
  napi_create_object(env, &codes);
  for (size_t i = 0; i < sizeof opcode_names / sizeof opcode_names[0]; i++) {
    napi_create_uint32(env, (uint32_t)opcode_names[i].code, &v);
    napi_set_named_property(env, codes, opcode_names[i].name, v);
  }
  napi_set_named_property(env, exports, "opcodes", codes);
  napi_create_object(env, &flags);
  set_prop(env, flags, "directIo", num(env, OPEN_DIRECT_IO));
  set_prop(env, flags, "keepCache", num(env, OPEN_KEEP_CACHE));
  set_prop(env, flags, "nonSeekable", num(env, OPEN_NONSEEKABLE));
  set_prop(env, flags, "cacheReaddir", num(env, OPEN_CACHE_READDIR));
  set_prop(env, flags, "noFlush", num(env, OPEN_NOFLUSH));
  napi_set_named_property(env, exports, "openFlags", flags);
  napi_value caps;
  napi_create_object(env, &caps);
  set_prop(env, caps, "readdirplus", num(env, FUSE_CAP_READDIRPLUS));
  set_prop(env, caps, "readdirplusAuto", num(env, FUSE_CAP_READDIRPLUS_AUTO));
  napi_set_named_property(env, exports, "capabilities", caps);
  set_prop(env, exports, "opFirst", num(env, OP_FIRST));
  set_prop(env, exports, "fuseVersion", num(env, fuse_version()));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
