#!/usr/bin/env bash
# A far object store: cryptfs against rclone 1.60 on crypt over S3 and Swift reached through the
# shaping proxy (scripts/shaping-proxy.mjs: every connection capped at 40 MB/s per direction, 20 ms
# added round trip), in the same run, one config for both tools. Not a test. Workloads:
#   mount read   dd of a SIZE MiB file out of the mount (cryptfs mount vs rclone mount, both
#                --vfs-cache-mode off, rclone with its default chunked reading), fresh mount each
#   cat          `cat` of that file to /dev/null
#   copy down    `copy` of that file to a local directory
#   copy up      `copy` of a SIZE MiB local file up (same --transfers)
#   ls -lR       of FILES small files in 20 directories through a fresh mount (--vfs-cache-mode off)
#   list         `ls` of those files (the command: sizes and names, no times)
#   many down    `copy` of those files to an empty local directory (same --transfers)
# Prints `workload | cryptfs | rclone | ratio` rows (MB/s for transfers, seconds for ls -lR and ls;
# ratio > 1 means cryptfs is better). Data is put in place directly (not through the proxy).
#
#   npm run build && bash bench/far-bench.sh
#
# Environment:
#   BENCH_SIZE_MIB   size of the big file (default 512)
#   BENCH_FILES      files for ls -lR (default 2000)
#   BENCH_RUNS       runs per tool and workload, median reported (default 1)
#   BENCH_BACKENDS   which of "s3 swift" (default both)
#   BENCH_WORKLOADS  which of "mount cat down up ls list manydown" (default all)
#   BENCH_RATE       MB/s per connection and direction (default 40); BENCH_RTT ms (default 20)
#   BENCH_TRANSFERS  --transfers for both tools (default 4)
#   CRYPTFS_FLAGS    extra flags for cryptfs (e.g. --multi-thread-streams 8)
#   RCLONE           rclone binary (default rclone)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/dist/src/cli/cryptfs.cjs"
RCLONE="${RCLONE:-rclone}"
SIZE_MIB="${BENCH_SIZE_MIB:-512}"
FILES="${BENCH_FILES:-2000}"
RUNS="${BENCH_RUNS:-1}"
BACKENDS="${BENCH_BACKENDS:-s3 swift}"
WORKLOADS="${BENCH_WORKLOADS:-mount cat down up ls list manydown}"
RATE="${BENCH_RATE:-40}"
RTT="${BENCH_RTT:-20}"
TRANSFERS="${BENCH_TRANSFERS:-4}"
read -r -a EXTRA <<<"${CRYPTFS_FLAGS:-}"

[[ -f "$CLI" ]] || { echo "far-bench: $CLI not found: run 'npm run build' first" >&2; exit 1; }
command -v "$RCLONE" >/dev/null || { echo "far-bench: rclone not found" >&2; exit 1; }
command -v fusermount3 >/dev/null || { echo "far-bench: fusermount3 not found" >&2; exit 1; }

# The object store is shared: used as it runs, never started or restarted from here.
bash "$ROOT/scripts/objstore-server.sh" status >/dev/null 2>&1 ||
  { echo "far-bench: the object store is not running (scripts/objstore-server.sh start)" >&2; exit 1; }
eval "$(bash "$ROOT/scripts/objstore-server.sh" env 2>/dev/null | grep '^export ' | sed 's/^export //')"  # shell variables, not exported: cryptfs reads CRYPTFS_SWIFT_*/CRYPTFS_S3_* from the environment as backend options
[[ -n ${CRYPTFS_S3_ENDPOINT:-} ]] || { echo "far-bench: no object store endpoints" >&2; exit 1; }
UPSTREAM=${CRYPTFS_S3_ENDPOINT#http://}

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cryptfs-farbench-XXXXXX")"
MNT="$TMP/mnt"
mkdir -p "$MNT" "$TMP/src" "$TMP/down"
PIDFILE="$TMP/proxy.pid"
STORE="farbench$$"
MPID=""
run_env() { env -u RCLONE_CONFIG_PASS -u CRYPTFS_CONFIG_PASS -u RCLONE_CONFIG -u CRYPTFS_CONFIG \
  -u RCLONE_TRANSFERS -u CRYPTFS_TRANSFERS -u AWS_CA_BUNDLE -u NODE_OPTIONS "$@"; }
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u -z "$MNT" 2>/dev/null
  [[ -n $MPID ]] && kill "$MPID" 2>/dev/null
  node "$ROOT/scripts/shaping-proxy.mjs" stop --pid-file "$PIDFILE" || true
  for b in $BACKENDS; do
    run_env "$RCLONE" --config "$TMP/conf" purge "$b-direct:$STORE" >/dev/null 2>&1 || true
    run_env "$RCLONE" --config "$TMP/conf" purge "$b-direct:${STORE}_segments" >/dev/null 2>&1 || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(node "$ROOT/scripts/shaping-proxy.mjs" start --upstream "$UPSTREAM" --rate "$RATE" --rtt "$RTT" --pid-file "$PIDFILE")
FAR=http://127.0.0.1:$PORT
PW=$(run_env "$RCLONE" obscure far-bench-password)
{
  for via in direct far; do
    url=$CRYPTFS_S3_ENDPOINT
    [[ $via == far ]] && url=$FAR
    printf '[s3-%s]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nregion = %s\nendpoint = %s\nforce_path_style = true\n\n' \
      "$via" "$CRYPTFS_S3_ACCESS_KEY_ID" "$CRYPTFS_S3_SECRET_ACCESS_KEY" "$CRYPTFS_S3_REGION" "$url"
    # Swift names the storage URL after the Host it was asked on, so auth through the proxy stays there.
    printf '[swift-%s]\ntype = swift\nuser = %s\nkey = %s\nauth = %s/auth/v1.0\n\n' "$via" "$CRYPTFS_SWIFT_USER" "$CRYPTFS_SWIFT_KEY" "${url}"
    for b in s3 swift; do printf '[c%s-%s]\ntype = crypt\nremote = %s-%s:%s\npassword = %s\n\n' "$b" "$via" "$b" "$via" "$STORE" "$PW"; done
  done
} >"$TMP/conf"
CONF="$TMP/conf"
cryptfs() { run_env node "$CLI" --config "$CONF" "${EXTRA[@]}" "$@"; }
rcl() { run_env "$RCLONE" --config "$CONF" "$@"; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mbps() { awk -v s="$SIZE_MIB" -v t="$1" 'BEGIN { printf "%.1f", s * 1048576 / t / 1e6 }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ROWS=()
# row <workload> <cryptfs figure> <rclone figure> <higher|lower is better>
row() {
  local ratio
  if [[ $4 == higher ]]; then ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')
  else ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", b / a }'); fi
  ROWS+=("$1 | $2 | $3 | $ratio")
  echo "$1 | $2 | $3 | $ratio" >&2
}

mount_tool() { # tool remote
  if [[ $1 == cryptfs ]]; then
    cryptfs mount "$2:" "$MNT" --vfs-cache-mode off --cache-dir "$TMP/cache-cryptfs" 2>>"$TMP/mount-cryptfs.log" &
  else
    rcl mount "$2:" "$MNT" --vfs-cache-mode off --cache-dir "$TMP/cache-rclone" 2>>"$TMP/mount-rclone.log" &
  fi
  MPID=$!
  for _ in $(seq 1 300); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
  echo "far-bench: $1 did not mount (see $TMP/mount-$1.log)" >&2
  exit 1
}
unmount_tool() {
  for _ in $(seq 1 100); do fusermount3 -u "$MNT" 2>/dev/null && break; sleep 0.1; done
  wait "$MPID" 2>/dev/null || true
  MPID=""
}

# timed <tool> <workload> <backend> -> seconds
timed() {
  local tool=$1 w=$2 b=$3 t0
  local remote="c$b-far"
  case $w in
    mount)
      mount_tool "$tool" "$remote"
      t0=$(now); dd if="$MNT/big/big.bin" of=/dev/null bs=1M status=none; secs "$t0"
      unmount_tool ;;
    cat)
      t0=$(now)
      if [[ $tool == cryptfs ]]; then cryptfs cat "$remote:big/big.bin" >/dev/null; else rcl cat "$remote:big/big.bin" >/dev/null; fi
      secs "$t0" ;;
    down)
      rm -rf "$TMP/down"/*
      t0=$(now)
      if [[ $tool == cryptfs ]]; then cryptfs copy --transfers "$TRANSFERS" "$remote:big" "$TMP/down"; else rcl copy --transfers "$TRANSFERS" "$remote:big" "$TMP/down"; fi
      secs "$t0"
      cmp -s "$TMP/down/big.bin" "$TMP/src/big/big.bin" || { echo "far-bench: $tool copy down: content differs" >&2; exit 1; } ;;
    up)
      rcl purge "c$b-direct:up" >/dev/null 2>&1 || true
      t0=$(now)
      if [[ $tool == cryptfs ]]; then cryptfs copy --transfers "$TRANSFERS" "$TMP/src/big" "$remote:up"; else rcl copy --transfers "$TRANSFERS" "$TMP/src/big" "$remote:up"; fi
      secs "$t0" ;;
    ls)
      mount_tool "$tool" "$remote"
      t0=$(now)
      local n
      n=$(ls -lR "$MNT/many" | grep -c '^-')
      secs "$t0"
      [[ $n == "$FILES" ]] || echo "far-bench: $tool listed $n files, expected $FILES" >&2
      unmount_tool ;;
    list)
      t0=$(now)
      local n
      if [[ $tool == cryptfs ]]; then n=$(cryptfs ls "$remote:many" | wc -l); else n=$(rcl ls "$remote:many" | wc -l); fi
      secs "$t0"
      [[ $n == "$FILES" ]] || echo "far-bench: $tool ls listed $n files, expected $FILES" >&2 ;;
    manydown)
      rm -rf "$TMP/down"/*
      t0=$(now)
      if [[ $tool == cryptfs ]]; then cryptfs copy --transfers "$TRANSFERS" "$remote:many" "$TMP/down"; else rcl copy --transfers "$TRANSFERS" "$remote:many" "$TMP/down"; fi
      secs "$t0"
      diff -r -q "$TMP/down" "$TMP/src/many" >/dev/null || { echo "far-bench: $tool copy of many files: content differs" >&2; exit 1; } ;;
  esac
}

echo "== far object store: proxy ${RATE} MB/s per connection and direction, ${RTT} ms RTT; ${SIZE_MIB} MiB file, ${FILES} files, ${RUNS} run(s), --transfers ${TRANSFERS} ==" >&2
echo "   $(run_env "$RCLONE" version | head -1), node $(node --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)${CRYPTFS_FLAGS:+, cryptfs flags: $CRYPTFS_FLAGS}" >&2

mkdir -p "$TMP/src/big" "$TMP/src/many"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$TMP/src/big/big.bin"
many_files() { [[ " $WORKLOADS " == *" ls "* || " $WORKLOADS " == *" list "* || " $WORKLOADS " == *" manydown "* ]]; }
if many_files; then
  for ((i = 0; i < FILES; i++)); do head -c $((100 + i % 1000)) /dev/urandom >"$TMP/src/many/f$i"; done
  for ((d = 0; d < 20; d++)); do mkdir -p "$TMP/src/many/d$d"; done
  for ((i = 0; i < FILES; i++)); do mv "$TMP/src/many/f$i" "$TMP/src/many/d$((i % 20))/"; done
fi

for b in $BACKENDS; do
  echo "-- $b: putting the data in place (directly, not through the proxy)" >&2
  rcl copy --transfers 16 "$TMP/src/big" "c$b-direct:big"
  many_files && rcl copy --transfers 32 --checkers 32 "$TMP/src/many" "c$b-direct:many"
  for w in $WORKLOADS; do
    c="" r=""
    for ((run = 0; run < RUNS; run++)); do
      c="$c $(timed cryptfs "$w" "$b")"
      r="$r $(timed rclone "$w" "$b")"
    done
    cm=$(echo "$c" | median) rm=$(echo "$r" | median)
    case $w in
      mount) row "$b: mount read ${SIZE_MIB} MiB (MB/s)" "$(mbps "$cm")" "$(mbps "$rm")" higher ;;
      cat) row "$b: cat ${SIZE_MIB} MiB (MB/s)" "$(mbps "$cm")" "$(mbps "$rm")" higher ;;
      down) row "$b: copy download ${SIZE_MIB} MiB (MB/s)" "$(mbps "$cm")" "$(mbps "$rm")" higher ;;
      up) row "$b: copy upload ${SIZE_MIB} MiB (MB/s)" "$(mbps "$cm")" "$(mbps "$rm")" higher ;;
      ls) row "$b: mount ls -lR ${FILES} files (s)" "$cm" "$rm" lower ;;
      list) row "$b: ls ${FILES} files (s)" "$cm" "$rm" lower ;;
      manydown) row "$b: copy download ${FILES} small files (s)" "$cm" "$rm" lower ;;
    esac
  done
done

echo
echo "workload | cryptfs | rclone | ratio"
for r in "${ROWS[@]}"; do echo "$r"; done
