#!/usr/bin/env bash
# What a copy of many small files costs the file system alone, against cryptfs and rclone `copy`
# of the same files into a local crypt remote. Not a test: it prints figures, to tell how far the
# copy-small-local row's target (1.5x rclone) is from what this machine's disk can do at all.
#
#   bash bench/small-file-floor.sh [COUNT]        (default 2000 files of 4 KiB; BENCH_RUNS, default 3)
#
# The floor is one thread making only the system calls of each layout, in a compiled-ahead loop
# (Python's os module: a microsecond or two per call above the kernel's own time):
#   rclone's  open(O_CREAT) of the final name, write, futimens, close
#   cryptfs's open(O_CREAT|O_EXCL) of a temporary name, write, two fsetxattr (the sealed record),
#             futimens, fstat, close, rename into place
# Each run copies into an emptied directory, as the bench rows do; the source is read each time
# (from the page cache). Both tools' figures include their process start (~0.1 s for node).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${1:-2000}"
RUNS="${BENCH_RUNS:-3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cryptfs-floor-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
command -v python3 >/dev/null || { echo "small-file-floor: needs python3" >&2; exit 1; }
CLI="$ROOT/dist/src/cli/cryptfs.cjs"
[[ -f $CLI ]] || { echo "small-file-floor: $CLI not found: run 'npm run build' first" >&2; exit 1; }

node "$ROOT/bench/lib/gen-files.mjs" "$WORK/src" "$COUNT" 4096 4096
cat "$WORK"/src/*/* >/dev/null
conf="$WORK/floor.conf"
pw=$(printf 'floor-%s\n' $$ | rclone --config /dev/null obscure -)
printf '[c]\ntype = crypt\nremote = %s\npassword = %s\n\n[r]\ntype = crypt\nremote = %s\npassword = %s\n' \
  "$WORK/enc-cryptfs" "$pw" "$WORK/enc-rclone" "$pw" >"$conf"

floor() { # LAYOUT DEST
  python3 - "$1" "$WORK/src" "$2" <<'PY'
import os, sys, time
layout, src, dst = sys.argv[1:4]
record, record2 = b"x" * 240, b"y" * 19  # the sealed record's two xattrs, at their sizes
start = time.perf_counter()
os.mkdir(dst)
n = 0
for d in sorted(os.listdir(src)):
    os.mkdir(os.path.join(dst, d))
    for name in os.listdir(os.path.join(src, d)):
        fd = os.open(os.path.join(src, d, name), os.O_RDONLY)
        data = os.read(fd, 1 << 20)
        os.close(fd)
        data += b"\0" * 48  # header and tag: the ciphertext's size
        target = os.path.join(dst, d, name)
        if layout == "rclone":
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.utime(fd, ns=(0, 0))
            os.close(fd)
        else:
            temp = os.path.join(dst, d, ".partial-%d" % n)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.setxattr(fd, "user.cryptfs-seal", record)
            os.setxattr(fd, "user.cryptfs-seal-2", record2)
            os.utime(fd, ns=(0, 0))
            os.fstat(fd)
            os.close(fd)
            os.rename(temp, target)
        n += 1
print("%.3f" % (time.perf_counter() - start))
PY
}
timed() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", (e - s) / 1e9 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -a F_R=() F_C=() T_R=() T_C=()
for ((r = 1; r <= RUNS; r++)); do
  rm -rf "$WORK/floor"; sync; F_R+=("$(floor rclone "$WORK/floor")")
  rm -rf "$WORK/floor"; sync; F_C+=("$(floor cryptfs "$WORK/floor")")
  rm -rf "$WORK/enc-rclone"; sync; T_R+=("$(timed rclone --config "$conf" copy --transfers 4 "$WORK/src" r:)")
  rm -rf "$WORK/enc-cryptfs"; sync; T_C+=("$(timed node "$CLI" --config "$conf" copy --transfers 4 "$WORK/src" c:)")
done
printf '%s files of 4 KiB, medians of %s runs (seconds)\n' "$COUNT" "$RUNS"
printf '  floor, rclone layout (one thread, system calls only)   %s\n' "$(median "${F_R[@]}")"
printf '  floor, cryptfs layout (one thread, system calls only)  %s\n' "$(median "${F_C[@]}")"
printf '  rclone copy --transfers 4                              %s\n' "$(median "${T_R[@]}")"
printf '  cryptfs copy --transfers 4                             %s\n' "$(median "${T_C[@]}")"
