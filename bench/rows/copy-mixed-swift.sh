# `copy` of files of mixed sizes 1–64 KiB into crypt over the loopback Swift (BENCH_MIXED_COUNT, default 2000; BENCH_FULL=1: 10000)
COPY_DATA=mixed COPY_COUNT="${BENCH_MIXED_COUNT:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 10000 || echo 2000)}"
COPY_MIN=1024 COPY_MAX=65536 COPY_WHERE=swift
ROW_TITLE="copy $COPY_COUNT x 1-64 KiB -> crypt over Swift, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1.5
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
