# peak RSS of `copy` of more tiny files (1–1024 bytes) than the walk's backlog holds, into a local
# crypt remote (BENCH_MANY_COUNT, default 30000; the same files as copy-many-local)
COPY_DATA=many COPY_COUNT="${BENCH_MANY_COUNT:-30000}" COPY_MIN=1 COPY_MAX=1024 COPY_WHERE=local
ROW_TITLE="peak RSS: copy $COPY_COUNT x 1-1024 B -> local crypt, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1
ROW_UNIT=MiB
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
row_run() { rss_run "$1" copy --transfers "$TRANSFERS" "$COPY_SRC" "c_${ROW}_$1:"; }
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
