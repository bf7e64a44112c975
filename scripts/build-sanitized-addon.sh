#!/usr/bin/env bash
# Builds the FUSE addon with sanitizers, beside node-gyp's build/Release (which
# it leaves alone), and prints the addon's path:
#   address (default)  ASan + UBSan into build/sanitize/; any report aborts
#                      (-fno-sanitize-recover)
#   thread             TSan into build/tsan/
# Node itself is not instrumented, so the process that loads it needs the
# runtime preloaded:
#
#   LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
#     CRYPTFS_FUSE_ADDON=build/sanitize/cryptfs_fuse.node node ...
#   LD_PRELOAD=$(gcc -print-file-name=libtsan.so) TSAN_OPTIONS=suppressions=native/tsan.supp \
#     CRYPTFS_FUSE_ADDON=build/tsan/cryptfs_fuse.node node ...
#
# (detect_leaks=0: V8 keeps memory to the end and LeakSanitizer would report it;
# tsan.supp: V8's own threads synchronize in code TSan cannot see.)
# test/integration/fuse/mount-sanitized.test.ts runs a mount workload both ways.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-address}
case "$kind" in
  address) out=build/sanitize; sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all) ;;
  thread) out=build/tsan; sanitize=(-fsanitize=thread) ;;
  *) echo "build-sanitized-addon: unknown kind $kind (address or thread)" >&2; exit 2 ;;
esac
mkdir -p "$out"
# Node's headers: where node-gyp found them for this Node (nodedir), else the cache node-gyp keeps.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
node_include="$node_prefix/include/node"
if [ ! -f "$node_include/node_api.h" ]; then
  node_include="$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"
fi
[ -f "$node_include/node_api.h" ] || { echo "build-sanitized-addon: Node's headers (node_api.h) not found" >&2; exit 1; }

# shellcheck disable=SC2046 # pkg-config prints several words on purpose
gcc -std=gnu11 -shared -fPIC -g -O1 -fno-omit-frame-pointer \
  "${sanitize[@]}" \
  -Wall -Wextra -Werror \
  -DNAPI_VERSION=8 -DFUSE_USE_VERSION=312 -DNODE_GYP_MODULE_NAME=cryptfs_fuse \
  -I"$node_include" $(pkg-config --cflags fuse3) \
  native/fuse_binding.c native/fuse_requests.c native/fuse_replies.c \
  -o "$out/cryptfs_fuse.node" $(pkg-config --libs fuse3)
echo "$out/cryptfs_fuse.node"
