#!/usr/bin/env bash
# A real OpenStack Swift all-in-one on 127.0.0.1 for the integration tests: one proxy with
# tempauth + s3api (so it answers Swift auth v1 and S3), account/container/object servers,
# one replica, no replicators/auditors/updaters, and its own memcached (tempauth keeps tokens there).
#
# Usage: scripts/objstore-server.sh start|stop|status|env|clean
#   start   installs the Debian packages when missing, starts everything, waits for a real auth
#           round trip, prints `export` lines (also written to $STATE/env). Already running: prints env.
#   stop    kills exactly the pids in the pid files, unmounts the storage it mounted.
#   status  exit 0 when every process runs and auth works, 3 otherwise.
#   env     prints the export lines of a running server.
#   clean   stop, then remove the state dir (stored objects included).
# Environment:
#   CRYPTFS_OBJSTORE_DIR      state dir (default /tmp/cryptfs-objstore)
#   CRYPTFS_OBJSTORE_PORT     proxy port (default 18080); object/container/account/memcached use PORT+10..13
#   CRYPTFS_OBJSTORE_STORAGE  auto|loop|tmpfs|dir (default auto: loop-mounted ext4 image, else tmpfs, else dir)
#   CRYPTFS_OBJSTORE_SIZE     size of the loop image or tmpfs (default 8G)
set -euo pipefail

STATE=${CRYPTFS_OBJSTORE_DIR:-/tmp/cryptfs-objstore}
PORT=${CRYPTFS_OBJSTORE_PORT:-18080}
STORAGE_MODE=${CRYPTFS_OBJSTORE_STORAGE:-auto}
STORAGE_SIZE=${CRYPTFS_OBJSTORE_SIZE:-8G}
OBJECT_PORT=$((PORT + 10))
CONTAINER_PORT=$((PORT + 11))
ACCOUNT_PORT=$((PORT + 12))
MEMCACHED_PORT=$((PORT + 13))
ACCOUNT=test
USERNAME=tester
KEY=testing
REGION=us-east-1
TEMPLATES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/objstore
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log
DEVICES=$STATE/srv
DEVICE=$DEVICES/d1
SERVERS=(account container object proxy)
PACKAGES=(swift swift-proxy swift-account swift-container swift-object memcached curl)
AUTH_URL=http://127.0.0.1:$PORT/auth/v1.0
STORAGE_URL=http://127.0.0.1:$PORT/v1/AUTH_$ACCOUNT

say() { echo "objstore: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
now_ms() { date +%s%3N; }

# ---- processes ----

proc_gone() { # pid -> 0 when it has exited (zombies count: the reaper may be slow to collect them)
  local state
  [[ -r /proc/$1/stat ]] || return 0
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ $state == Z || $state == X ]]
}

pid_alive() { # pidfile -> 0 when the pid in it runs the expected program
  local file=$1 pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  proc_gone "$pid" && return 1
  # Guard against pid reuse: the command line must mention our state dir or memcached's port.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE -- "$STATE|127\.0\.0\.1 -p $MEMCACHED_PORT"
}

# Starts a command in its own session (so a test runner's process-group kill does not take it
# down) and records its pid. setsid execs in place here (a non-interactive shell's background
# child is not a group leader), so $! is the server's own pid.
spawn() { # name cmd...
  local name=$1
  shift
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$name.pid"
}

stop_pid() { # pidfile
  local file=$1 pid i
  if pid_alive "$file"; then
    pid=$(<"$file")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      proc_gone "$pid" && break
      sleep 0.05
    done
    if ! proc_gone "$pid"; then
      say "pid $pid ($(basename "$file" .pid)) ignored TERM, killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

all_running() {
  pid_alive "$RUN/memcached.pid" || return 1
  local s
  for s in "${SERVERS[@]}"; do pid_alive "$RUN/$s.pid" || return 1; done
}

any_running() {
  pid_alive "$RUN/memcached.pid" && return 0
  local s
  for s in "${SERVERS[@]}"; do pid_alive "$RUN/$s.pid" && return 0; done
  return 1
}

# ---- install ----

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "packages missing (${missing[*]}) and not root to install them"
  local t0 created_policy=0
  t0=$(now_ms)
  say "installing ${missing[*]}"
  # Keep apt from starting the Debian services (they would listen on 0.0.0.0).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local rc=0
  {
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$LOG/apt.log" 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOG/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG/apt.log" 2>&1
    fi
  } || rc=$?
  [[ $created_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
  [[ $rc -eq 0 ]] || die "apt-get install failed, see $LOG/apt.log"
  say "installed in $(($(now_ms) - t0)) ms"
}

# ---- storage ----

xattr_ok() { # dir -> whether an 8 KiB user xattr fits (Swift keeps object metadata in xattrs)
  /usr/bin/python3 - "$1" <<'EOF' 2>/dev/null
import os, sys
p = os.path.join(sys.argv[1], '.xattr-probe')
open(p, 'w').close()
try:
    os.setxattr(p, 'user.cryptfs.probe', b'x' * 8192)
finally:
    os.unlink(p)
EOF
}

mount_storage() {
  mkdir -p "$DEVICE"
  if mountpoint -q "$DEVICE"; then
    return 0
  fi
  local mode=$STORAGE_MODE
  if [[ $mode == auto ]]; then
    if [[ $(id -u) -ne 0 ]]; then mode=dir; else mode=loop; fi
  fi
  if [[ $mode == loop ]]; then
    local img=$STATE/disk.img dev
    if [[ ! -f $img ]]; then
      truncate -s "$STORAGE_SIZE" "$img"
      # ea_inode lifts ext4's ~4 KiB xattr limit (larger Swift metadata otherwise answers 503).
      mkfs.ext4 -q -F -O ea_inode -m 0 "$img" >/dev/null 2>&1 || { rm -f "$img"; mode=tmpfs; }
    fi
    if [[ $mode == loop ]]; then
      if dev=$(losetup --find --show "$img" 2>/dev/null) && mount "$dev" "$DEVICE" 2>/dev/null; then
        echo "loop $dev" >"$RUN/storage"
      else
        [[ -n ${dev:-} ]] && losetup -d "$dev" 2>/dev/null
        say "loop mount unavailable here, falling back to tmpfs"
        mode=tmpfs
      fi
    fi
  fi
  if [[ $mode == tmpfs ]]; then
    if mount -t tmpfs -o "size=$STORAGE_SIZE,mode=0755" cryptfs-objstore "$DEVICE" 2>/dev/null; then
      echo "tmpfs" >"$RUN/storage"
    else
      say "tmpfs mount unavailable here, using a plain directory"
      mode=dir
    fi
  fi
  if [[ $mode == dir ]]; then
    echo "dir" >"$RUN/storage"
  fi
  xattr_ok "$DEVICE" || say "WARNING: $DEVICE does not take 8 KiB xattrs; objects with large metadata will fail with 503"
}

unmount_storage() {
  [[ -s $RUN/storage ]] || return 0
  local kind dev
  read -r kind dev <"$RUN/storage"
  case $kind in
  loop)
    mountpoint -q "$DEVICE" && umount "$DEVICE"
    losetup -d "$dev" 2>/dev/null || true
    ;;
  tmpfs) mountpoint -q "$DEVICE" && umount "$DEVICE" ;;
  esac
  rm -f "$RUN/storage"
}

# ---- config ----

render() { # template -> stdout with @VARS@ substituted
  local text
  text=$(<"$1")
  text=${text//@COMMON@/$(<"$TEMPLATES/server-common.in")}
  text=${text//@STATE@/$STATE}
  text=${text//@ETC@/$ETC}
  text=${text//@DEVICES@/$DEVICES}
  text=${text//@USER@/$(id -un)}
  text=${text//@ACCOUNT@/$ACCOUNT}
  text=${text//@USERNAME@/$USERNAME}
  text=${text//@KEY@/$KEY}
  text=${text//@REGION@/$REGION}
  text=${text//@MEMCACHED_PORT@/$MEMCACHED_PORT}
  printf '%s\n' "$text"
}

write_configs() {
  mkdir -p "$ETC" "$STATE/cache"
  # swift.conf is read from this fixed path by every Swift process.
  if [[ -f /etc/swift/swift.conf ]] && ! grep -q 'cryptfs' /etc/swift/swift.conf; then
    cp /etc/swift/swift.conf /etc/swift/swift.conf.before-cryptfs
  fi
  mkdir -p /etc/swift
  cp "$TEMPLATES/swift.conf.in" /etc/swift/swift.conf
  local kind port
  for kind in account container object; do
    case $kind in
    account) port=$ACCOUNT_PORT ;;
    container) port=$CONTAINER_PORT ;;
    object) port=$OBJECT_PORT ;;
    esac
    render "$TEMPLATES/$kind-server.conf.in" | sed -e "s/@PORT@/$port/" -e "s/@KIND@/$kind/" >"$ETC/$kind-server.conf"
  done
  render "$TEMPLATES/proxy-server.conf.in" | sed -e "s/@PORT@/$PORT/" >"$ETC/proxy-server.conf"
  # Rings hold the server ports: rebuild only when they change (swift-ring-builder is slow to start).
  local stamp="$ACCOUNT_PORT $CONTAINER_PORT $OBJECT_PORT"
  if [[ ! -f $ETC/ring.stamp || $(<"$ETC/ring.stamp") != "$stamp" ]]; then
    rm -f "$ETC"/*.builder "$ETC"/*.ring.gz
    for kind in account container object; do
      case $kind in
      account) port=$ACCOUNT_PORT ;;
      container) port=$CONTAINER_PORT ;;
      object) port=$OBJECT_PORT ;;
      esac
      # part power 6, 1 replica, min_part_hours 1
      swift-ring-builder "$ETC/$kind.builder" create 6 1 1 >/dev/null
      swift-ring-builder "$ETC/$kind.builder" add "r1z1-127.0.0.1:$port/d1" 100 >/dev/null
      swift-ring-builder "$ETC/$kind.builder" rebalance >/dev/null || true
    done
    echo "$stamp" >"$ETC/ring.stamp"
  fi
}

# ---- readiness ----

auth_round_trip() { # -> 0 when auth, container PUT/GET/DELETE all work
  local headers token url probe
  headers=$(curl -sS -m 5 -D - -o /dev/null -H "X-Auth-User: $ACCOUNT:$USERNAME" -H "X-Auth-Key: $KEY" "$AUTH_URL" 2>/dev/null) || return 1
  token=$(printf '%s' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
  url=$(printf '%s' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-storage-url"{print $2}')
  [[ -n $token && -n $url ]] || return 1
  # One probe object per caller: test processes start at once, and one's DELETE must not fail another's GET.
  probe="$url/cryptfs-objstore-probe-$$-$RANDOM"
  curl -sf -m 5 -o /dev/null -X PUT -H "X-Auth-Token: $token" "$probe" || return 1
  curl -sf -m 5 -o /dev/null -H "X-Auth-Token: $token" "$probe" || return 1
  curl -sf -m 5 -o /dev/null -X DELETE -H "X-Auth-Token: $token" "$probe" || return 1
}

env_lines() {
  cat <<EOF
export CRYPTFS_SWIFT_AUTH_URL=$AUTH_URL
export CRYPTFS_SWIFT_STORAGE_URL=$STORAGE_URL
export CRYPTFS_SWIFT_USER=$ACCOUNT:$USERNAME
export CRYPTFS_SWIFT_KEY=$KEY
export CRYPTFS_S3_ENDPOINT=http://127.0.0.1:$PORT
export CRYPTFS_S3_ACCESS_KEY_ID=$ACCOUNT:$USERNAME
export CRYPTFS_S3_SECRET_ACCESS_KEY=$KEY
export CRYPTFS_S3_REGION=$REGION
export CRYPTFS_OBJSTORE_DIR=$STATE
EOF
}

# ---- commands ----

cmd_start() {
  mkdir -p "$RUN" "$LOG"
  if all_running; then
    # A loaded machine can be slow to answer: wait for a running store rather than restart it
    # under the tests that are using it.
    local attempt
    for ((attempt = 0; attempt < 12; attempt++)); do
      if auth_round_trip; then
        env_lines | tee "$STATE/env"
        return 0
      fi
      sleep 5
    done
    say "running but not answering for a minute; restarting"
    cmd_stop
  elif any_running; then
    say "partly running; restarting"
    cmd_stop
  fi
  local t0
  t0=$(now_ms)
  ensure_packages
  [[ $(id -u) -eq 0 ]] || [[ -w /etc/swift/swift.conf ]] || die "need root to write /etc/swift/swift.conf"
  write_configs
  mount_storage
  chown -R "$(id -un)" "$DEVICES" "$STATE/cache"
  local t1
  t1=$(now_ms)
  local mc_user=()
  [[ $(id -u) -eq 0 ]] && mc_user=(-u root)
  spawn memcached memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 "${mc_user[@]}"
  local s
  for s in account container object proxy; do
    spawn "$s" "/usr/bin/swift-$s-server" "$ETC/$s-server.conf" -v
  done
  local i
  for ((i = 0; i < 300; i++)); do
    if auth_round_trip; then break; fi
    if ! all_running; then
      for s in memcached "${SERVERS[@]}"; do pid_alive "$RUN/$s.pid" || say "$s died; tail of $LOG/$s.log:"$'\n'"$(tail -n 20 "$LOG/$s.log" 2>/dev/null)"; done
      cmd_stop
      die "a server process exited during start"
    fi
    sleep 0.1
  done
  if ((i >= 300)); then
    cmd_stop
    die "no successful auth round trip after 30 s; logs in $LOG"
  fi
  local t2
  t2=$(now_ms)
  say "started in $((t2 - t1)) ms (total with setup $((t2 - t0)) ms), storage: $(<"$RUN/storage")"
  env_lines | tee "$STATE/env"
}

cmd_stop() {
  local s
  # Proxy first so nothing new arrives, memcached last.
  for s in proxy object container account memcached; do stop_pid "$RUN/$s.pid"; done
  unmount_storage
}

cmd_status() {
  local s rc=0
  for s in memcached "${SERVERS[@]}"; do
    if pid_alive "$RUN/$s.pid"; then
      echo "$s: running (pid $(<"$RUN/$s.pid"))"
    else
      echo "$s: stopped"
      rc=3
    fi
  done
  [[ -s $RUN/storage ]] && echo "storage: $(<"$RUN/storage") at $DEVICE"
  if [[ $rc -eq 0 ]]; then
    if auth_round_trip; then echo "auth round trip: ok"; else
      echo "auth round trip: FAILED"
      rc=3
    fi
  fi
  return $rc
}

# One start/stop at a time (several test processes may ask for the server at once).
lock() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>"$STATE.lock"
  flock -w 900 9 || die "timed out waiting for $STATE.lock"
}

case ${1:-} in
start)
  lock
  cmd_start
  ;;
stop)
  lock
  cmd_stop
  ;;
status) cmd_status ;;
env)
  all_running || die "not running"
  env_lines
  ;;
clean)
  lock
  cmd_stop
  rm -rf "$STATE" "$STATE.lock"
  ;;
*)
  echo "usage: $0 start|stop|status|env|clean" >&2
  exit 2
  ;;
esac
