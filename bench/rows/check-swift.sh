# `check SRC crypt:` against `rclone cryptcheck SRC crypt:` of a tree sealed by cryptfs over Swift
# (BENCH_CHECK_COUNT files of 1 KiB–BENCH_CHECK_MAX_KIB; defaults 300 × up to 1 MiB; BENCH_FULL=1:
# 1000 × up to 8 MiB, issue #12's figure). Bytes to and from the store are counted by the shaping
# proxy (no shaping: --rate 0 --rtt 0) and printed per run.
CHECK_COUNT="${BENCH_CHECK_COUNT:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 1000 || echo 300)}"
CHECK_MAX_KIB="${BENCH_CHECK_MAX_KIB:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 8192 || echo 1024)}"
ROW_TITLE="check of $CHECK_COUNT files (1 KiB-$CHECK_MAX_KIB KiB) vs crypt over Swift"
ROW_TARGET=5
CHECK_SRC="$BENCH_WORK/data/check-$CHECK_COUNT-$CHECK_MAX_KIB"
CHECK_PROXY_PID="$BENCH_WORK/check-proxy.pid"
CHECK_COUNTS="$BENCH_WORK/check-proxy.counts"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  gen_files "$CHECK_SRC" "$CHECK_COUNT" 1024 $((CHECK_MAX_KIB * 1024))
  swift_remote
  local port
  port=$(node "$BENCH_ROOT/scripts/shaping-proxy.mjs" start --rate 0 --rtt 0 --pid-file "$CHECK_PROXY_PID" --count-file "$CHECK_COUNTS")
  bench_on_exit "node '$BENCH_ROOT/scripts/shaping-proxy.mjs' stop --pid-file '$CHECK_PROXY_PID'"
  # Auth and storage both through the proxy (storage_url overrides the URL of the auth reply).
  printf '[swift_counted]\ntype = swift\nuser = %s\nkey = %s\nauth = %s\nauth_version = 1\nstorage_url = %s\n\n' \
    "$CRYPTFS_SWIFT_USER" "$CRYPTFS_SWIFT_KEY" "${CRYPTFS_SWIFT_AUTH_URL/:18080/:$port}" "${CRYPTFS_SWIFT_STORAGE_URL/:18080/:$port}" >>"$BENCH_CONF"
  CHECK_CONTAINER="cryptfs-bench-check-$$"
  crypt_remote c_check "swift_counted:$CHECK_CONTAINER"
  bench_on_exit "rclone_ purge swift:$CHECK_CONTAINER >/dev/null 2>&1 || true"
  cryptfs copy --transfers 4 "$CHECK_SRC" c_check:
  ROW_BYTES=$(dir_bytes "$CHECK_SRC")
  cat "$CHECK_SRC"/*/* >/dev/null # both tools find the source in the page cache
}
check_bytes() { node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(c.up + c.down)' "$CHECK_COUNTS"; }
row_before() { sleep 0.3; CHECK_BYTES_BEFORE=$(check_bytes); }
row_run() {
  if [[ $1 == cryptfs ]]; then cryptfs check "$CHECK_SRC" c_check: 2>"$BENCH_WORK/check-$1.log"
  else rclone_ cryptcheck "$CHECK_SRC" c_check: 2>"$BENCH_WORK/check-$1.log"; fi
}
row_after() {
  sleep 0.3 # the proxy rewrites its counts every 100 ms
  printf '   %-24s %-7s %s bytes to/from the store\n' "$ROW" "$1" $(($(check_bytes) - CHECK_BYTES_BEFORE)) >&2
}
row_check() {
  grep -q '0 differences found' "$BENCH_WORK/check-cryptfs.log" && grep -q '0 differences found' "$BENCH_WORK/check-rclone.log" || {
    echo "   $ROW: a check found differences:" >&2
    tail -3 "$BENCH_WORK/check-cryptfs.log" "$BENCH_WORK/check-rclone.log" >&2
    return 1
  }
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
