#!/usr/bin/env bash
# make install / make uninstall into a staging folder (never the host's /, /boot or /etc):
# every file lands where docs/boot.md says with the right mode, uninstall removes exactly what
# install added and keeps configuration, and the GRUB snippet yields the debug and rescue entries
# for a staged /boot. update-initramfs/update-grub only run for DESTDIR-less installs; here the
# Makefile must say it skipped them.
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-.build-vm/swift}   # share the engine build with tools/vm/build.sh
D=$(mktemp -d /tmp/shaolin-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export PATH=/opt/swift/usr/bin:$PATH

# A configuration the operator wrote must survive install and uninstall.
mkdir -p "$D/etc/shaolin"
echo "# operator's file" > "$D/etc/shaolin/shaolin.toml"
out=$(make --no-print-directory install DESTDIR="$D" 2>&1) || { echo "$out"; fail "make install"; }
echo "$out" | grep -q "boot setup not updated" || fail "DESTDIR install did not say it skipped update-initramfs/update-grub"
while read -r f; do
  [ -f "$D$f" ] || fail "not installed: $f"
done < <(make --no-print-directory installed-files)
for x in /usr/sbin/shaolind /usr/bin/shaolinctl /usr/share/initramfs-tools/hooks/shaolin \
         /usr/share/initramfs-tools/scripts/init-premount/shaolin /usr/lib/shaolin/shaolin-adopt /etc/grub.d/42_shaolin; do
  [ -x "$D$x" ] || fail "not executable: $x"
done
[ "$(stat -c %a "$D/etc/shaolin")" = 700 ] || fail "/etc/shaolin is not 0700"
ldd "$D/usr/sbin/shaolind" | grep -q libswiftCore && fail "installed shaolind needs libswiftCore.so (not --static-swift-stdlib)"
readelf -S "$D/usr/sbin/shaolind" | grep -q '\.symtab' && fail "installed shaolind is not stripped"
[ "$(stat -c %s "$D/usr/sbin/shaolind")" -le 10000000 ] || fail "installed shaolind is $(stat -c %s "$D/usr/sbin/shaolind") bytes (issue 3: <= 10 MB)"
"$D/usr/sbin/shaolind" --version | grep -q shaolind || fail "installed shaolind does not run"
grep -q "operator's file" "$D/etc/shaolin/shaolin.toml" || fail "install overwrote /etc/shaolin/shaolin.toml"
sh -n "$D/usr/share/initramfs-tools/hooks/shaolin" && sh -n "$D/usr/share/initramfs-tools/scripts/init-premount/shaolin"
[ "$("$D/usr/share/initramfs-tools/hooks/shaolin" prereqs)" = "" ] || fail "hook prereqs"
[ "$("$D/usr/share/initramfs-tools/scripts/init-premount/shaolin" prereqs)" = "udev" ] || fail "script prereqs"

# The units parse (systemd-analyze verify against the staged root; targets the stage lacks are
# the only complaints allowed).
if command -v systemd-analyze >/dev/null 2>&1; then
  v=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root="$D" "$D/lib/systemd/system/shaolin.service" \
        "$D/lib/systemd/system/shaolin-initramfs.service" 2>&1 | grep -v 'target not found' || true)
  [ -z "$v" ] || fail "systemd-analyze verify: $v"
fi

# The GRUB snippet against a staged /boot.
mkdir -p "$D/boot"; touch "$D/boot/vmlinuz-6.1.0-9-amd64" "$D/boot/initrd.img-6.1.0-9-amd64"
touch "$D/boot/vmlinuz-6.1.0-10-amd64" "$D/boot/initrd.img-6.1.0-10-amd64"
menu=$(SHAOLIN_GRUB_BOOT="$D/boot" GRUB_DEVICE_UUID=1234-abcd GRUB_CMDLINE_LINUX="net.ifnames=0" sh "$D/etc/grub.d/42_shaolin" 2>/dev/null)
[ "$(echo "$menu" | grep -c '^menuentry')" = 2 ] || fail "GRUB snippet: expected 2 entries, got: $menu"
echo "$menu" | grep -q "vmlinuz-6.1.0-10-amd64 root=UUID=1234-abcd ro net.ifnames=0 shaolin=debug" || fail "GRUB debug entry: $menu"
echo "$menu" | grep -q "shaolin=off" || fail "GRUB rescue entry: $menu"
echo "$menu" | grep -q "initrd.img-6.1.0-10-amd64" || fail "GRUB entry does not use the newest initrd: $menu"

make --no-print-directory uninstall DESTDIR="$D" >/dev/null 2>&1 || fail "make uninstall"
rm -rf "$D/boot"
left=$(cd "$D" && find . -type f ! -path ./etc/shaolin/shaolin.toml)
[ -z "$left" ] || fail "left after uninstall: $left"
grep -q "operator's file" "$D/etc/shaolin/shaolin.toml" || fail "uninstall removed the operator's configuration"
echo "install/uninstall into DESTDIR: ok ($(make --no-print-directory installed-files | wc -l) files)"
