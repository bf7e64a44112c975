#!/usr/bin/env bash
# Installs what cryptfs needs on a fresh Debian machine with Node 20, then builds it.
# System packages only when missing (apt needs root); npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
[ -f /usr/include/fuse3/fuse_lowlevel.h ] || need+=(libfuse3-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The addons' compiler; its AddressSanitizer runtime serves the sanitizer test.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# The mount tests run ordinary programs on the mounted tree (a C build, git, a Python venv, rsync).
command -v git >/dev/null 2>&1 || need+=(git)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v make >/dev/null 2>&1 || need+=(make)
command -v cc >/dev/null 2>&1 || need+=(gcc)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# The conformance suites (test/third_party): pjdfstest is built with autotools and names its files
# with openssl md5; its TAP is read by our test, so no perl/prove.
command -v autoreconf >/dev/null 2>&1 || need+=(autoconf)
command -v automake >/dev/null 2>&1 || need+=(automake)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Reinstall node modules only when the lock file changed since the last install.
stamp=node_modules/.cryptfs-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# npm ci builds the addons (binding.gyp); rebuild them if missing (build/ was cleaned) or older than their sources.
stale=0
for addon in build/Release/cryptfs_fuse.node build/Release/cryptfs_fs.node build/Release/cryptfs_notify.node build/Release/cryptfs_scrypt.node; do
  [ -f "$addon" ] || stale=1
  for src in native/*.c native/*.h binding.gyp; do [ "$src" -nt "$addon" ] && stale=1; done
done
if [ -f binding.gyp ] && [ "$stale" -eq 1 ]; then
  echo "setup: building the FUSE addon"
  npm rebuild --foreground-scripts --loglevel=error >/dev/null
fi

bash scripts/build-third-party.sh

echo "setup: building"
node scripts/build.mjs
chmod +x dist/src/cli/main.js dist/src/cli/cryptfs.cjs
