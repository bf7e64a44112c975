// Types and functions shared by the parts of the FUSE binding:
//   fuse_binding.c   sessions, the loop thread, request ids, the queue to JS, mount/stop
//   fuse_requests.c  the loop thread's entry points (ll_*) and the per-op marshalling to JS
//   fuse_replies.c   the reply* functions JS answers with
#ifndef CRYPTFS_FUSE_INTERNAL_H
#define CRYPTFS_FUSE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>
#include <node_api.h>

#include "fuse_ops.h"
#include "napi_check.h"

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
#define MAX_JS_ARGS 8          // most arguments a request passes to JS after (op, id)

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
  uint64_t rdev;        // mknod: the device number
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
  // Read by the atexit handler, which may run on any thread: atomics.
  atomic_int mounted;      // set by the loop thread once mount(2) succeeded
  atomic_int detached;     // the mount was removed already (JS, env cleanup or atexit)
  atomic_int ended;        // END handled on the JS thread
  int destroyed;           // fuse_session destroyed
  int finalized;           // the JS handle was collected
  int hook_registered;     // env cleanup hook in place
  uint32_t outstanding;    // requests dispatched to JS and not yet answered
  int has_readdirplus;     // JS implements readdirplus (set before the loop starts)
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

// Arguments of one JS call, after (op, id).
typedef struct {
  napi_env env;
  size_t n;
  napi_value v[2 + MAX_JS_ARGS];
} js_args_t;

// Puts a request's own arguments into `out`; may take ownership of p->data.
typedef napi_status (*marshal_fn)(js_args_t *out, pending_t *p);

// fuse_binding.c
pending_t *new_pending(session_t *s, int op, fuse_req_t req, const char *name, const char *name2);
void free_pending(pending_t *p);
int enqueue(session_t *s, pending_t *p);
void finish(pending_t *p);
pending_t *slot_take(addon_t *a, double id);
addon_t *get_addon(napi_env env);

// fuse_requests.c
extern const char *const op_names[OP_COUNT];
extern const marshal_fn marshal_table[OP_COUNT];
void set_ops(struct fuse_lowlevel_ops *ops, const bool implemented[OP_COUNT]);

// fuse_replies.c
napi_value js_reply_err(napi_env env, napi_callback_info info);
napi_value js_reply_entry(napi_env env, napi_callback_info info);
napi_value js_reply_attr(napi_env env, napi_callback_info info);
napi_value js_reply_open(napi_env env, napi_callback_info info);
napi_value js_reply_create(napi_env env, napi_callback_info info);
napi_value js_reply_data(napi_env env, napi_callback_info info);
napi_value js_reply_write(napi_env env, napi_callback_info info);
napi_value js_reply_readlink(napi_env env, napi_callback_info info);
napi_value js_reply_statfs(napi_env env, napi_callback_info info);
napi_value js_reply_readdir(napi_env env, napi_callback_info info);
napi_value js_reply_readdirplus(napi_env env, napi_callback_info info);
napi_value throw_type(napi_env env, const char *msg);

#endif
