// sd_notify for `cryptfs mount` under systemd (Type=notify): one datagram to
// $NOTIFY_SOCKET. Node has no AF_UNIX datagram sockets, and the message must
// come from the service's own process (NotifyAccess=main), so a child such as
// systemd-notify won't do.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>
#include "napi_check.h"

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  NAPI_CALL(env, napi_throw_error(env, NULL, msg));
  return NULL;
}

// notify(socketPath: string, message: string): sends `message` as one datagram.
// A path starting with '@' names an abstract socket, as systemd writes it.
static napi_value notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "notify(socketPath, message) needs two arguments");
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t path_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &path_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "socketPath must be a string");
    return NULL;
  }
  if (path_len == 0 || path_len >= sizeof addr.sun_path - 1) {
    napi_throw_range_error(env, NULL, "socketPath is empty or too long");
    return NULL;
  }
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  char message[4096];
  size_t message_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], message, sizeof message, &message_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "message must be a string");
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  ssize_t sent = sendto(fd, message, message_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  int err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, err, "sendto $NOTIFY_SOCKET");
  napi_value ok;
  NAPI_CALL(env, napi_get_boolean(env, (size_t)sent == message_len, &ok));
  return ok;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  NAPI_CALL(env, napi_create_function(env, "notify", NAPI_AUTO_LENGTH, notify, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, exports, "notify", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
