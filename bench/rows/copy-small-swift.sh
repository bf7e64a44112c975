# `copy` of many 4 KiB files into crypt over the loopback Swift (BENCH_SMALL_COUNT, default 2000)
COPY_DATA=small-4k COPY_COUNT="${BENCH_SMALL_COUNT:-2000}" COPY_MIN=4096 COPY_MAX=4096 COPY_WHERE=swift
ROW_TITLE="copy $COPY_COUNT x 4 KiB -> crypt over Swift, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1.5
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
