#!/usr/bin/env bash
# Copy throughput into a local crypt remote: `cryptfs copy` against `rclone copy`
# on the same random data, same number of transfers, runs alternating, then a
# check that both outputs decrypt (with rclone) to the source bytes. Not a test:
# it prints figures. Afterwards it runs the cipher micro-benchmark if it is built.
#
#   npm run build && bash bench/copy-bench.sh
#
# Environment:
#   BENCH_SIZE_MIB   total data size in MiB (default 512)
#   BENCH_FILES      number of files the data is split into (default 8; 1 = one big file)
#   BENCH_RUNS       runs per tool (default 3)
#   BENCH_TRANSFERS  --transfers for both tools (default 4, rclone's default)
#   BENCH_SYNC       1 = include `sync` (writing back to disk) in the timed part (default 0)
#   BENCH_TMP        parent directory for the temporary data (default $TMPDIR or /tmp)
#   BENCH_CRYPTO     0 = skip the cipher micro-benchmark (default 1)
#   RCLONE           rclone binary (default rclone)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/dist/src/cli/cryptfs.cjs"
RCLONE="${RCLONE:-rclone}"
SIZE_MIB="${BENCH_SIZE_MIB:-512}"
FILES="${BENCH_FILES:-8}"
RUNS="${BENCH_RUNS:-3}"
TRANSFERS="${BENCH_TRANSFERS:-4}"
SYNC_TIMED="${BENCH_SYNC:-0}"

[[ -f "$CLI" ]] || { echo "copy-bench: $CLI not found: run 'npm run build' first" >&2; exit 1; }
command -v "$RCLONE" >/dev/null || { echo "copy-bench: rclone not found (install the rclone package)" >&2; exit 1; }
(( FILES >= 1 && SIZE_MIB >= FILES )) || { echo "copy-bench: need BENCH_SIZE_MIB >= BENCH_FILES >= 1" >&2; exit 1; }

TMP="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cryptfs-bench-XXXXXX")"
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

# A scrubbed environment: no config password or flag defaults from the caller's shell.
run_env() { env -u RCLONE_CONFIG_PASS -u CRYPTFS_CONFIG_PASS -u RCLONE_CONFIG -u CRYPTFS_CONFIG \
  -u RCLONE_TRANSFERS -u CRYPTFS_TRANSFERS -u AWS_CA_BUNDLE "$@"; }

echo "== copy benchmark: ${SIZE_MIB} MiB in ${FILES} file(s), --transfers ${TRANSFERS}, ${RUNS} runs each =="
echo "   $("$RCLONE" version | head -1), node $(node --version), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- data ----
mkdir -p "$TMP/src"
per_file=$(( SIZE_MIB / FILES ))
rest=$(( SIZE_MIB - per_file * FILES ))
for ((i = 0; i < FILES; i++)); do
  mib=$per_file
  (( i == FILES - 1 )) && mib=$(( per_file + rest ))
  head -c $(( mib * 1048576 )) /dev/urandom > "$TMP/src/data-$i.bin"
done
TOTAL_BYTES=$(( SIZE_MIB * 1048576 ))

# ---- config: two crypt remotes with the same keys over two local directories ----
PASS="$(head -c 24 /dev/urandom | base64)"
PASS2="$(head -c 24 /dev/urandom | base64)"
OBS="$(printf '%s\n' "$PASS" | run_env "$RCLONE" --config /dev/null obscure -)"
OBS2="$(printf '%s\n' "$PASS2" | run_env "$RCLONE" --config /dev/null obscure -)"
mkdir -p "$TMP/enc-cryptfs" "$TMP/enc-rclone"
CONF="$TMP/bench.conf"
cat > "$CONF" <<EOF
[bench_cryptfs]
type = crypt
remote = $TMP/enc-cryptfs
password = $OBS
password2 = $OBS2

[bench_rclone]
type = crypt
remote = $TMP/enc-rclone
password = $OBS
password2 = $OBS2
EOF
chmod 600 "$CONF"

# ---- page cache: drop it before each run when allowed, else keep the source warm for both ----
if sync && (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
  CACHE_MODE=drop
  echo "   page cache: dropped before every run (source read from disk)"
else
  CACHE_MODE=warm
  echo "   page cache: cannot drop it here; the source is read once beforehand so both tools find it cached"
fi
prepare_cache() {
  sync
  if [[ $CACHE_MODE == drop ]]; then
    echo 3 > /proc/sys/vm/drop_caches
  else
    cat "$TMP"/src/* > /dev/null
  fi
}

now_ns() { date +%s%N; }

# run_copy TOOL: copies the source into the tool's remote; sets SECS to the elapsed time.
run_copy() {
  local tool=$1 dest start end
  dest="$TMP/enc-$tool"
  rm -rf "$dest" && mkdir -p "$dest"
  prepare_cache
  start=$(now_ns)
  if [[ $tool == cryptfs ]]; then
    run_env node "$CLI" --config "$CONF" copy --transfers "$TRANSFERS" "$TMP/src" bench_cryptfs: >&2
  else
    run_env "$RCLONE" --config "$CONF" copy --transfers "$TRANSFERS" "$TMP/src" bench_rclone: >&2
  fi
  if [[ $SYNC_TIMED == 1 ]]; then sync; fi
  end=$(now_ns)
  sync
  SECS=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }')
}

declare -a T_CRYPTFS=() T_RCLONE=()
for ((r = 1; r <= RUNS; r++)); do
  # Alternate which tool goes first, so neither always gets the warmer machine.
  if (( r % 2 == 1 )); then order=(cryptfs rclone); else order=(rclone cryptfs); fi
  for tool in "${order[@]}"; do
    run_copy "$tool"
    mbs=$(awk -v b="$TOTAL_BYTES" -v s="$SECS" 'BEGIN { printf "%.1f", b / s / 1e6 }')
    printf '   run %d  %-7s  %7.3f s  %7s MB/s\n' "$r" "$tool" "$SECS" "$mbs"
    if [[ $tool == cryptfs ]]; then T_CRYPTFS+=("$SECS"); else T_RCLONE+=("$SECS"); fi
  done
done

# median and best of a list of seconds, as MB/s
stats() { printf '%s\n' "$@" | sort -g | awk -v b="$TOTAL_BYTES" '
  { t[NR] = $1 } END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
  printf "%.1f %.1f", b / m / 1e6, b / t[1] / 1e6 }'; }
read -r C_MED C_BEST <<< "$(stats "${T_CRYPTFS[@]}")"
read -r R_MED R_BEST <<< "$(stats "${T_RCLONE[@]}")"
RATIO=$(awk -v c="$C_MED" -v r="$R_MED" 'BEGIN { printf "%.2f", c / r }')
echo
printf '   cryptfs copy : median %7s MB/s  best %7s MB/s\n' "$C_MED" "$C_BEST"
printf '   rclone copy  : median %7s MB/s  best %7s MB/s\n' "$R_MED" "$R_BEST"
printf '   ratio cryptfs/rclone (medians): %s×  (target ≥ 1.5×)\n' "$RATIO"

# ---- both outputs must decrypt, with rclone, to the source ----
echo
echo "== verifying: rclone cat of every file of both remotes equals the source =="
fail=0
for f in "$TMP"/src/*; do
  name=$(basename "$f")
  for remote in bench_cryptfs bench_rclone; do
    if ! run_env "$RCLONE" --config "$CONF" cat "$remote:$name" | cmp -s - "$f"; then
      echo "   MISMATCH: $remote:$name does not decrypt to the source" >&2
      fail=1
    fi
  done
done
if ! run_env "$RCLONE" --config "$CONF" cryptcheck "$TMP/src" bench_cryptfs: 2> "$TMP/cryptcheck.log"; then
  echo "   rclone cryptcheck of the cryptfs output failed:" >&2
  cat "$TMP/cryptcheck.log" >&2
  fail=1
fi
if (( fail )); then echo "   verification FAILED" >&2; exit 1; fi
echo "   ok: ${FILES} file(s) from each tool decrypt to the source bytes; rclone cryptcheck passes on the cryptfs output"

# ---- cipher micro-benchmark (another part of the project) ----
if [[ "${BENCH_CRYPTO:-1}" != 0 ]]; then
  if [[ -f "$ROOT/dist/bench/crypto-bench.js" ]]; then
    echo
    echo "== cipher benchmark: node dist/bench/crypto-bench.js =="
    run_env node "$ROOT/dist/bench/crypto-bench.js"
  else
    echo
    echo "(dist/bench/crypto-bench.js not built: cipher benchmark skipped)"
  fi
fi
