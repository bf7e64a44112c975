// Checked N-API calls. Every napi_* call in the addons goes through one of
// these, so a failure is never silently ignored:
//   NAPI_CALL(env, call)  in functions that return a napi_value to JS: throws
//                         (unless an exception is already pending) and returns NULL.
//   NAPI_TRY(call)        in helpers that return napi_status: passes the failure up.
//   NAPI_LOG(env, call)   where nobody can be thrown at (finalizers, the queue's
//                         callback after JS returned): prints it to stderr.
#ifndef CRYPTFS_NAPI_CHECK_H
#define CRYPTFS_NAPI_CHECK_H

#include <stdio.h>
#include <node_api.h>

// Throws an Error naming the failed call (the status's message from N-API),
// unless JS already has an exception pending (that one is more telling).
static inline void napi_check_throw(napi_env env, napi_status status, const char *call) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  char msg[256];
  snprintf(msg, sizeof msg, "N-API call failed (status %d: %s): %s", (int)status,
           info && info->error_message ? info->error_message : "unknown", call);
  napi_throw_error(env, "ERR_NAPI_CALL", msg);
}

static inline void napi_check_log(napi_env env, napi_status status, const char *call) {
  const napi_extended_error_info *info = NULL;
  if (env) napi_get_last_error_info(env, &info);
  fprintf(stderr, "cryptfs native: N-API call failed (status %d: %s): %s\n", (int)status,
          info && info->error_message ? info->error_message : "unknown", call);
}

#define NAPI_CALL(env, call)                             \
  do {                                                   \
    napi_status napi_st_ = (call);                       \
    if (napi_st_ != napi_ok) {                           \
      napi_check_throw((env), napi_st_, #call);          \
      return NULL;                                       \
    }                                                    \
  } while (0)

#define NAPI_TRY(call)                                   \
  do {                                                   \
    napi_status napi_st_ = (call);                       \
    if (napi_st_ != napi_ok) return napi_st_;            \
  } while (0)

#define NAPI_LOG(env, call)                              \
  do {                                                   \
    napi_status napi_st_ = (call);                       \
    if (napi_st_ != napi_ok) napi_check_log((env), napi_st_, #call); \
  } while (0)

// A promise for a job on libuv's thread pool: `execute` runs there, `complete` (which settles
// *deferred and deletes *work) back on the JS thread. On failure nothing is queued and the caller
// frees `data` (a promise made before the failure is never settled: nobody holds it).
static inline napi_status queue_promise_job(napi_env env, const char *resource_name, napi_async_execute_callback execute,
                                            napi_async_complete_callback complete, void *data, napi_deferred *deferred,
                                            napi_async_work *work, napi_value *promise) {
  napi_value name = NULL;
  NAPI_TRY(napi_create_promise(env, deferred, promise));
  NAPI_TRY(napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name));
  NAPI_TRY(napi_create_async_work(env, NULL, name, execute, complete, data, work));
  napi_status status = napi_queue_async_work(env, *work);
  if (status != napi_ok) napi_delete_async_work(env, *work);
  return status;
}

#endif
