#!/usr/bin/env bash
# The main job on the embedded default: a crypt remote over a local folder
# (no server needed). Encrypts a sample tree, shows what is stored, reads it
# back, and lets the real rclone verify the result.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=.demo
cryptfs() { node dist/src/cli/cryptfs.cjs --config "$demo/cryptfs.conf" "$@"; }
mkdir -p "$demo"

if [ ! -f "$demo/cryptfs.conf" ]; then
  # Fresh random passwords, stored obscured as rclone does.
  pw=$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('base64url'))")
  salt=$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('base64url'))")
  # The config holds (obscured) passwords: readable by its owner only.
  touch "$demo/cryptfs.conf" && chmod 600 "$demo/cryptfs.conf"
  cat > "$demo/cryptfs.conf" <<CONF
# Made by scripts/demo.sh: a crypt remote over a local folder.
[demo-local]
type = local

[secret]
type = crypt
remote = demo-local:$PWD/$demo/encrypted
filename_encryption = standard
directory_name_encryption = true
password = $(node dist/src/cli/cryptfs.cjs obscure "$pw")
password2 = $(node dist/src/cli/cryptfs.cjs obscure "$salt")
CONF
fi

rm -rf "$demo/plain" "$demo/restored"
mkdir -p "$demo/plain/reports 2026" "$demo/plain/Ünïcödé"
echo "patient 0042: blood pressure 120/80" > "$demo/plain/hello.txt"
printf 'quarterly numbers\n' > "$demo/plain/reports 2026/Q1 – summary.txt"
echo "日本語のファイル" > "$demo/plain/Ünïcödé/日本語.txt"
head -c 5000000 /dev/urandom > "$demo/plain/reports 2026/large.bin"

echo "== cryptfs copy $demo/plain secret:"
cryptfs copy -v "$demo/plain" secret: 2>&1 | grep -E "Transferred|Elapsed" || true
echo
echo "== what is stored in $demo/encrypted (names and contents encrypted):"
(cd "$demo/encrypted" && find . -type f -printf '%10s  %p\n' | sort -k2)
echo
echo "== cryptfs ls secret:"
cryptfs ls secret:
echo
echo "== cryptfs cat secret:hello.txt"
cryptfs cat secret:hello.txt
echo
echo "== cryptfs copy secret: $demo/restored, then compare with the original"
cryptfs copy secret: "$demo/restored"
diff -r "$demo/plain" "$demo/restored" && echo "restored tree is identical"
echo
echo "== rclone (the reference implementation) checks the same data:"
rclone --config "$demo/cryptfs.conf" cryptcheck "$demo/plain" secret: 2>&1 | grep -E "differences|matching" || true

# The mount: the decrypted tree as ordinary files (needs /dev/fuse).
if [ -e /dev/fuse ] && [ -f build/Release/cryptfs_fuse.node ]; then
  mnt="$PWD/$demo/mnt"
  mkdir -p "$mnt"
  echo
  echo "== cryptfs mount secret: $mnt --daemon   (cache mode writes is the default)"
  cryptfs mount secret: "$mnt" --daemon --log-file "$demo/mount.log"
  trap 'fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || true' EXIT
  ls -la "$mnt"
  echo "written through the mount on $(date -u +%F)" > "$mnt/from-the-mount.txt"
  sha256sum "$mnt/reports 2026/large.bin" "$demo/plain/reports 2026/large.bin" | awk '{print $1}' | uniq | wc -l | \
    xargs -I{} sh -c '[ {} -eq 1 ] && echo "large.bin read through the mount is identical"'
  echo "== cryptfs umount: returns once every modified file is on the remote; then rclone reads the new file"
  cryptfs umount "$mnt"
  trap - EXIT
  rclone --config "$demo/cryptfs.conf" cat secret:from-the-mount.txt
else
  echo
  echo "(no /dev/fuse here: skipping the mount part of the demo)"
fi
