# cold start: `lsf` of a local crypt remote holding one file (a whole process start each run)
ROW_TITLE="lsf of a 1-file local crypt remote (cold start)"
ROW_TARGET=1.0
row_setup() {
  crypt_remote c_lsf "$BENCH_WORK/enc-lsf"
  echo hello | rclone_ rcat c_lsf:one.txt
}
row_run() {
  local out
  if [[ $1 == cryptfs ]]; then out=$(cryptfs lsf c_lsf:); else out=$(rclone_ lsf c_lsf:); fi
  [[ $out == one.txt ]] || { echo "lsf-cold: $1 listed '$out'" >&2; return 1; }
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exec bash "$(dirname "$0")/../run-all.sh" "$(basename "$0" .sh)"; fi
