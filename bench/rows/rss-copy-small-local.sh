# peak RSS of `copy` of many small files (1–16 KiB) into a local crypt remote (BENCH_RSS_SMALL_COUNT, default 10000)
RSS_SMALL_COUNT="${BENCH_RSS_SMALL_COUNT:-10000}"
ROW_TITLE="peak RSS: copy $RSS_SMALL_COUNT x 1-16 KiB -> local crypt, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1
ROW_UNIT=MiB
TRANSFERS="${BENCH_TRANSFERS:-4}"
RSS_SMALL_SRC="$BENCH_WORK/data/rss-small-$RSS_SMALL_COUNT"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  gen_files "$RSS_SMALL_SRC" "$RSS_SMALL_COUNT" 1024 16384
  ROW_BYTES=$(dir_bytes "$RSS_SMALL_SRC")
}
row_before() {
  rm -rf "$BENCH_WORK/enc-$ROW-$1"
  crypt_remote "c_${ROW}_$1" "$BENCH_WORK/enc-$ROW-$1"
}
row_run() { rss_run "$1" copy --transfers "$TRANSFERS" "$RSS_SMALL_SRC" "c_${ROW}_$1:"; }
row_check() {
  local tool ok=0
  for tool in cryptfs rclone; do
    if ! rclone_ cryptcheck --one-way "$RSS_SMALL_SRC" "c_${ROW}_$tool:" 2>"$BENCH_WORK/cryptcheck.log"; then
      echo "   $ROW: rclone cryptcheck of the $tool output failed:" >&2
      tail -5 "$BENCH_WORK/cryptcheck.log" >&2
      ok=1
    fi
  done
  return $ok
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
