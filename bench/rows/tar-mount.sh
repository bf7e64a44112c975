# `tar -x` of many small files into the mount (--vfs-cache-mode writes) until they are all on the
# remote: cryptfs until `cryptfs umount` returns (it waits for the uploads), rclone until every file
# is in its remote and its mount process has exited. Both with --vfs-write-back 0s. Needs root (FUSE).
# BENCH_TAR_COUNT files of 1–16 KiB (default 2000; BENCH_FULL=1: 10000).
TAR_COUNT="${BENCH_TAR_COUNT:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 10000 || echo 2000)}"
ROW_TITLE="tar -x $TAR_COUNT x 1-16 KiB into the mount, until uploaded"
ROW_TARGET=2
TAR_MNT="$BENCH_WORK/tar-mnt"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/mount.sh"

row_setup() {
  [[ $(id -u) == 0 ]] || row_skip "needs root (FUSE)"
  command -v fusermount3 >/dev/null || row_skip "needs fusermount3"
  mkdir -p "$BENCH_WORK/data" "$TAR_MNT"
  gen_files "$BENCH_WORK/data/tar-src" "$TAR_COUNT" 1024 16384
  [[ -f $BENCH_WORK/data/tar-src.tar ]] || tar -C "$BENCH_WORK/data/tar-src" -cf "$BENCH_WORK/data/tar-src.tar" .
  ROW_BYTES=$(dir_bytes "$BENCH_WORK/data/tar-src")
  crypt_remote c_tar_cryptfs "$BENCH_WORK/enc-tar-cryptfs"
  crypt_remote c_tar_rclone "$BENCH_WORK/enc-tar-rclone"
  bench_on_exit 'mount_cleanup "$TAR_MNT" "${TAR_PID:-}"'
}
row_before() {
  rm -rf "$BENCH_WORK/enc-tar-$1" "$BENCH_WORK/tar-cache-$1"
  mkdir -p "$BENCH_WORK/enc-tar-$1"
  mount_start "$1" "c_tar_$1:" "$TAR_MNT" "$BENCH_WORK/tar-$1.log" \
    --vfs-cache-mode writes --vfs-write-back 0s --cache-dir "$BENCH_WORK/tar-cache-$1"
  TAR_PID=$MOUNT_PID
}
row_run() {
  tar -C "$TAR_MNT" -xf "$BENCH_WORK/data/tar-src.tar"
  if [[ $1 == cryptfs ]]; then
    cryptfs umount "$TAR_MNT" >/dev/null
  else
    # rclone says nothing when its uploads are done: wait for every file in its remote, then unmount.
    while (($(find "$BENCH_WORK/enc-tar-rclone" -type f | wc -l) < TAR_COUNT)); do sleep 0.05; done
    fusermount3 -u "$TAR_MNT"
  fi
  wait "$TAR_PID" 2>/dev/null || true
  TAR_PID=""
}
row_check() {
  local tool ok=0
  for tool in cryptfs rclone; do
    if ! rclone_ cryptcheck --one-way "$BENCH_WORK/data/tar-src" "c_tar_$tool:" 2>"$BENCH_WORK/cryptcheck.log"; then
      echo "   tar-mount: rclone cryptcheck of what $tool uploaded failed:" >&2
      tail -5 "$BENCH_WORK/cryptcheck.log" >&2
      ok=1
    fi
  done
  return $ok
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
