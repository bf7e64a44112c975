# reading one big file back out of a local crypt remote: `copy` to a local directory, then `cat` to /dev/null (BENCH_BIG_MIB, default 256; BENCH_FULL=1: 512)
BIG_MIB="${BENCH_BIG_MIB:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 512 || echo 256)}"
ROW_TITLE="copy + cat of 1 x $BIG_MIB MiB <- local crypt"
ROW_TARGET=1
READ_SRC="$BENCH_WORK/data/read-$BIG_MIB"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  gen_files "$READ_SRC" 1 $((BIG_MIB * 1048576)) $((BIG_MIB * 1048576))
  # Read twice per run (copy, then cat): MB/s over both.
  ROW_BYTES=$((2 * $(dir_bytes "$READ_SRC")))
  crypt_remote "c_$ROW" "$BENCH_WORK/enc-$ROW"
  # One object both tools read (written by rclone, so no sealed record: the same work for both).
  [[ -d $BENCH_WORK/enc-$ROW ]] || rclone_ copy "$READ_SRC" "c_$ROW:" || row_skip "could not put the file in place"
  READ_FILE="$(cd "$READ_SRC" && find . -type f | head -1 | cut -c3-)"
}
row_before() { rm -rf "$BENCH_WORK/read-out-$1"; }
row_run() {
  if [[ $1 == cryptfs ]]; then
    cryptfs copy "c_$ROW:$READ_FILE" "$BENCH_WORK/read-out-$1/$(dirname "$READ_FILE")"
    cryptfs cat "c_$ROW:$READ_FILE" >/dev/null
  else
    rclone_ copy "c_$ROW:$READ_FILE" "$BENCH_WORK/read-out-$1/$(dirname "$READ_FILE")"
    rclone_ cat "c_$ROW:$READ_FILE" >/dev/null
  fi
}
row_check() {
  local tool ok=0
  for tool in cryptfs rclone; do
    cmp -s "$READ_SRC/$READ_FILE" "$BENCH_WORK/read-out-$tool/$READ_FILE" || { echo "   $ROW: the $tool copy differs" >&2; ok=1; }
  done
  return $ok
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
