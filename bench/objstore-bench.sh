#!/usr/bin/env bash
# Copy throughput into crypt over the loopback object store (scripts/objstore-server.sh: Swift
# all-in-one with s3api): `cryptfs copy` against `rclone copy` of the same random data into a crypt
# remote over S3 and over Swift, one config file for both tools, same --transfers, runs
# alternating, each into a fresh bucket/container. Reports MB/s and peak RSS (/usr/bin/time %M)
# per run, medians per tool, then checks the last outputs with `rclone cryptcheck`. Not a test.
#
#   npm run build && bash bench/objstore-bench.sh
#
# Environment:
#   BENCH_SIZE_MIB    total data in MiB (default 1024)
#   BENCH_FILES       number of files (default 8)
#   BENCH_RUNS        runs per tool and backend (default 2)
#   BENCH_TRANSFERS   --transfers for both tools (default 4)
#   BENCH_BACKENDS    which of "s3 swift" to run (default both)
#   BENCH_CHUNK       if set (e.g. 16Mi): S3 chunk_size and upload_cutoff, Swift chunk_size, so the
#                     files go up as multipart uploads / segments; default: the backends' defaults
#                     (S3 5Mi parts above 200Mi, Swift segments above 5Gi)
#   BENCH_CPU_PROF    directory: also run cryptfs once per backend under `node --cpu-prof` there
#   BENCH_TMP         parent of the temporary data (default $TMPDIR or /tmp)
#   RCLONE            rclone binary (default rclone)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/dist/src/cli/cryptfs.cjs"
RCLONE="${RCLONE:-rclone}"
SIZE_MIB="${BENCH_SIZE_MIB:-1024}"
FILES="${BENCH_FILES:-8}"
RUNS="${BENCH_RUNS:-2}"
TRANSFERS="${BENCH_TRANSFERS:-4}"
BACKENDS="${BENCH_BACKENDS:-s3 swift}"
CHUNK="${BENCH_CHUNK:-}"
TIME=/usr/bin/time

[[ -f "$CLI" ]] || { echo "objstore-bench: $CLI not found: run 'npm run build' first" >&2; exit 1; }
command -v "$RCLONE" >/dev/null || { echo "objstore-bench: rclone not found" >&2; exit 1; }
[[ -x $TIME ]] || { echo "objstore-bench: $TIME not found (package 'time')" >&2; exit 1; }
(( FILES >= 1 && SIZE_MIB >= FILES )) || { echo "objstore-bench: need BENCH_SIZE_MIB >= BENCH_FILES >= 1" >&2; exit 1; }

# The object store: started (and left running) by its script; its endpoints come as export lines.
eval "$(bash "$ROOT/scripts/objstore-server.sh" start 2>/dev/null | grep '^export ')"
[[ -n ${CRYPTFS_S3_ENDPOINT:-} ]] || { echo "objstore-bench: the object store did not start" >&2; exit 1; }

TMP="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cryptfs-objbench-XXXXXX")"
CONF="$TMP/bench.conf"
# Buckets/containers made by this run, removed at exit (also on failure).
declare -a MADE=()
# Scrubbed environment: no config/flag defaults from the caller; rclone's S3 fails with AWS_CA_BUNDLE.
run_env() { env -u RCLONE_CONFIG_PASS -u CRYPTFS_CONFIG_PASS -u RCLONE_CONFIG -u CRYPTFS_CONFIG \
  -u RCLONE_TRANSFERS -u CRYPTFS_TRANSFERS -u AWS_CA_BUNDLE -u NODE_OPTIONS "$@"; }
remove_store() { # s3|swift bucket-or-container
  run_env "$RCLONE" --config "$CONF" purge "$1:$2" >/dev/null 2>&1 || true
  # Swift segments (rclone and cryptfs) and s3api's multipart parts live beside the container.
  run_env "$RCLONE" --config "$CONF" purge "swift:$2_segments" >/dev/null 2>&1 || true
  run_env "$RCLONE" --config "$CONF" purge "swift:$2+segments" >/dev/null 2>&1 || true
}
cleanup() {
  local m
  for m in "${MADE[@]}"; do remove_store ${m/:/ }; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== object store copy benchmark: ${SIZE_MIB} MiB in ${FILES} files, --transfers ${TRANSFERS}, ${RUNS} runs per tool and backend =="
echo "   $("$RCLONE" version | head -1), node $(node --version), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   server: Swift all-in-one + s3api at $CRYPTFS_S3_ENDPOINT (storage: $(cat "$CRYPTFS_OBJSTORE_DIR/run/storage" 2>/dev/null || echo '?'))"
if [[ -n $CHUNK ]]; then
  echo "   large objects: S3 chunk_size = upload_cutoff = $CHUNK, Swift chunk_size = $CHUNK"
else
  echo "   large objects: backend defaults (S3 multipart above 200Mi in 5Mi parts; Swift segments above 5Gi)"
fi

# ---- data ----
mkdir -p "$TMP/src"
per_file=$((SIZE_MIB / FILES))
rest=$((SIZE_MIB - per_file * FILES))
for ((i = 0; i < FILES; i++)); do
  mib=$per_file
  ((i == FILES - 1)) && mib=$((per_file + rest))
  head -c $((mib * 1048576)) /dev/urandom >"$TMP/src/data-$i.bin"
done
TOTAL_BYTES=$((SIZE_MIB * 1048576))

# ---- config: rclone's own s3 and swift remotes, crypt over each (targets given per run) ----
PASS="$(head -c 24 /dev/urandom | base64)"
PASS2="$(head -c 24 /dev/urandom | base64)"
OBS="$(printf '%s\n' "$PASS" | run_env "$RCLONE" --config /dev/null obscure -)"
OBS2="$(printf '%s\n' "$PASS2" | run_env "$RCLONE" --config /dev/null obscure -)"
{
  cat <<EOF
[s3]
type = s3
provider = Other
access_key_id = $CRYPTFS_S3_ACCESS_KEY_ID
secret_access_key = $CRYPTFS_S3_SECRET_ACCESS_KEY
endpoint = $CRYPTFS_S3_ENDPOINT
region = $CRYPTFS_S3_REGION
force_path_style = true
EOF
  [[ -n $CHUNK ]] && printf 'chunk_size = %s\nupload_cutoff = %s\n' "$CHUNK" "$CHUNK"
  cat <<EOF

[swift]
type = swift
user = $CRYPTFS_SWIFT_USER
key = $CRYPTFS_SWIFT_KEY
auth = $CRYPTFS_SWIFT_AUTH_URL
auth_version = 1
EOF
  [[ -n $CHUNK ]] && printf 'chunk_size = %s\n' "$CHUNK"
  echo
} >"$CONF"
chmod 600 "$CONF"
# crypt_section NAME TARGET: a crypt remote `NAME:` over TARGET (same keys for every one).
crypt_section() {
  printf '[%s]\ntype = crypt\nremote = %s\npassword = %s\npassword2 = %s\n\n' "$1" "$2" "$OBS" "$OBS2" >>"$CONF"
}

cat "$TMP"/src/* >/dev/null # both tools find the source in the page cache
now_ns() { date +%s%N; }

# run_copy TOOL BACKEND RUN: copies the source into crypt over a fresh bucket/container; sets SECS, RSS_MIB, LAST.
run_copy() {
  local tool=$1 backend=$2 run=$3 name remote start end prof=()
  name="cryptfs-bench-${backend}-${tool}-${run}-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  remote="c_${name//-/_}"
  crypt_section "$remote" "$backend:$name"
  MADE+=("$backend:$name")
  sync
  start=$(now_ns)
  if [[ $tool == cryptfs ]]; then
    [[ -n ${PROF_DIR:-} ]] && prof=(--cpu-prof --cpu-prof-dir "$PROF_DIR" --cpu-prof-name "cryptfs-$backend.cpuprofile")
    run_env "$TIME" -f '%M' -o "$TMP/time.out" node "${prof[@]}" "$CLI" --config "$CONF" copy --transfers "$TRANSFERS" "$TMP/src" "$remote:" >&2
  else
    run_env "$TIME" -f '%M' -o "$TMP/time.out" "$RCLONE" --config "$CONF" copy --transfers "$TRANSFERS" "$TMP/src" "$remote:" >&2
  fi
  end=$(now_ns)
  SECS=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }')
  RSS_MIB=$(awk '/^[0-9]+$/ { printf "%.0f", $1 / 1024 }' "$TMP/time.out")
  LAST="$remote"
}

# median of MB/s over a list of seconds
median_mbs() { printf '%s\n' "$@" | sort -g | awk -v b="$TOTAL_BYTES" '
  { t[NR] = $1 } END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%.1f", b / m / 1e6 }'; }
max_of() { printf '%s\n' "$@" | sort -g | tail -1; }

declare -a SUMMARY=()
fail=0
for backend in $BACKENDS; do
  echo
  echo "== crypt over $backend =="
  declare -a T_C=() T_R=() M_C=() M_R=()
  declare -A KEEP=() KEEP_REMOTE=()
  for ((r = 1; r <= RUNS; r++)); do
    if ((r % 2 == 1)); then order=(cryptfs rclone); else order=(rclone cryptfs); fi
    for tool in "${order[@]}"; do
      run_copy "$tool" "$backend" "$r"
      mbs=$(awk -v b="$TOTAL_BYTES" -v s="$SECS" 'BEGIN { printf "%.1f", b / s / 1e6 }')
      printf '   run %d  %-7s  %7.3f s  %7s MB/s  peak RSS %5s MiB\n' "$r" "$tool" "$SECS" "$mbs" "$RSS_MIB"
      if [[ $tool == cryptfs ]]; then T_C+=("$SECS") M_C+=("$RSS_MIB"); else T_R+=("$SECS") M_R+=("$RSS_MIB"); fi
      # Keep the last output of each tool for the check; drop older ones now (the store is a loop image).
      if [[ -n ${KEEP[$tool]:-} ]]; then remove_store "$backend" "${KEEP[$tool]}"; fi
      KEEP[$tool]="${MADE[-1]#*:}"
      KEEP_REMOTE[$tool]="$LAST"
    done
  done
  C=$(median_mbs "${T_C[@]}")
  R=$(median_mbs "${T_R[@]}")
  ratio=$(awk -v c="$C" -v r="$R" 'BEGIN { printf "%.2f", c / r }')
  printf '   median: cryptfs %s MB/s (peak RSS ≤ %s MiB), rclone %s MB/s (peak RSS ≤ %s MiB); cryptfs/rclone %s×\n' \
    "$C" "$(max_of "${M_C[@]}")" "$R" "$(max_of "${M_R[@]}")" "$ratio"
  SUMMARY+=("$(printf '%-6s cryptfs %7s MB/s %5s MiB | rclone %7s MB/s %5s MiB | ratio %s×' \
    "$backend" "$C" "$(max_of "${M_C[@]}")" "$R" "$(max_of "${M_R[@]}")" "$ratio")")

  # Both outputs must be what the source encrypts to (rclone as the oracle).
  for tool in cryptfs rclone; do
    if run_env "$RCLONE" --config "$CONF" cryptcheck "$TMP/src" "${KEEP_REMOTE[$tool]}:" 2>"$TMP/cryptcheck.log"; then
      echo "   rclone cryptcheck of the $tool output: ok ($(grep -o '[0-9]* matching files' "$TMP/cryptcheck.log"))"
    else
      echo "   rclone cryptcheck of the $tool output FAILED:" >&2
      cat "$TMP/cryptcheck.log" >&2
      fail=1
    fi
  done

  if [[ -n ${BENCH_CPU_PROF:-} ]]; then
    mkdir -p "$BENCH_CPU_PROF"
    PROF_DIR="$(cd "$BENCH_CPU_PROF" && pwd)"
    run_copy cryptfs "$backend" prof
    unset PROF_DIR
    echo "   profiled cryptfs run: ${SECS} s; profile in $BENCH_CPU_PROF/cryptfs-$backend.cpuprofile"
  fi
  unset T_C T_R M_C M_R KEEP KEEP_REMOTE
done

echo
echo "== summary (${SIZE_MIB} MiB in ${FILES} files, --transfers ${TRANSFERS}; medians; peak RSS is the largest of the runs) =="
for line in "${SUMMARY[@]}"; do echo "   $line"; done
if ((fail)); then
  echo "   verification FAILED" >&2
  exit 1
fi
