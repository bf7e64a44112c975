# A `copy` row: the same source tree copied by each tool into its own crypt remote, local or over
# Swift, with the same --transfers; then rclone cryptcheck of both outputs. Sourced by rows that set
#   COPY_DATA   name of the source tree under $BENCH_WORK/data
#   COPY_COUNT COPY_MIN COPY_MAX   files and their size range in bytes
#   COPY_WHERE  local | swift
# Environment: BENCH_TRANSFERS (default 4, rclone's default).
TRANSFERS="${BENCH_TRANSFERS:-4}"
COPY_SRC="$BENCH_WORK/data/$COPY_DATA"

row_setup() {
  mkdir -p "$BENCH_WORK/data"
  gen_files "$COPY_SRC" "$COPY_COUNT" "$COPY_MIN" "$COPY_MAX"
  ROW_BYTES=$(dir_bytes "$COPY_SRC")
  if [[ $COPY_WHERE == swift ]]; then
    swift_remote
    COPY_CONTAINER_PREFIX="cryptfs-bench-$$-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    bench_on_exit "copy_purge cryptfs; copy_purge rclone"
  fi
  cat "$COPY_SRC"/*/* >/dev/null # both tools find the source in the page cache
}
copy_target() { # TOOL -> the underlying place
  if [[ $COPY_WHERE == swift ]]; then echo "swift:$COPY_CONTAINER_PREFIX-$1"; else echo "$BENCH_WORK/enc-$ROW-$1"; fi
}
copy_purge() {
  if [[ $COPY_WHERE == swift ]]; then rclone_ purge "$(copy_target "$1")" >/dev/null 2>&1 || true
  else rm -rf "$(copy_target "$1")"; fi
}
row_before() {
  copy_purge "$1"
  crypt_remote "c_${ROW}_$1" "$(copy_target "$1")"
}
row_run() {
  if [[ $1 == cryptfs ]]; then cryptfs copy --transfers "$TRANSFERS" "$COPY_SRC" "c_${ROW}_$1:"
  else rclone_ copy --transfers "$TRANSFERS" "$COPY_SRC" "c_${ROW}_$1:"; fi
}
row_check() {
  local tool ok=0
  for tool in cryptfs rclone; do
    if ! rclone_ cryptcheck --one-way "$COPY_SRC" "c_${ROW}_$tool:" 2>"$BENCH_WORK/cryptcheck.log"; then
      echo "   $ROW: rclone cryptcheck of the $tool output failed:" >&2
      tail -5 "$BENCH_WORK/cryptcheck.log" >&2
      ok=1
    fi
  done
  return $ok
}
