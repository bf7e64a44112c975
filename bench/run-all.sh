#!/usr/bin/env bash
# cryptfs against rclone, side by side: runs the benchmark rows (bench/rows/*.sh) and prints one
# table  workload | cryptfs | rclone | ratio | target.  Not a test: it prints figures.
#
#   npm run build && bash bench/run-all.sh                 # every row
#   bash bench/run-all.sh copy-small-local lsf-cold         # some rows (file names without .sh)
#   bash bench/rows/copy-small-local.sh                     # one row alone (same as the line above)
#   bash bench/run-all.sh --list                            # the rows and what they measure
#
# Each figure is the median of BENCH_RUNS runs per tool (default 3), the tools alternating which
# goes first. ratio = rclone's time / cryptfs's time: above 1 cryptfs is faster. Rows that need
# what this machine lacks (root for FUSE, the object store) print why and are left out.
# Defaults keep a full pass to a few minutes; BENCH_FULL=1 uses the sizes of issue #14
# (10,000 mixed files, 512 MiB big files, ...). Environment: see bench/lib/common.sh and each row.
#
# Adding a row: one file bench/rows/NAME.sh that sets ROW_TITLE (and optionally ROW_TARGET, the
# target ratio as a number, ROW_BYTES for MB/s) and defines
#   row_setup            once, untimed (data, remotes; `row_skip "reason"` to leave the row out)
#   row_before TOOL      untimed, before every run (e.g. empty the destination)        [optional]
#   row_run TOOL         the timed work; TOOL is cryptfs or rclone
#   row_after TOOL       untimed, after every run                                         [optional]
#   row_check            after the runs: verify the outputs (non-zero = the row FAILED)   [optional]
# A row that measures something other than wall time (peak memory) sets ROW_UNIT (e.g. MiB) and, in
# row_run, ROW_VALUE to that run's figure; lower is better there too, so ratio = rclone / cryptfs.
# and ends with the line that lets it run alone:
#   if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
# Helpers for rows (cryptfs, rclone_, crypt_remote, swift_remote, gen_files, ...) are in lib/common.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- one row, in a process of its own: prints "RESULT|title|cryptfs|rclone|bytes|target|status|unit" ----
if [[ ${1:-} == --row ]]; then
  ROW="$2"
  source "$HERE/lib/common.sh"
  ROW_TITLE="$ROW" ROW_TARGET="" ROW_BYTES="" ROW_UNIT=""
  row_skip() { printf 'RESULT|%s|-|-||%s|skipped: %s|\n' "$ROW_TITLE" "$ROW_TARGET" "$1"; exit 0; }
  row_setup() { :; }
  row_before() { :; }
  row_after() { :; }
  row_check() { :; }
  source "$HERE/rows/$ROW.sh"
  row_setup
  declare -a T_C=() T_R=()
  for ((r = 1; r <= BENCH_RUNS; r++)); do
    if ((r % 2 == 1)); then order=(cryptfs rclone); else order=(rclone cryptfs); fi
    for tool in "${order[@]}"; do
      row_before "$tool"
      sync
      ROW_VALUE=""
      start=$(now_ns)
      row_run "$tool"
      end=$(now_ns)
      row_after "$tool"
      secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }')
      if [[ -n $ROW_UNIT ]]; then
        [[ -n $ROW_VALUE ]] || { echo "   $ROW: row_run set no ROW_VALUE" >&2; exit 1; }
        printf '   %-24s run %d  %-7s %8s %s (%s s)\n' "$ROW" "$r" "$tool" "$ROW_VALUE" "$ROW_UNIT" "$secs" >&2
        secs=$ROW_VALUE
      else
        printf '   %-24s run %d  %-7s %8s s\n' "$ROW" "$r" "$tool" "$secs" >&2
      fi
      if [[ $tool == cryptfs ]]; then T_C+=("$secs"); else T_R+=("$secs"); fi
    done
  done
  status=ok
  row_check || status=FAILED
  printf 'RESULT|%s|%s|%s|%s|%s|%s|%s\n' "$ROW_TITLE" "$(median "${T_C[@]}")" "$(median "${T_R[@]}")" "$ROW_BYTES" "$ROW_TARGET" "$status" "$ROW_UNIT"
  exit 0
fi

if [[ ${1:-} == --list ]]; then
  for f in "$HERE"/rows/*.sh; do printf '%-24s %s\n' "$(basename "$f" .sh)" "$(grep -m1 '^# ' "$f" | cut -c3-)"; done
  exit 0
fi

# ---- the driver ----
declare -a ROWS=()
if (($#)); then ROWS=("$@"); else for f in "$HERE"/rows/*.sh; do ROWS+=("$(basename "$f" .sh)"); done; fi
for r in "${ROWS[@]}"; do [[ -f $HERE/rows/$r.sh ]] || { echo "run-all: no row $r (see --list)" >&2; exit 2; }; done

# One scratch directory for every row, so data made by one row is reused by the next.
if [[ -z ${BENCH_WORK:-} ]]; then
  export BENCH_WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cryptfs-bench-XXXXXX")"
  trap 'rm -rf "$BENCH_WORK"' EXIT
fi
echo "== cryptfs vs $(${RCLONE:-rclone} version | head -1): ${BENCH_RUNS:-3} runs per tool, medians; node $(node --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) ==" >&2
declare -a LINES=()
fail=0
for r in "${ROWS[@]}"; do
  out="$(bash "$HERE/run-all.sh" --row "$r" | grep '^RESULT' || true)"
  if [[ -z $out ]]; then out="$(printf 'RESULT|%s|-|-|||FAILED (see above)|' "$r")"; fi
  LINES+=("$out")
  [[ $out == *FAILED* ]] && fail=1
done

fmt() { # seconds bytes [unit] -> "1.234 s (56.7 MB/s)", or "123 MiB" for a row with a unit
  if [[ $1 == - ]]; then echo -; return; fi
  if [[ -n ${3:-} ]]; then printf '%s %s' "$1" "$3"
  elif [[ -n $2 ]]; then awk -v s="$1" -v b="$2" 'BEGIN { printf "%.3f s (%.1f MB/s)", s, b / s / 1e6 }'
  else printf '%.3f s' "$1"; fi
}
echo
printf '| %-58s | %-22s | %-22s | %-6s | %-6s | %s\n' workload cryptfs rclone ratio target status
printf '|%s|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})" "--------" "--------" "---"
for line in "${LINES[@]}"; do
  IFS='|' read -r _ title c r bytes target status unit <<<"$line"
  ratio=-
  [[ $c != - && $r != - ]] && ratio=$(awk -v c="$c" -v r="$r" 'BEGIN { printf "%.2fx", r / c }')
  printf '| %-58s | %-22s | %-22s | %-6s | %-6s | %s\n' "$title" "$(fmt "$c" "$bytes" "$unit")" "$(fmt "$r" "$bytes" "$unit")" "$ratio" "${target:+>= ${target}x}" "$status"
done
echo "(ratio = rclone's figure / cryptfs's (time, or peak memory where the unit says so): above 1 cryptfs is better)"
exit "$fail"
