# Shared by bench/run-all.sh and its rows (bench/rows/*.sh): paths, a scrubbed environment, one
# config with crypt remotes for both tools, test data, timing and medians. Sourced, not run.
#
# Environment (every row):
#   BENCH_RUNS       runs per tool (default 3), alternating which tool goes first
#   BENCH_WORK       scratch directory (default: a new one under $BENCH_TMP, ${TMPDIR:-/tmp}), removed at exit
#   CRYPTFS_CLI      the cryptfs entry to measure (default dist/src/cli/cryptfs.cjs of this checkout;
#                    point it at another build's to compare before/after)
#   RCLONE           rclone binary (default rclone)
BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CRYPTFS_CLI="${CRYPTFS_CLI:-$BENCH_ROOT/dist/src/cli/cryptfs.cjs}"
RCLONE="${RCLONE:-rclone}"
BENCH_RUNS="${BENCH_RUNS:-3}"

[[ -f $CRYPTFS_CLI ]] || { echo "bench: $CRYPTFS_CLI not found: run 'npm run build' first" >&2; exit 1; }
command -v "$RCLONE" >/dev/null || { echo "bench: rclone not found" >&2; exit 1; }

if [[ -z ${BENCH_WORK:-} ]]; then
  BENCH_WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cryptfs-bench-XXXXXX")"
  BENCH_OWN_WORK=1
fi
mkdir -p "$BENCH_WORK"
BENCH_CONF="$BENCH_WORK/bench.conf"

# Cleanup steps run at exit, last added first (rows add theirs with bench_on_exit).
declare -a BENCH_EXIT_STEPS=()
bench_on_exit() { BENCH_EXIT_STEPS=("$1" "${BENCH_EXIT_STEPS[@]}"); }
bench_exit() {
  local step
  for step in "${BENCH_EXIT_STEPS[@]}"; do eval "$step" || true; done
  if [[ -n ${BENCH_OWN_WORK:-} ]]; then rm -rf "$BENCH_WORK"; fi
}
trap bench_exit EXIT
trap 'exit 130' INT TERM

# No config password, config path or flag defaults from the caller's shell; no NODE_OPTIONS.
run_env() {
  env -u RCLONE_CONFIG_PASS -u CRYPTFS_CONFIG_PASS -u RCLONE_CONFIG -u CRYPTFS_CONFIG \
    -u RCLONE_TRANSFERS -u CRYPTFS_TRANSFERS -u AWS_CA_BUNDLE -u NODE_OPTIONS "$@"
}
cryptfs() { run_env node "$CRYPTFS_CLI" --config "$BENCH_CONF" "$@"; }
rclone_() { run_env "$RCLONE" --config "$BENCH_CONF" "$@"; }

# ---- the config: crypt remotes with the same keys, one per tool and place ----
bench_config() {
  if [[ ! -f $BENCH_WORK/keys ]]; then
    (umask 077 && {
      printf '%s\n' "bench-password-$$" | run_env "$RCLONE" --config /dev/null obscure -
      printf '%s\n' "bench-salt-$$" | run_env "$RCLONE" --config /dev/null obscure -
    } >"$BENCH_WORK/keys")
    : >"$BENCH_CONF"
    chmod 600 "$BENCH_CONF"
  fi
  { read -r BENCH_OBS; read -r BENCH_OBS2; } <"$BENCH_WORK/keys"
}
# crypt_remote NAME TARGET: adds a crypt remote NAME: over TARGET (same keys for all).
crypt_remote() {
  bench_config
  grep -q "^\[$1\]" "$BENCH_CONF" && return 0
  printf '[%s]\ntype = crypt\nremote = %s\npassword = %s\npassword2 = %s\n\n' "$1" "$2" "$BENCH_OBS" "$BENCH_OBS2" >>"$BENCH_CONF"
}
# swift_remote: adds `swift:` for the loopback object store (started by its script if needed).
swift_remote() {
  bench_config
  grep -q '^\[swift\]' "$BENCH_CONF" && return 0
  eval "$(bash "$BENCH_ROOT/scripts/objstore-server.sh" start 2>/dev/null | grep '^export ' | sed 's/^export //')"  # shell variables, not exported: cryptfs reads CRYPTFS_SWIFT_*/CRYPTFS_S3_* from the environment as backend options
  [[ -n ${CRYPTFS_SWIFT_AUTH_URL:-} ]] || { echo "bench: the object store is not available" >&2; exit 1; }
  printf '[swift]\ntype = swift\nuser = %s\nkey = %s\nauth = %s\nauth_version = 1\n\n' \
    "$CRYPTFS_SWIFT_USER" "$CRYPTFS_SWIFT_KEY" "$CRYPTFS_SWIFT_AUTH_URL" >>"$BENCH_CONF"
}
# s3_remote: adds `s3:` for the loopback object store's S3 API (same store as swift_remote).
s3_remote() {
  bench_config
  [[ -n ${CRYPTFS_S3_ENDPOINT:-} ]] || eval "$(bash "$BENCH_ROOT/scripts/objstore-server.sh" start 2>/dev/null | grep '^export ' | sed 's/^export //')"
  [[ -n ${CRYPTFS_S3_ENDPOINT:-} ]] || { echo "bench: the object store is not available" >&2; exit 1; }
  grep -q '^\[s3\]' "$BENCH_CONF" && return 0
  printf '[s3]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\n\n' \
    "$CRYPTFS_S3_ACCESS_KEY_ID" "$CRYPTFS_S3_SECRET_ACCESS_KEY" "$CRYPTFS_S3_ENDPOINT" "$CRYPTFS_S3_REGION" >>"$BENCH_CONF"
}

# ---- memory ----
# rss_run TOOL ARGS...: runs `TOOL ARGS...` (cryptfs or rclone, with the bench config) and sets
# ROW_VALUE to its peak RSS in MiB (GNU time's %M: the process with all its threads).
rss_run() {
  local tool=$1 out="$BENCH_WORK/rss.out"
  shift
  local -a cmd
  if [[ $tool == cryptfs ]]; then cmd=(node "$CRYPTFS_CLI"); else cmd=("$RCLONE"); fi
  run_env /usr/bin/time -f '%M' -o "$out" "${cmd[@]}" --config "$BENCH_CONF" "$@"
  ROW_VALUE=$(awk '/^[0-9]+$/ { kb = $1 } END { printf "%.0f", kb / 1024 }' "$out")
}
# peak_rss_of_pid PID: VmHWM of a running process, in MiB.
peak_rss_of_pid() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# ---- data ----
# gen_files DIR COUNT MIN_BYTES MAX_BYTES: random files (kept for the whole run when DIR exists).
gen_files() {
  [[ -d $1 ]] && return 0
  node "$BENCH_ROOT/bench/lib/gen-files.mjs" "$1.tmp" "$2" "$3" "$4" && mv "$1.tmp" "$1"
}
# dir_bytes DIR: total size of the files under DIR.
dir_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# ---- time ----
now_ns() { date +%s%N; }
# median of numbers
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
