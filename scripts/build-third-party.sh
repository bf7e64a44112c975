#!/usr/bin/env bash
# Builds the vendored conformance suites (test/third_party) into .tmp/third_party/, only when
# a source is newer than the build. pjdfstest finds its binary by walking up from the test
# script, so its whole tree (tests included) is copied next to the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/third_party
out=.tmp/third_party
mkdir -p "$out"

# Whether any file under $1 is newer than $2 (or $2 is missing).
stale() {
  [ -e "$2" ] || return 0
  [ -n "$(find "$1" -newer "$2" -print -quit)" ]
}

if stale "$src/pjdfstest" "$out/pjdfstest/pjdfstest"; then
  echo "setup: building pjdfstest"
  rm -rf "$out/pjdfstest"
  cp -r "$src/pjdfstest" "$out/pjdfstest"
  (
    cd "$out/pjdfstest"
    autoreconf -ifs >build.log 2>&1 && ./configure >>build.log 2>&1 && make pjdfstest >>build.log 2>&1
  ) || { echo "setup: building pjdfstest failed (see $out/pjdfstest/build.log)"; tail -n 30 "$out/pjdfstest/build.log"; exit 1; }
fi

if stale "$src/fsx" "$out/fsx/fsx"; then
  echo "setup: building fsx"
  mkdir -p "$out/fsx"
  cc -O2 -o "$out/fsx/fsx" "$src/fsx/fsx.c"
fi
