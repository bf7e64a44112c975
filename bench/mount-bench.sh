#!/usr/bin/env bash
# Benchmark of `cryptfs mount` against `rclone mount` on the same crypt remote
# over a local directory (and, with BENCH_BACKENDS, over the loopback Swift and
# its S3 API): sequential write and read of 1 GiB (--vfs-cache-mode off and
# writes), and `ls -lR` of 10,000 files (local only). Not a test: prints figures.
#
# Usage: [REPEAT=3] [BENCH_BACKENDS="local swift s3"] bench/mount-bench.sh [size-MiB (default 1024)] [files (default 10000)]
# Needs root (FUSE here, and dropping the page cache between write and read),
# the built project (npm run build) and rclone; swift and s3 need the object
# store running (scripts/objstore-server.sh start; used as it runs, never
# started from here). BENCH_DIR picks the scratch directory (default: a new one
# under /tmp), RCLONE_BIN the rclone binary.
#
# What is measured:
#   write (close)   dd of SIZE MiB into the mount, timed until dd (and so close()) returned.
#                   With --vfs-cache-mode off close() returns once the object is on the remote,
#                   for both tools; with writes it returns once the data is in the local cache.
#   write (remote)  writes mode only: until the object is complete on the remote
#                   (--vfs-write-back 0s for both tools, so the upload starts at close).
#   read            dd of the file to /dev/null after dropping the page cache, on a fresh mount.
#   ls -lR          of FILES files in 100 directories, on a fresh mount (cold), then again (warm).
# Every figure is the median of REPEAT runs (the machine may be shared: the spread is printed too).
set -euo pipefail

# Nothing from the caller's environment chooses another config or CA bundle for either tool
# (rclone refuses an S3 remote when AWS_CA_BUNDLE is set).
unset RCLONE_CONFIG_PASS CRYPTFS_CONFIG_PASS RCLONE_CONFIG CRYPTFS_CONFIG AWS_CA_BUNDLE NODE_OPTIONS

SIZE_MIB=${1:-1024}
FILES=${2:-10000}
BACKENDS=${BENCH_BACKENDS:-local}
REPEAT=${REPEAT:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CRYPTFS=(node "$ROOT/dist/src/cli/cryptfs.cjs")
RCLONE=${RCLONE_BIN:-rclone}
[ "$(id -u)" -eq 0 ] || { echo "mount-bench: run as root (FUSE, drop_caches)" >&2; exit 1; }
[ -f "$ROOT/dist/src/cli/cryptfs.cjs" ] || { echo "mount-bench: build first (npm run build)" >&2; exit 1; }
command -v "$RCLONE" >/dev/null || { echo "mount-bench: rclone not found" >&2; exit 1; }

WORK=${BENCH_DIR:-$(mktemp -d /tmp/cryptfs-mount-bench-XXXXXX)}
mkdir -p "$WORK"
REMOTE="$WORK/remote"
MNT="$WORK/mnt"
CONF="$WORK/rclone.conf"
mkdir -p "$REMOTE" "$MNT"
CONTAINER="mountbench$$"
PASSWORD=$("$RCLONE" obscure bench-password)
PASSWORD2=$("$RCLONE" obscure bench-salt)
# secret-BACKEND: the crypt remote the mounts use; base-BACKEND: what it wraps (sizes, cleanup).
{
  if [[ " $BACKENDS " == *" swift "* || " $BACKENDS " == *" s3 "* ]]; then
    bash "$ROOT/scripts/objstore-server.sh" status >/dev/null 2>&1 ||
      { echo "mount-bench: swift/s3 need the object store running (scripts/objstore-server.sh start)" >&2; exit 1; }
    eval "$(bash "$ROOT/scripts/objstore-server.sh" env 2>/dev/null | grep '^export ' | sed 's/^export //')"
    printf '[base-swift]\ntype = swift\nuser = %s\nkey = %s\nauth = %s\n\n' \
      "$CRYPTFS_SWIFT_USER" "$CRYPTFS_SWIFT_KEY" "$CRYPTFS_SWIFT_AUTH_URL"
    printf '[base-s3]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nregion = %s\nendpoint = %s\nforce_path_style = true\n\n' \
      "$CRYPTFS_S3_ACCESS_KEY_ID" "$CRYPTFS_S3_SECRET_ACCESS_KEY" "$CRYPTFS_S3_REGION" "$CRYPTFS_S3_ENDPOINT"
  fi
  for b in $BACKENDS; do
    where="base-$b:$CONTAINER"
    [ "$b" = local ] && where=$REMOTE
    printf '[secret-%s]\ntype = crypt\nremote = %s\npassword = %s\npassword2 = %s\n\n' "$b" "$where" "$PASSWORD" "$PASSWORD2"
  done
} >"$CONF"
# Only what this run made: its own directory, its own container on the shared store.
empty_remote() {
  if [ "$1" = local ]; then rm -rf "${REMOTE:?}"/*; else "$RCLONE" --config "$CONF" purge "base-$1:$CONTAINER" >/dev/null 2>&1 || true; fi
}

mounted() { awk -v m="$MNT" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

PID=""
cleanup() {
  if mounted; then fusermount3 -u -z "$MNT" 2>/dev/null || true; fi
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  for b in $BACKENDS; do [ "$b" = local ] || empty_remote "$b"; done
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
# elapsed <start> <end>: seconds between two now() stamps.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# mount <tool> <cache-mode> [extra flags...]: starts the daemon in the background, waits for the
# mount, of the crypt remote over $BACKEND.
mount_fs() {
  local tool=$1 mode=$2
  shift 2
  if [ "$tool" = cryptfs ]; then
    "${CRYPTFS[@]}" --config "$CONF" mount "secret-$BACKEND:" "$MNT" --vfs-cache-mode "$mode" \
      --cache-dir "$WORK/cache-cryptfs" "$@" 2>>"$WORK/cryptfs.log" &
  else
    "$RCLONE" --config "$CONF" mount "secret-$BACKEND:" "$MNT" --vfs-cache-mode "$mode" \
      --cache-dir "$WORK/cache-rclone" "$@" 2>>"$WORK/rclone.log" &
  fi
  PID=$!
  for _ in $(seq 1 200); do mounted && return 0; sleep 0.05; done
  echo "mount-bench: $tool did not mount" >&2
  exit 1
}

unmount_fs() {
  for _ in $(seq 1 100); do fusermount3 -u "$MNT" 2>/dev/null && break; sleep 0.1; done
  wait "$PID" 2>/dev/null || true
  PID=""
}

# The mount's kernel read-ahead (read_ahead_kb of its backing device).
read_ahead_kb() {
  local dev
  dev=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
  cat "/sys/class/bdi/$dev/read_ahead_kb"
}

set_read_ahead_kb() {
  local dev
  dev=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
  echo "$1" >"/sys/class/bdi/$dev/read_ahead_kb"
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

mbps() { awk -v s="$SIZE_MIB" -v t="$1" 'BEGIN { printf "%.0f", s * 1048576 / t / 1e6 }'; }

# Sizes of the objects on $BACKEND under the crypt remote, one per line.
remote_object_sizes() {
  if [ "$BACKEND" = local ]; then find "$REMOTE" -type f -printf '%s\n' 2>/dev/null
  else "$RCLONE" --config "$CONF" lsf -R --files-only --format s "base-$BACKEND:$CONTAINER" 2>/dev/null; fi
}

declare -A RESULT

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# write_read <tool> <mode> <label> [extra flags]: REPEAT writes and reads, medians reported.
write_read() {
  local tool=$1 mode=$2 label=$3
  shift 3
  local t0 t1 t2 expected w="" r="" rem="" i
  for i in $(seq 1 "$REPEAT"); do
    empty_remote "$BACKEND"
    rm -rf "$WORK/cache-$tool"
    mount_fs "$tool" "$mode" "$@"
    t0=$(now)
    dd if=/dev/zero of="$MNT/big" bs=1M count="$SIZE_MIB" status=none
    t1=$(now)
    w="$w $(mbps "$(elapsed "$t0" "$t1")")"
    if [ "$mode" != off ]; then
      # Until the object is complete on the remote.
      expected=$((32 + SIZE_MIB * 16 * 65552))
      # One object, of the whole size (no temporary or partial one beside it).
      while [ "$(remote_object_sizes | tr '\n' ' ')" != "$expected " ]; do sleep 0.02; done
      t2=$(now)
      rem="$rem $(mbps "$(elapsed "$t0" "$t2")")"
    fi
    unmount_fs
  done
  rm -rf "$WORK/cache-$tool"
  for i in $(seq 1 "$REPEAT"); do
    mount_fs "$tool" "$mode" "$@"
    [ -z "${RA:-}" ] || set_read_ahead_kb "$RA"
    RESULT[$label,ra]=$(read_ahead_kb)
    drop_caches
    t0=$(now)
    dd if="$MNT/big" of=/dev/null bs=1M status=none
    t1=$(now)
    r="$r $(mbps "$(elapsed "$t0" "$t1")")"
    unmount_fs
  done
  RESULT[$label,write]=$(echo "$w" | median)
  RESULT[$label,remote]=$([ "$mode" = off ] && echo "${RESULT[$label,write]}" || echo "$rem" | median)
  RESULT[$label,read]=$(echo "$r" | median)
  echo "  $label: write${w} MB/s (close)${rem:+, on remote${rem} MB/s}; read${r} MB/s (read_ahead_kb ${RESULT[$label,ra]})" >&2
}

echo "mount-bench: $SIZE_MIB MiB sequential, $FILES files for ls -lR; scratch $WORK" >&2
echo "$("${CRYPTFS[@]}" version 2>/dev/null | head -1); $("$RCLONE" version | head -1); $(uname -r); $(nproc) CPUs" >&2

LABELS=()
for BACKEND in $BACKENDS; do
  for mode in off writes; do
    extra=()
    [ "$mode" = writes ] && extra=(--vfs-write-back 0s)
    write_read cryptfs "$mode" "cryptfs $mode, $BACKEND" "${extra[@]}"
    LABELS+=("cryptfs $mode, $BACKEND")
    write_read rclone "$mode" "rclone $mode, $BACKEND" "${extra[@]}"
    LABELS+=("rclone $mode, $BACKEND")
  done
  # rclone with the same kernel read-ahead cryptfs sets for itself (1 MiB), for a like-for-like read.
  RA=1024 write_read rclone off "rclone off, $BACKEND, read_ahead_kb=1024"
  LABELS+=("rclone off, $BACKEND, read_ahead_kb=1024")
  empty_remote "$BACKEND"
done

# ---- ls -lR of many files (over the local directory) ----
declare -A LS
if [[ " $BACKENDS " == *" local "* ]]; then
BACKEND=local
rm -rf "$REMOTE"/* "$WORK/cache-cryptfs" "$WORK/cache-rclone"
SRC="$WORK/tree-src"
rm -rf "$SRC"
mkdir -p "$SRC"
per_dir=$(( (FILES + 99) / 100 ))
for d in $(seq -w 0 99); do
  mkdir -p "$SRC/dir$d"
  for f in $(seq 1 "$per_dir"); do
    n=$(( 10#$d * per_dir + f ))
    [ "$n" -le "$FILES" ] || break
    : >"$SRC/dir$d/file-$f.txt"
  done
done
"$RCLONE" --config "$CONF" copy "$SRC" secret-local:tree --transfers 16 --checkers 16
rm -rf "$SRC"
for tool in cryptfs rclone; do
  cold="" warm=""
  for i in $(seq 1 "$REPEAT"); do
    mount_fs "$tool" off
    t0=$(now)
    n=$(ls -lR "$MNT/tree" | grep -c '^-')
    t1=$(now)
    ls -lR "$MNT/tree" >/dev/null
    t2=$(now)
    unmount_fs
    [ "$n" -eq "$FILES" ] || echo "mount-bench: $tool listed $n files, expected $FILES" >&2
    cold="$cold $(printf '%.2f' "$(elapsed "$t0" "$t1")")"
    warm="$warm $(printf '%.2f' "$(elapsed "$t1" "$t2")")"
  done
  LS[$tool,cold]=$(echo "$cold" | median)
  LS[$tool,warm]=$(echo "$warm" | median)
  echo "  ls -lR $tool: cold${cold} s, warm${warm} s" >&2
done
fi

echo
printf '%-42s %12s %14s %10s\n' "sequential, $SIZE_MIB MiB" "write MB/s" "on remote MB/s" "read MB/s"
for label in "${LABELS[@]}"; do
  printf '%-42s %12s %14s %10s\n' "$label" "${RESULT[$label,write]}" "${RESULT[$label,remote]}" "${RESULT[$label,read]}"
done
if [[ -n ${LS[cryptfs,cold]:-} ]]; then
  echo
  printf '%-42s %12s %14s\n' "ls -lR of $FILES files" "cold s" "warm s"
  for tool in cryptfs rclone; do
    printf '%-42s %12.2f %14.2f\n' "$tool" "${LS[$tool,cold]}" "${LS[$tool,warm]}"
  done
fi
echo
for b in $BACKENDS; do
  awk -v b="$b" -v cr="${RESULT[cryptfs off, $b,read]}" -v rr="${RESULT[rclone off, $b,read]}" \
    -v cw="${RESULT[cryptfs off, $b,write]}" -v rw="${RESULT[rclone off, $b,write]}" \
    -v cd="${RESULT[cryptfs writes, $b,remote]}" -v rd="${RESULT[rclone writes, $b,remote]}" 'BEGIN {
    printf "%s: read vs rclone --vfs-cache-mode off: %.2fx (target >= 2x)\n", b, cr / rr
    printf "%s: write with the data on the remote at close vs rclone cache-off write: %.2fx (target >= 2x)\n", b, cw / rw
    printf "%s: writes mode, until on the remote: %.2fx\n", b, cd / rd
  }'
done
if [[ -n ${LS[cryptfs,cold]:-} ]]; then
  awk -v cl="${LS[cryptfs,cold]}" -v rl="${LS[rclone,cold]}" 'BEGIN {
    printf "ls -lR cold: cryptfs %.2f s vs rclone %.2f s (%s)\n", cl, rl, (cl <= rl ? "no slower" : "SLOWER")
  }'
fi
