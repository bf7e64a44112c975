// Hashing off the event loop on two plain threads of our own (hash-worker.ts says why two and what
// goes where). They were Node worker threads: each is a whole JavaScript engine instance, ~9 MiB
// before any work, and a copy to crypt over Swift peaked at 125 MiB with them against 85 MiB
// hashing inline. These threads call OpenSSL's digests, which Node exports to addons.
//
// hashSend(thread, op, id, arg): op 0 starts job `id` (arg: algorithm names), 1 hashes a copy of
// arg (a Uint8Array; copied before the call returns), 2 ends the job, 3 drops it. Each thread
// takes its tasks in order. Events come back through the callback given to hashInit:
// (thread, 'ack', id, bytes) once a chunk is hashed, (thread, 'digest', id, hex[]) once ended.
// A thread keeps the process alive only while it has jobs whose digests have not come back.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include <openssl/evp.h>

#include "napi_check.h"
#include "fs_native.h"

#define THREADS 2
#define MAX_ALGORITHMS 3
// Chunk copies kept for reuse per thread: as many as its in-flight bound lets circulate.
#define SPARE_MAX 6

enum { OP_START = 0, OP_DATA = 1, OP_END = 2, OP_ABORT = 3 };

struct event;

typedef struct task {
  struct task *next;
  int op;
  uint32_t id;
  int count;  // OP_START: algorithms
  const EVP_MD *md[MAX_ALGORITHMS];
  uint8_t *data;  // OP_DATA: the copy, `len` bytes in a buffer of `cap`
  size_t len, cap;
  // OP_DATA and OP_END: the event the thread reports, allocated by hashSend (where running out of
  // memory can be thrown to the sender) so that an ack or digest is never lost to a failed
  // allocation on the thread, which would leave its sender waiting for good.
  struct event *event;
} task_t;

typedef struct job {
  struct job *next;
  uint32_t id;
  int count;
  EVP_MD_CTX *ctx[MAX_ALGORITHMS];
} job_t;

// What a thread reports back to the event loop.
typedef struct event {
  int thread;
  int digest;  // 0: ack of `bytes`; 1: the job's digests in hex
  uint32_t id;
  double bytes;
  int count;
  char hex[MAX_ALGORITHMS][EVP_MAX_MD_SIZE * 2 + 1];
} event_t;

typedef struct {
  int index;
  int running;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  task_t *head, *tail;
  // Spare chunk buffers (under mu).
  task_t *spare;
  int spare_count;
  napi_threadsafe_function tsfn;
  int jobs;  // live jobs (event loop only), for ref/unref
  int closing;  // the environment is going away (under mu)
} hash_thread_t;

static hash_thread_t threads[THREADS];
static napi_ref callback_ref;
static int initialized;

void to_hex(const unsigned char *md, unsigned len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < len; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  out[2 * len] = 0;
}

static void free_job(job_t *job) {
  for (int i = 0; i < job->count; i++) EVP_MD_CTX_free(job->ctx[i]);
  free(job);
}

static job_t *take_job(job_t **jobs, uint32_t id) {
  for (job_t **at = jobs; *at; at = &(*at)->next) {
    if ((*at)->id == id) {
      job_t *job = *at;
      *at = job->next;
      return job;
    }
  }
  return NULL;
}

static job_t *find_job(job_t *jobs, uint32_t id) {
  for (; jobs; jobs = jobs->next)
    if (jobs->id == id) return jobs;
  return NULL;
}

static void report(hash_thread_t *t, event_t *ev) {
  // Under mu, which the environment's teardown takes to set `closing` before it frees the
  // function (a process exiting mid-hash). Blocking: the queue is unbounded, so it never waits.
  pthread_mutex_lock(&t->mu);
  int sent = !t->closing && napi_call_threadsafe_function(t->tsfn, ev, napi_tsfn_blocking) == napi_ok;
  pthread_mutex_unlock(&t->mu);
  if (!sent) free(ev);
}

// Environment teardown (process exit): no more events from this thread.
static void stop_reporting(void *arg) {
  hash_thread_t *t = arg;
  pthread_mutex_lock(&t->mu);
  t->closing = 1;
  pthread_mutex_unlock(&t->mu);
}

static void *thread_main(void *arg) {
  hash_thread_t *t = arg;
  job_t *jobs = NULL;  // this thread's own
  for (;;) {
    pthread_mutex_lock(&t->mu);
    while (!t->head) pthread_cond_wait(&t->cv, &t->mu);
    task_t *task = t->head;
    t->head = task->next;
    if (!t->head) t->tail = NULL;
    pthread_mutex_unlock(&t->mu);

    if (task->op == OP_START) {
      job_t *job = calloc(1, sizeof *job);
      if (job) {
        job->id = task->id;
        for (int i = 0; i < task->count; i++) {
          job->ctx[i] = EVP_MD_CTX_new();
          if (!job->ctx[i] || EVP_DigestInit_ex(job->ctx[i], task->md[i], NULL) != 1) {
            if (job->ctx[i]) EVP_MD_CTX_free(job->ctx[i]);
            job->ctx[i] = NULL;
            break;
          }
          job->count = i + 1;
        }
        job->next = jobs;
        jobs = job;
      }
    } else if (task->op == OP_DATA) {
      job_t *job = find_job(jobs, task->id);
      if (job)
        for (int i = 0; i < job->count; i++) EVP_DigestUpdate(job->ctx[i], task->data, task->len);
      event_t *ev = task->event;
      task->event = NULL;
      ev->thread = t->index;
      ev->id = task->id;
      ev->bytes = (double)task->len;
      report(t, ev);
    } else {
      job_t *job = take_job(&jobs, task->id);
      if (task->op == OP_END) {
        // A job that could not start (no memory on this thread) reports no digest: its sender fails.
        event_t *ev = task->event;
        task->event = NULL;
        ev->thread = t->index;
        ev->digest = 1;
        ev->id = task->id;
        for (int i = 0; job && i < job->count; i++) {
          unsigned char md[EVP_MAX_MD_SIZE];
          unsigned len = 0;
          if (EVP_DigestFinal_ex(job->ctx[i], md, &len) != 1) break;
          to_hex(md, len, ev->hex[i]);
          ev->count = i + 1;
        }
        report(t, ev);
      }
      if (job) free_job(job);
    }

    // A chunk's buffer is kept for the next copy, up to SPARE_MAX.
    pthread_mutex_lock(&t->mu);
    if (task->op == OP_DATA && t->spare_count < SPARE_MAX) {
      task->next = t->spare;
      t->spare = task;
      t->spare_count++;
      task = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    if (task) {
      // Plaintext: zeroed before it goes back to the allocator, as the FUSE addon does.
      if (task->data) explicit_bzero(task->data, task->cap);
      free(task->data);
      free(task);
    }
  }
  return NULL;
}

// On the event loop: hands an event to the JS callback.
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  event_t *ev = data;
  if (env && callback_ref) {
    napi_value cb, global, argv[4];
    if (napi_get_reference_value(env, callback_ref, &cb) == napi_ok && cb && napi_get_global(env, &global) == napi_ok &&
        napi_create_int32(env, ev->thread, &argv[0]) == napi_ok &&
        napi_create_string_utf8(env, ev->digest ? "digest" : "ack", NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
        napi_create_uint32(env, ev->id, &argv[2]) == napi_ok) {
      int ok = 1;
      if (ev->digest) {
        ok = napi_create_array_with_length(env, (size_t)ev->count, &argv[3]) == napi_ok;
        for (int i = 0; ok && i < ev->count; i++) {
          napi_value s;
          ok = napi_create_string_utf8(env, ev->hex[i], NAPI_AUTO_LENGTH, &s) == napi_ok && napi_set_element(env, argv[3], (uint32_t)i, s) == napi_ok;
        }
      } else {
        ok = napi_create_double(env, ev->bytes, &argv[3]) == napi_ok;
      }
      // An exception thrown by the callback surfaces as Node's uncaught exception.
      if (ok) napi_call_function(env, global, cb, 4, argv, NULL);
    }
  }
  if (ev->digest) {
    // The job's last event: the thread keeps the process alive until then.
    hash_thread_t *t = &threads[ev->thread];
    if (env && t->jobs > 0 && --t->jobs == 0) napi_unref_threadsafe_function(env, t->tsfn);
  }
  free(ev);
}

static int start_thread(napi_env env, hash_thread_t *t) {
  if (t->running) return 0;
  napi_value name;
  if (napi_create_string_utf8(env, "cryptfs:hash", NAPI_AUTO_LENGTH, &name) != napi_ok) return -1;
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, call_js, &t->tsfn) != napi_ok) return -1;
  // Idle: the process may exit.
  napi_unref_threadsafe_function(env, t->tsfn);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  // Added after the function: teardown runs hooks newest first, so this one before its release.
  if (napi_add_env_cleanup_hook(env, stop_reporting, t) != napi_ok) {
    napi_release_threadsafe_function(t->tsfn, napi_tsfn_abort);
    return -1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&t->thread, &attr, thread_main, t);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_release_threadsafe_function(t->tsfn, napi_tsfn_abort);
    return -1;
  }
  t->running = 1;
  return 0;
}

static void enqueue(hash_thread_t *t, task_t *task) {
  pthread_mutex_lock(&t->mu);
  task->next = NULL;
  if (t->tail) t->tail->next = task;
  else t->head = task;
  t->tail = task;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

const EVP_MD *digest_named(const char *name) {
  if (strcmp(name, "md5") == 0) return EVP_md5();
  if (strcmp(name, "sha1") == 0) return EVP_sha1();
  if (strcmp(name, "sha256") == 0) return EVP_sha256();
  return NULL;
}

// hashInit(callback): where events go; once per process.
static napi_value hash_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "hashInit(callback) needs a function");
    return NULL;
  }
  if (initialized) {
    napi_throw_error(env, NULL, "hashInit: already initialised in this process");
    return NULL;
  }
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &callback_ref));
  for (int i = 0; i < THREADS; i++) threads[i].index = i;
  initialized = 1;
  return NULL;
}

// hashSend(thread, op, id, arg)
static napi_value hash_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t index = -1, op = -1;
  uint32_t id = 0;
  if (!initialized || argc < 3 || napi_get_value_int32(env, argv[0], &index) != napi_ok || index < 0 || index >= THREADS ||
      napi_get_value_int32(env, argv[1], &op) != napi_ok || op < OP_START || op > OP_ABORT ||
      napi_get_value_uint32(env, argv[2], &id) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashSend(thread, op, id, arg) after hashInit");
    return NULL;
  }
  hash_thread_t *t = &threads[index];
  // A thread never started has no job: nothing to send it.
  if (op != OP_START && !t->running) return NULL;
  event_t *event = NULL;
  if (op == OP_DATA || op == OP_END) {
    event = calloc(1, sizeof *event);
    if (!event) {
      napi_throw_error(env, "ENOMEM", "hashSend: out of memory");
      return NULL;
    }
  }
  task_t *task = NULL;
  if (op == OP_DATA) {
    void *p = NULL;
    size_t len = 0;
    napi_typedarray_type ta;
    bool is_typed = false;
    if (argc < 4 || napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env, argv[3], &ta, &len, &p, NULL, NULL) != napi_ok || ta != napi_uint8_array) {
      free(event);
      napi_throw_type_error(env, NULL, "hashSend: data must be a Uint8Array");
      return NULL;
    }
    pthread_mutex_lock(&t->mu);
    if (t->spare && t->spare->cap >= len) {
      task = t->spare;
      t->spare = task->next;
      t->spare_count--;
    }
    pthread_mutex_unlock(&t->mu);
    if (!task) {
      task = calloc(1, sizeof *task);
      if (task) {
        task->cap = len > 1024 * 1024 ? len : 1024 * 1024;
        task->data = malloc(task->cap);
        if (!task->data) {
          free(task);
          task = NULL;
        }
      }
    }
    if (!task) {
      free(event);
      napi_throw_error(env, "ENOMEM", "hashSend: out of memory");
      return NULL;
    }
    if (len) memcpy(task->data, p, len);
    task->len = len;
  } else {
    task = calloc(1, sizeof *task);
    if (!task) {
      free(event);
      napi_throw_error(env, "ENOMEM", "hashSend: out of memory");
      return NULL;
    }
  }
  task->op = op;
  task->id = id;
  task->event = event;
  if (op == OP_START) {
    bool is_array = false;
    uint32_t n = 0;
    const char *bad = NULL;
    if (argc < 4 || napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[3], &n) != napi_ok ||
        n == 0 || n > MAX_ALGORITHMS)
      bad = "hashSend: algorithms must be an array of 1 to 3 names";
    for (uint32_t i = 0; !bad && i < n; i++) {
      napi_value v;
      char name[16];
      size_t got = 0;
      if (napi_get_element(env, argv[3], i, &v) != napi_ok || napi_get_value_string_utf8(env, v, name, sizeof name, &got) != napi_ok ||
          !(task->md[i] = digest_named(name)))
        bad = "hashSend: algorithms are md5, sha1 and sha256";
    }
    if (bad) {
      free(task);
      napi_throw_type_error(env, NULL, bad);
      return NULL;
    }
    task->count = (int)n;
    if (start_thread(env, t) != 0) {
      free(task);
      napi_throw_error(env, NULL, "hashSend: could not start a hash thread");
      return NULL;
    }
    // Referenced while it has jobs: their events must come.
    if (t->jobs++ == 0) napi_ref_threadsafe_function(env, t->tsfn);
  } else if (op == OP_ABORT) {
    // No event follows (acks still on their way are harmless).
    if (t->jobs > 0 && --t->jobs == 0) napi_unref_threadsafe_function(env, t->tsfn);
  }
  enqueue(t, task);
  return NULL;
}

napi_status register_hash_threads(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      // Writable, as properties set on an object usually are (a test stands in for hashSend).
      {"hashInit", NULL, hash_init, NULL, NULL, NULL, napi_writable | napi_configurable, NULL},
      {"hashSend", NULL, hash_send, NULL, NULL, NULL, napi_writable | napi_configurable, NULL},
  };
  return napi_define_properties(env, exports, 2, props);
}
