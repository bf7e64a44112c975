# peak RSS of `cat` of one big file out of crypt over the loopback Swift, nearby (BENCH_RSS_MIB, default 512): parallel ranged reads against one GET
RSS_MIB="${BENCH_RSS_MIB:-512}"
ROW_TITLE="peak RSS: cat 1 x $RSS_MIB MiB <- crypt over Swift (near), default flags"
ROW_TARGET=1
ROW_UNIT=MiB
CAT_SRC="$BENCH_WORK/data/cat-$RSS_MIB"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  gen_files "$CAT_SRC" 1 $((RSS_MIB * 1048576)) $((RSS_MIB * 1048576))
  ROW_BYTES=$(dir_bytes "$CAT_SRC")
  swift_remote
  CAT_CONTAINER="cryptfs-rsscat-$$-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  bench_on_exit "rclone_ purge swift:$CAT_CONTAINER >/dev/null 2>&1 || true"
  crypt_remote "c_$ROW" "swift:$CAT_CONTAINER"
  # One object both tools read (rclone wrote it: no sealed record to check, the same bytes either way).
  rclone_ copy "$CAT_SRC" "c_$ROW:" || row_skip "could not put the file in place"
}
row_run() {
  local f
  f=$(basename "$(find "$CAT_SRC" -type f | head -1)")
  rss_run "$1" cat "c_$ROW:$(basename "$(dirname "$(find "$CAT_SRC" -type f | head -1)")")/$f" >"$BENCH_WORK/cat.out"
}
row_check() {
  cmp -s "$BENCH_WORK/cat.out" "$(find "$CAT_SRC" -type f | head -1)"
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
