# `copy` of more tiny files (1–1024 bytes) than the walk's backlog holds (10,000), into a local crypt
# remote: the walk waits for the transfers once the backlog is full (BENCH_MANY_COUNT, default 30000).
COPY_DATA=many COPY_COUNT="${BENCH_MANY_COUNT:-30000}" COPY_MIN=1 COPY_MAX=1024 COPY_WHERE=local
ROW_TITLE="copy $COPY_COUNT x 1-1024 B -> local crypt, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1.5
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
