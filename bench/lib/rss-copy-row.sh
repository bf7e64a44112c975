# A peak-memory `copy` row: big files copied by each tool into crypt over the loopback Swift or S3
# with the same --transfers; the figure is the copying process's peak RSS (MiB), then rclone
# cryptcheck of both outputs. Sourced by rows that set
#   RSS_WHERE   swift | s3
#   RSS_MIB     total size, in RSS_FILES files
#   RSS_FLAGS   extra flags for both tools (array, may be empty)
TRANSFERS="${BENCH_TRANSFERS:-4}"
ROW_UNIT=MiB
RSS_SRC="$BENCH_WORK/data/rss-$RSS_MIB-$RSS_FILES"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  local each=$((RSS_MIB * 1024 * 1024 / RSS_FILES))
  gen_files "$RSS_SRC" "$RSS_FILES" "$each" "$each"
  ROW_BYTES=$(dir_bytes "$RSS_SRC")
  if [[ $RSS_WHERE == s3 ]]; then s3_remote; else swift_remote; fi
  RSS_BUCKET_PREFIX="cryptfs-rss-$$-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  bench_on_exit "rss_purge cryptfs; rss_purge rclone"
}
rss_target() { echo "$RSS_WHERE:$RSS_BUCKET_PREFIX-$1"; }
rss_purge() { rclone_ purge "$(rss_target "$1")" >/dev/null 2>&1 || true; }
row_before() {
  rss_purge "$1"
  crypt_remote "c_${ROW}_$1" "$(rss_target "$1")"
}
row_run() { rss_run "$1" copy --transfers "$TRANSFERS" "${RSS_FLAGS[@]}" "$RSS_SRC" "c_${ROW}_$1:"; }
row_after() {
  # The store's disk holds one copy at a time: check this tool's output now, then remove it.
  if ! rclone_ cryptcheck --one-way "$RSS_SRC" "c_${ROW}_$1:" 2>"$BENCH_WORK/cryptcheck.log"; then
    echo "   $ROW: rclone cryptcheck of the $1 output failed:" >&2
    tail -5 "$BENCH_WORK/cryptcheck.log" >&2
    echo failed >>"$BENCH_WORK/$ROW.failed"
  fi
  rss_purge "$1"
}
row_check() { [[ ! -f $BENCH_WORK/$ROW.failed ]]; }
