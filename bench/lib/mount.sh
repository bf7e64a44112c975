# Mounts for rows that measure through FUSE (tar-mount, rss-mount-pending). Sourced by rows.
# mount_start TOOL REMOTE MNT LOG FLAGS...: mounts in the background and waits until MNT is a mount
# point; sets MOUNT_PID (the background job) or returns 1.
mount_start() {
  local tool=$1 remote=$2 mnt=$3 log=$4
  shift 4
  if [[ $tool == cryptfs ]]; then cryptfs mount "$remote" "$mnt" "$@" 2>>"$log" &
  else rclone_ mount "$remote" "$mnt" "$@" 2>>"$log" & fi
  MOUNT_PID=$!
  for _ in $(seq 1 400); do mount_is_up "$mnt" && return 0; sleep 0.05; done
  echo "bench: $tool did not mount $mnt (see $log)" >&2
  return 1
}
mount_is_up() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }
# mount_cleanup MNT PID: at exit, whatever state a failed run left (lazy unmount, stop our job).
mount_cleanup() {
  if mount_is_up "$1"; then fusermount3 -u -z "$1" 2>/dev/null || true; fi
  if [[ -n ${2:-} ]] && kill -0 "$2" 2>/dev/null; then kill "$2" 2>/dev/null || true; fi
}
