# `copy` of a few big files into a local crypt remote (BENCH_BIG_MIB in 4 files, default 256; BENCH_FULL=1: 512 in 8)
BIG_MIB="${BENCH_BIG_MIB:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 512 || echo 256)}"
BIG_FILES=$([[ ${BENCH_FULL:-0} == 1 ]] && echo 8 || echo 4)
COPY_DATA="big-$BIG_MIB" COPY_COUNT=$BIG_FILES COPY_MIN=$((BIG_MIB * 1048576 / BIG_FILES)) COPY_MAX=$((BIG_MIB * 1048576 / BIG_FILES)) COPY_WHERE=local
ROW_TITLE="copy $BIG_MIB MiB in $BIG_FILES files -> local crypt, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1.5
source "$(dirname "${BASH_SOURCE[0]}")/../lib/copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
