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
//
// The parts: this file (sessions, the loop thread, request ids, the queue to
// JS, mount/stop, the module), fuse_requests.c (what each request passes to
// JS), fuse_replies.c (the reply* functions). fuse_ops.h lists the operations.

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
#include <unistd.h>

#include "fuse_internal.h"

static void session_free(session_t *s);
static void session_destroy(session_t *s);

// ---- libfuse log routing ----
// libfuse logs through one process-wide function. Messages from a loop thread
// go to that session's JS side; messages on the JS thread (fuse_session_new
// option errors) are captured so the thrown error can carry them.

static __thread session_t *tls_session;
static __thread char *tls_capture;
static __thread size_t tls_capture_len;
static __thread int tls_quiet;

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
  pending_t *p = new_pending(s, OP_log, NULL, NULL, NULL);
  if (!p) return;
  p->u.log.level = (int)level;
  p->u.log.msg = strdup(msg);
  enqueue(s, p);
}

// libfuse logs right before returning an error whose errno its caller reads.
static void log_func(enum fuse_log_level level, const char *fmt, va_list ap) {
  int saved_errno = errno;
  log_func_inner(level, fmt, ap);
  errno = saved_errno;
}

// ---- pending requests ----

pending_t *new_pending(session_t *s, int op, fuse_req_t req, const char *name,
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

void free_pending(pending_t *p) {
  // Write payloads are plaintext: never hand them back to the allocator readable.
  if (p->data) explicit_bzero(p->data, p->size);
  free(p->data);
  if (p->op == OP_forget) free(p->u.forgets.items);
  if (p->op == OP_end) free(p->u.end.msg);
  if (p->op == OP_log) free(p->u.log.msg);
  free(p);
}

// Hands a pending request to the JS thread. Never blocks.
int enqueue(session_t *s, pending_t *p) {
  napi_status st = napi_call_threadsafe_function(s->tsfn, p, napi_tsfn_nonblocking);
  if (st == napi_ok) return 0;
  if (p->req) fuse_reply_err(p->req, EIO);
  free_pending(p);
  return -1;
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
    atomic_store(&s->mounted, 1);
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
  pending_t *p = new_pending(s, OP_end, NULL, NULL, NULL);
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

pending_t *slot_take(addon_t *a, double id) {
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

addon_t *get_addon(napi_env env) {
  void *data = NULL;
  NAPI_LOG(env, napi_get_instance_data(env, &data));
  return data;
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
    if (atomic_load(&s->mounted) && !atomic_load(&s->detached) && !atomic_load(&s->ended)) {
      umount2(s->mountpoint, MNT_DETACH);
      atomic_store(&s->detached, 1);
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
void finish(pending_t *p) {
  session_t *s = p->s;
  if (p->req) s->outstanding--;
  free_pending(p);
  if (atomic_load(&s->ended) && s->outstanding == 0) session_destroy(s);
}

// A notification delivered (or dropped): the END one may let the session go.
static void finish_notification(pending_t *p) {
  session_t *s = p->s;
  free_pending(p);
  if (atomic_load(&s->ended) && s->outstanding == 0) session_destroy(s);
}

static void join_loop(session_t *s) {
  if (s->thread_started && !s->thread_joined) {
    pthread_join(s->thread, NULL);
    s->thread_joined = 1;
  }
}

static void wake_loop(session_t *s) {
  uint64_t one = 1;
  ssize_t w = write(s->wake_fd, &one, sizeof one);
  (void)w;  // the eventfd cannot be full: one write is enough to wake
}

// The environment is going away with the session still running (process
// exit without unmount): detach the mount so none is left stale (as root),
// end and join the loop. Registered per session, after its threadsafe
// function, so it runs before Node tears that queue down (hooks run in
// reverse order) and the loop thread's last queue calls stay valid.
static void session_env_cleanup(void *arg) {
  session_t *s = arg;
  s->hook_registered = 0;
  if (atomic_load(&s->ended)) return;
  if (atomic_load(&s->mounted) && !atomic_load(&s->detached)) umount2(s->mountpoint, MNT_DETACH);
  if (s->wake_fd >= 0) wake_loop(s);
  join_loop(s);
}

static void handle_end(napi_env env, session_t *s) {
  if (s->hook_registered) {
    NAPI_LOG(env, napi_remove_env_cleanup_hook(env, session_env_cleanup, s));
    s->hook_registered = 0;
  }
  join_loop(s);
  // Unmount if the kernel still has us mounted (the loop was stopped, or it
  // failed); quiet when JS already detached the mount itself.
  tls_quiet = atomic_load(&s->detached);
  fuse_session_unmount(s->se);
  tls_quiet = 0;
  atomic_store(&s->ended, 1);
}

// ---- JS thread: dispatch ----

// An exception the dispatcher left pending is a bug in it: report it the way
// Node reports an uncaught exception.
static void rethrow_pending(napi_env env) {
  bool pending = false;
  NAPI_LOG(env, napi_is_exception_pending(env, &pending));
  if (!pending) return;
  napi_value exc;
  NAPI_LOG(env, napi_get_and_clear_last_exception(env, &exc));
  NAPI_LOG(env, napi_fatal_exception(env, exc));
}

// forget: one JS call (op, 0, ino, nlookup) per inode of the batch.
static void deliver_forgets(napi_env env, napi_value js_cb, pending_t *p) {
  napi_value argv[4], undefined, ignored;
  if (napi_get_undefined(env, &undefined) != napi_ok ||
      napi_create_uint32(env, p->op, &argv[0]) != napi_ok ||
      napi_create_uint32(env, 0, &argv[1]) != napi_ok)
    return;
  for (size_t i = 0; i < p->u.forgets.count; i++) {
    if (napi_create_bigint_uint64(env, p->u.forgets.items[i].ino, &argv[2]) != napi_ok ||
        napi_create_double(env, (double)p->u.forgets.items[i].nlookup, &argv[3]) != napi_ok ||
        napi_call_function(env, undefined, js_cb, 4, argv, &ignored) != napi_ok)
      break;
  }
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  pending_t *p = data;
  session_t *s = p->s;
  if (!env) {  // environment going away: answer and drop
    if (p->op == OP_end) {
      join_loop(s);
      atomic_store(&s->ended, 1);
    }
    if (p->req) fuse_reply_err(p->req, EIO);
    free_pending(p);
    return;
  }
  if (p->op == OP_end) handle_end(env, s);
  if (p->op == OP_forget) {
    deliver_forgets(env, js_cb, p);
    free_pending(p);
    rethrow_pending(env);
    return;
  }
  addon_t *a = s->addon;
  double id = 0;
  if (p->req) {
    if (slot_alloc(a, p, &id) != 0) {
      fuse_reply_err(p->req, ENOMEM);
      free_pending(p);
      return;
    }
    s->outstanding++;
  }
  js_args_t args = {.env = env, .n = 0};
  napi_status st = napi_create_uint32(env, p->op, &args.v[args.n++]);
  if (st == napi_ok) st = napi_create_double(env, id, &args.v[args.n++]);
  if (st == napi_ok) st = marshal_table[p->op](&args, p);
  napi_value undefined, ignored;
  if (st == napi_ok) st = napi_get_undefined(env, &undefined);
  if (st != napi_ok) {
    // Could not even build the arguments: answer EIO and drop the request.
    napi_check_log(env, st, op_names[p->op]);
    if (p->req) {
      slot_take(a, id);
      fuse_reply_err(p->req, EIO);
      finish(p);
    } else {
      finish_notification(p);
    }
    rethrow_pending(env);
    return;
  }
  // p may be answered (and freed) inside this call: remember what is needed.
  int notification = p->req == NULL;
  uint32_t slot = p->slot;
  uint32_t gen = notification ? 0 : a->slots[slot].gen;
  st = napi_call_function(env, undefined, js_cb, args.n, args.v, &ignored);
  if (notification) {
    finish_notification(p);
  } else if (st != napi_ok && a->slots[slot].p != NULL && a->slots[slot].gen == gen) {
    // The dispatcher threw before answering: the kernel must not wait forever.
    pending_t *q = slot_take(a, (double)gen * SLOT_SPAN + slot);
    fuse_reply_err(q->req, EIO);
    finish(q);
  }
  rethrow_pending(env);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  // Nothing to free: the session outlives its queue (END is handled before).
  (void)env;
  (void)data;
  (void)hint;
}

// ---- mount / stop / umount ----

#define GET_ARGS(n)                                                        \
  size_t argc = n;                                                         \
  napi_value argv[n];                                                      \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));    \
  for (size_t i_ = argc; i_ < n; i_++) NAPI_CALL(env, napi_get_undefined(env, &argv[i_]));

static napi_value bool_value(napi_env env, bool b) {
  napi_value r;
  NAPI_CALL(env, napi_get_boolean(env, b, &r));
  return r;
}

static napi_value throw_error(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

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
  if (napi_get_value_string_utf8(env, v, *out, len + 1, &len) != napi_ok) {
    free(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

// A JS array of strings: calls `each` with every element; -1 when v is not
// such an array (or `each` refuses an element).
static int each_string(napi_env env, napi_value v, int (*each)(const char *, void *), void *ctx) {
  bool is_array;
  uint32_t n;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, v, &n) != napi_ok)
    return -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    char *str;
    if (napi_get_element(env, v, i, &el) != napi_ok || get_string(env, el, &str) != 0) return -1;
    int r = each(str, ctx);
    free(str);
    if (r != 0) return -1;
  }
  return 0;
}

static int add_fuse_arg(const char *arg, void *ctx) {
  return fuse_opt_add_arg(ctx, arg) == 0 ? 0 : -1;
}

// A request name JS implements. A notification name is ignored (a filesystem
// object may well have a `log` method); an unknown name is refused.
static int mark_implemented(const char *name, void *ctx) {
  bool *implemented = ctx;
  for (int op = 0; op < OP_COUNT; op++) {
    if (strcmp(op_names[op], name) == 0) {
      if (op >= OP_FIRST_REQUEST) implemented[op] = true;
      return 0;
    }
  }
  return -1;
}

// mount(mountpoint, args[], implemented[], dispatch) -> handle
// args are fuse_session_new arguments after argv[0] (e.g. "-o", "ro", "-d");
// implemented names the requests JS handles (the others answer ENOSYS inside
// libfuse). Mounting happens on the loop thread; dispatch gets (init, 0,
// connInfo) once the kernel handshake is done, or (end, 0, errno, message) if
// it fails.
static napi_value js_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  addon_t *a = get_addon(env);
  if (!a) return throw_error(env, "EIO", "mount: the addon's instance data is missing");
  session_t *s = calloc(1, sizeof(session_t));
  if (!s) return throw_error(env, "ENOMEM", "out of memory");
  s->wake_fd = -1;
  s->addon = a;
  if (get_string(env, argv[0], &s->mountpoint) != 0) {
    free(s);
    return throw_type(env, "mount: mountpoint must be a string");
  }
  bool implemented[OP_COUNT] = {false};
  if (each_string(env, argv[2], mark_implemented, implemented) != 0) {
    session_free(s);
    return throw_type(env, "mount: implemented must be an array of operation names");
  }
  napi_valuetype t;
  if (napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function) {
    session_free(s);
    return throw_type(env, "mount: dispatch must be a function");
  }

  struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
  if (fuse_opt_add_arg(&args, "cryptfs") != 0 || each_string(env, argv[1], add_fuse_arg, &args) != 0) {
    fuse_opt_free_args(&args);
    session_free(s);
    return throw_type(env, "mount: args must be an array of strings");
  }

  char captured[LOG_MSG_MAX] = "";
  tls_capture = captured;
  tls_capture_len = 0;
  // Connection options (max_write, writeback_cache, max_readahead, ...) are
  // taken out of args here and applied in init; the rest go to the session.
  s->conn_opts = fuse_parse_conn_info_opts(&args);
  struct fuse_lowlevel_ops ops;
  set_ops(&ops, implemented);
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
  if (s->wake_fd < 0 ||
      napi_create_string_utf8(env, "cryptfs-fuse", NAPI_AUTO_LENGTH, &name) != napi_ok ||
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
  // Without the hook a process exit leaves the loop running: logged, not fatal
  // (the atexit handler still detaches the mount).
  if (napi_add_env_cleanup_hook(env, session_env_cleanup, s) == napi_ok) s->hook_registered = 1;
  else napi_check_log(env, napi_generic_failure, "napi_add_env_cleanup_hook");
  s->next = a->sessions;
  a->sessions = s;
  live_add(s);

  // The session runs from here on; a handle that cannot be made leaves it to
  // stop when unmounted from outside.
  napi_value handle;
  NAPI_CALL(env, napi_create_external(env, s, handle_finalize, NULL, &handle));
  return handle;
}

static session_t *get_session(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &data) != napi_ok)
    return NULL;
  return data;
}

// stop(handle, detached): ends the loop. `detached` says JS already removed
// the mount (so the end of the session does not try again).
static napi_value js_stop(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  session_t *s = get_session(env, argv[0]);
  if (!s) return throw_type(env, "stop: invalid session handle");
  bool detached = false;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &detached));
  if (detached) atomic_store(&s->detached, 1);
  if (atomic_load(&s->ended) || s->wake_fd < 0) return bool_value(env, false);
  wake_loop(s);
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
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, e, &result));
  return result;
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

static napi_status set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  NAPI_TRY(napi_create_double(env, v, &n));
  return napi_set_named_property(env, obj, key, n);
}

static napi_value init_module(napi_env env, napi_value exports) {
  pthread_once(&process_setup_once, process_setup);
  addon_t *a = calloc(1, sizeof(addon_t));
  if (!a) return throw_error(env, "ENOMEM", "out of memory");
  a->free_head = NO_SLOT;
  if (napi_set_instance_data(env, a, addon_finalize, NULL) != napi_ok) {
    free(a);
    return throw_error(env, "EIO", "cannot set the addon's instance data");
  }

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
  napi_property_descriptor props[] = {
      FN("mount", js_mount),
      FN("stop", js_stop),
      FN("umount", js_umount),
      FN("replyErr", js_reply_err),
      FN("replyEntry", js_reply_entry),
      FN("replyAttr", js_reply_attr),
      FN("replyOpen", js_reply_open),
      FN("replyCreate", js_reply_create),
      FN("replyData", js_reply_data),
      FN("replyWrite", js_reply_write),
      FN("replyReadlink", js_reply_readlink),
      FN("replyStatfs", js_reply_statfs),
      FN("replyReaddir", js_reply_readdir),
      FN("replyReaddirPlus", js_reply_readdirplus),
  };
#undef FN
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));

  // ops[opcode] = name: the only list of operations JS sees.
  napi_value names, v;
  NAPI_CALL(env, napi_create_array_with_length(env, OP_COUNT, &names));
  for (uint32_t op = 0; op < OP_COUNT; op++) {
    NAPI_CALL(env, napi_create_string_utf8(env, op_names[op], NAPI_AUTO_LENGTH, &v));
    NAPI_CALL(env, napi_set_element(env, names, op, v));
  }
  NAPI_CALL(env, napi_set_named_property(env, exports, "ops", names));

  napi_value flags;
  NAPI_CALL(env, napi_create_object(env, &flags));
  NAPI_CALL(env, set_number(env, flags, "directIo", OPEN_DIRECT_IO));
  NAPI_CALL(env, set_number(env, flags, "keepCache", OPEN_KEEP_CACHE));
  NAPI_CALL(env, set_number(env, flags, "nonSeekable", OPEN_NONSEEKABLE));
  NAPI_CALL(env, set_number(env, flags, "cacheReaddir", OPEN_CACHE_READDIR));
  NAPI_CALL(env, set_number(env, flags, "noFlush", OPEN_NOFLUSH));
  NAPI_CALL(env, napi_set_named_property(env, exports, "openFlags", flags));
  napi_value caps;
  NAPI_CALL(env, napi_create_object(env, &caps));
  NAPI_CALL(env, set_number(env, caps, "readdirplus", FUSE_CAP_READDIRPLUS));
  NAPI_CALL(env, set_number(env, caps, "readdirplusAuto", FUSE_CAP_READDIRPLUS_AUTO));
  NAPI_CALL(env, napi_set_named_property(env, exports, "capabilities", caps));
  NAPI_CALL(env, set_number(env, exports, "fuseVersion", fuse_version()));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
