# peak RSS of the mount (--vfs-cache-mode writes) holding many small files not yet uploaded (BENCH_PENDING_COUNT, default 2000; BENCH_FULL=1: 10000) — issue #14: ≤ 200 MB at 10,000
PENDING_COUNT="${BENCH_PENDING_COUNT:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 10000 || echo 2000)}"
ROW_TITLE="peak RSS: mount with $PENDING_COUNT x 1-16 KiB pending uploads (<= 200 MB)"
ROW_UNIT=MiB
ROW_TARGET=1
PENDING_MNT="$BENCH_WORK/pending-mnt"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/mount.sh"

row_setup() {
  [[ $(id -u) == 0 ]] || row_skip "needs root (FUSE)"
  command -v fusermount3 >/dev/null || row_skip "needs fusermount3"
  mkdir -p "$BENCH_WORK/data" "$PENDING_MNT"
  gen_files "$BENCH_WORK/data/pending-src-$PENDING_COUNT" "$PENDING_COUNT" 1024 16384
  PENDING_TAR="$BENCH_WORK/data/pending-src-$PENDING_COUNT.tar"
  [[ -f $PENDING_TAR ]] || tar -C "$BENCH_WORK/data/pending-src-$PENDING_COUNT" -cf "$PENDING_TAR" .
  crypt_remote c_pending_cryptfs "$BENCH_WORK/enc-pending-cryptfs"
  crypt_remote c_pending_rclone "$BENCH_WORK/enc-pending-rclone"
  bench_on_exit 'mount_cleanup "$PENDING_MNT" "${PENDING_PID:-}"'
}
# The mounting process itself (node or rclone), below the background job's shell if there is one.
mount_process() {
  local pid=$1 child
  for _ in 1 2 3 4; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == node || $(cat "/proc/$pid/comm" 2>/dev/null) == rclone ]] && { echo "$pid"; return 0; }
    child=$(pgrep -P "$pid" | head -1) || return 1
    pid=$child
  done
  return 1
}
row_before() {
  rm -rf "$BENCH_WORK/enc-pending-$1" "$BENCH_WORK/pending-cache-$1"
  mkdir -p "$BENCH_WORK/enc-pending-$1"
  # Nothing uploads while the files are written: the write-back delay is an hour.
  mount_start "$1" "c_pending_$1:" "$PENDING_MNT" "$BENCH_WORK/pending-$1.log" \
    --vfs-cache-mode writes --vfs-write-back 1h --cache-dir "$BENCH_WORK/pending-cache-$1"
  PENDING_PID=$MOUNT_PID
}
row_run() {
  tar -C "$PENDING_MNT" -xf "$PENDING_TAR"
  local pid
  pid=$(mount_process "$PENDING_PID") || { echo "rss-mount-pending: no $1 process under $PENDING_PID" >&2; return 1; }
  local pending
  pending=$(find "$BENCH_WORK/enc-pending-$1" -type f | wc -l)
  ((pending < PENDING_COUNT / 10)) || echo "   rss-mount-pending: $1 had already uploaded $pending files" >&2
  ROW_VALUE=$(peak_rss_of_pid "$pid")
}
row_after() {
  # Unmounting uploads (cryptfs) or keeps in its cache (rclone) what is pending: untimed, not measured.
  fusermount3 -u "$PENDING_MNT" 2>/dev/null || fusermount3 -u -z "$PENDING_MNT"
  wait "$PENDING_PID" 2>/dev/null || true
  PENDING_PID=""
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
