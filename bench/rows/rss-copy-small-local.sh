# peak RSS of `copy` of many small files (1–16 KiB) into a local crypt remote (BENCH_RSS_SMALL_COUNT, default 10000)
COPY_DATA=rss-small COPY_COUNT="${BENCH_RSS_SMALL_COUNT:-10000}" COPY_MIN=1024 COPY_MAX=16384 COPY_WHERE=local
ROW_TITLE="peak RSS: copy $COPY_COUNT x 1-16 KiB -> local crypt, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1
ROW_UNIT=MiB
# A copy row (data, remotes, rclone cryptcheck of both outputs) whose figure is the peak RSS.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
row_run() { rss_run "$1" copy --transfers "$TRANSFERS" "$COPY_SRC" "c_${ROW}_$1:"; }
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
