# peak RSS of `copy` of one big file into crypt over the loopback Swift with 16 MiB segments (--swift-chunk-size 16M; BENCH_RSS_MIB, default 512) — issue #14: ≤ 200 MB
RSS_WHERE=swift RSS_FILES=1 RSS_MIB="${BENCH_RSS_MIB:-512}"
RSS_FLAGS=(--swift-chunk-size 16M)
ROW_TITLE="peak RSS: copy 1 x $RSS_MIB MiB -> crypt over Swift, 16 MiB segments (<= 200 MB)"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/rss-copy-row.sh"
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
