# peak RSS of `copy` of big files into crypt over the loopback Swift (BENCH_RSS_MIB in 4 files, default 1024; BENCH_FULL=1: 4096)
RSS_WHERE=swift RSS_FILES=4 RSS_MIB="${BENCH_RSS_MIB:-$([[ ${BENCH_FULL:-0} == 1 ]] && echo 4096 || echo 1024)}"
RSS_FLAGS=()
ROW_TITLE="peak RSS: copy $RSS_MIB MiB in 4 files -> crypt over Swift, --transfers ${BENCH_TRANSFERS:-4}"
ROW_TARGET=1
source "$(dirname "${BASH_SOURCE[0]}")/../lib/rss-copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
