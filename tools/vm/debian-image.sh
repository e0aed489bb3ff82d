#!/usr/bin/env bash
# The Debian shared root for the systemd whole-cluster test (tools/vm/cluster.py debian).
#
#   1. base image (cached): debootstrap --variant=minbase of the machine's own Debian release from
#      the mirror in the machine's apt sources, with systemd as init, a Debian kernel, and what the
#      install needs (initramfs-tools, busybox, kmod, ipmitool, make, grub2-common for update-grub).
#      debootstrap runs into the ext4 image itself, loop-mounted, so grub-probe finds a real block
#      device for / and update-grub works as on a real machine (grub-pc's grub-install, which writes
#      a boot sector, is not needed: qemu loads the kernel and initrd that /boot holds).
#      Cached under $SHAOLIN_VM_CACHE (default .build-vm/cache) by a hash of its inputs.
#   2. on a copy: the cluster configuration goes to /etc/shaolin (what an operator writes), then the
#      REAL install path, `make install` in a chroot (no DESTDIR): update-initramfs -u -k all with
#      shaolin's hook, systemctl enable, update-grub. Checked: the files, the initrd's content, the
#      GRUB menu. This is the shared disk the VMs boot: kernel + initrd are taken from its /boot.
#   3. on another copy of the installed image: `make uninstall`; the files, the initrd's content and
#      the GRUB menu must be exactly as before the install (the operator's /etc/shaolin stays).
# Output in $OUT/debian: shared.pristine.img, vmlinux, initrd.img, manifests/*, install.log.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$HERE/.build-vm}
CACHE=${SHAOLIN_VM_CACHE:-$OUT/cache}
D=$OUT/debian
E=$OUT/etc-shaolin          # written by tools/vm/build.sh (same cluster configuration)
mkdir -p "$CACHE/debs" "$D" "$D/manifests"
cd "$HERE"
say() { echo "debian-image: $*"; }
fail() { echo "debian-image: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (loop mounts, chroot)"
for t in debootstrap losetup mkfs.ext4 chroot; do command -v $t >/dev/null || fail "$t missing (tools/bootstrap.sh installs it)"; done
[ -s "$E/node-alpha.toml" ] || fail "$E/node-alpha.toml missing: run tools/vm/build.sh first"
[ -x "$OUT/swift/release/shaolind" ] && [ -x "$OUT/swift/release/shaolinctl" ] || fail "the engine is not built in $OUT/swift (tools/vm/build.sh builds it)"

# --- the mirror and release: from this machine's apt sources, never written into the repo -----------
. /etc/os-release
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
MIRROR=${SHAOLIN_VM_MIRROR:-}
if [ -z "$MIRROR" ]; then
  MIRROR=$(python3 - "$SUITE" <<'PY'
import glob, sys
suite = sys.argv[1]
# deb822 .sources files: the first stanza of Types deb whose Suites include the release itself
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        f = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line: continue
            k, v = line.split(":", 1); f[k.strip().lower()] = v.split()
        if "deb" in f.get("types", []) and suite in f.get("suites", []) and f.get("uris"):
            print(f["uris"][0]); sys.exit(0)
# one-line format
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try: lines = open(path).read().splitlines()
    except OSError: continue
    for line in lines:
        w = line.split("#")[0].split()
        if len(w) >= 3 and w[0] == "deb":
            w = [x for x in w if not x.startswith("[")] if not any("]" in x for x in w) else [w[0]] + w[[i for i, x in enumerate(w) if x.endswith("]")][0] + 1:]
            if len(w) >= 3 and w[2] == suite: print(w[1]); sys.exit(0)
sys.exit(1)
PY
) || fail "no 'deb' source for $SUITE in /etc/apt/sources.list{,.d/*} (set SHAOLIN_VM_MIRROR)"
fi
PKGS=systemd-sysv,udev,kmod,initramfs-tools,busybox,ipmitool,make,iproute2,procps,grub2-common
KPKG=linux-image-amd64
SIZE=${SHAOLIN_VM_DEBIAN_SIZE:-1400M}

# --- mounting the image (loop), chroot mounts; everything is undone on exit --------------------------
MNT=""; LOOP=""
cleanup() {
  if [ -n "$MNT" ]; then
    for m in tmp dev/pts dev proc sys src; do mountpoint -q "$MNT/$m" && umount -l "$MNT/$m"; done
    mountpoint -q "$MNT" && umount "$MNT"
    rmdir "$MNT" 2>/dev/null || true
    MNT=""
  fi
  if [ -n "$LOOP" ]; then losetup -d "$LOOP" 2>/dev/null || true; LOOP=""; fi
}
trap 'cleanup; rm -rf "$W"' EXIT
# Images are worked on under $W (in /tmp) and loop-mounted there. The loop device's number is
# 10 or more on purpose: grub-mkconfig_lib (prepare_grub_to_access_device) takes a root on
# /dev/loop[0-9] for GRUB's "loopback file on another disk" boot and probes the disk holding the
# image file (the build machine's own disk); /dev/loopNN is probed as the disk it is, as
# /dev/sda would be on a real node, so update-grub runs unchanged.
W=/tmp/shaolin-debian-work
rm -rf "$W"; mkdir -p "$W"
attach_loop() { # IMAGE: prints the loop device
  local n
  for n in $(seq 10 63); do
    [ -e "/sys/block/loop$n/loop/backing_file" ] && continue
    [ -e "/dev/loop$n" ] || mknod "/dev/loop$n" b 7 "$n"
    losetup "/dev/loop$n" "$1" 2>/dev/null && { echo "/dev/loop$n"; return 0; }
  done
  return 1
}
mount_image() { # IMAGE (under $W)
  LOOP=$(attach_loop "$1") || fail "no free loop device /dev/loop10..63"
  MNT=$(mktemp -d /tmp/shaolin-debian.XXXXXX)
  mount "$LOOP" "$MNT"
}
chroot_mounts() {
  mkdir -p "$MNT/dev" "$MNT/proc" "$MNT/sys" "$MNT/tmp"
  mount --bind /dev "$MNT/dev"; mount --bind /dev/pts "$MNT/dev/pts"
  mount -t proc proc "$MNT/proc"; mount -t sysfs sysfs "$MNT/sys"
  mount -t tmpfs -o mode=1777 tmpfs "$MNT/tmp"
}
in_root() { chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# --- 1. the base image ------------------------------------------------------------------------------
KEY=$( { echo "v1 $SUITE $MIRROR $PKGS $KPKG $SIZE $(dpkg --print-architecture)"; sed -n '/^# BASE-BEGIN/,/^# BASE-END/p' "$0"; } | sha256sum | cut -c1-16)
BASE=$CACHE/debian-$SUITE-$KEY.img
if [ -s "$BASE" ]; then
  say "base image cached: $BASE"
else
  # BASE-BEGIN (this block's text is part of the cache key)
  t0=$(date +%s)
  say "building the base image ($SUITE minbase from $MIRROR): $BASE"
  truncate -s "$SIZE" "$W/base.img"
  mkfs.ext4 -q -F -L shaolin-root "$W/base.img"
  mount_image "$W/base.img"
  debootstrap --variant=minbase --include="$PKGS" --cache-dir="$CACHE/debs" "$SUITE" "$MNT" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; fail "debootstrap (log: $CACHE/debootstrap.log)"; }
  say "debootstrap done in $(( $(date +%s) - t0 )) s"
  chroot_mounts
  # The site's initramfs choices (as an admin of these nodes would set them): only the drivers the
  # nodes need (MODULES=list; MODULES=dep cannot see the target hardware from a chroot), gzip.
  sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=gzip/' "$MNT/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >> "$MNT/etc/initramfs-tools/modules"
  echo "do_symlinks = yes" > "$MNT/etc/kernel-img.conf"
  in_root apt-get install -y -qq --no-install-recommends "$KPKG" > "$CACHE/kernel.log" 2>&1 \
    || { tail -n 30 "$CACHE/kernel.log" >&2; fail "installing $KPKG in the image (log: $CACHE/kernel.log)"; }
  in_root apt-get clean
  echo "/dev/vda / ext4 rw,errors=remount-ro 0 0" > "$MNT/etc/fstab"
  echo shaolin-node > "$MNT/etc/hostname"
  # No login prompt on the consoles: the test agent owns ttyS0 (ttyS1 is the serial heartbeat cable).
  ln -sf /dev/null "$MNT/etc/systemd/system/serial-getty@ttyS0.service"
  ln -sf /dev/null "$MNT/etc/systemd/system/getty@tty1.service"
  ln -sf /dev/null "$MNT/etc/systemd/system/serial-getty@ttyS1.service"
  # grub-pc would have made /boot/grub when it installed the boot sector.
  mkdir -p "$MNT/boot/grub"
  say "base image built in $(( $(date +%s) - t0 )) s"
  # BASE-END
  cleanup
  mv "$W/base.img" "$BASE.new"; mv "$BASE.new" "$BASE"
fi

# --- manifests: what uninstall must restore ----------------------------------------------------------
manifest() { # NAME: every path (type, mode, size; a checksum where boot setup and programs live);
              # each initrd's content list; the GRUB menu's entries
  local m="$D/manifests/$1"
  (cd "$MNT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp -o -path ./var/log \
      -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/systemd -o -path ./src -o -path ./lost+found \) -prune \
      -o -printf '%y %m %s %p %l\n' | sort -k4 > "$m.files.tmp"
    # an initrd is compared by its content (below); initramfs-tools keeps its checksum beside it
    dirs=""; for x in ./etc ./boot ./usr/sbin ./usr/bin ./usr/lib/systemd ./usr/share/initramfs-tools ./usr/lib/shaolin; do [ -d "$x" ] && dirs="$dirs $x"; done
    find $dirs -xdev -type f ! -name 'initrd.img-*' -print0 | sort -z | xargs -0 sha256sum) > "$m.sums"
  awk '$1 == "f" && ($4 ~ /^\.\/boot\/initrd\.img-/ || $4 ~ /^\.\/var\/lib\/initramfs-tools\//) { $3 = "-" } { print }' "$m.files.tmp" > "$m.files"
  rm -f "$m.files.tmp"
  for i in "$MNT"/boot/initrd.img-*; do in_root lsinitramfs "/boot/${i##*/}" | sort; done > "$m.initrd"
  grep -E '^[[:space:]]*(menuentry|linux|initrd)' "$MNT/boot/grub/grub.cfg" | sed 's/[[:space:]]\+/ /g' > "$m.grub"
}

# make in the chroot: the engine was built just before by tools/vm/build.sh with the Makefile's own
# command (swift build -c release --static-swift-stdlib); -o keeps make from rebuilding it by file
# times (the image has no Swift toolchain). Everything else is the Makefile's real install path.
MAKE_BUILT="BUILD=.build-vm/swift SWIFT=false -o .build-vm/swift/release/shaolind -o .build-vm/swift/release/shaolinctl"

# --- 2. install shaolin the real way -------------------------------------------------------------------
t0=$(date +%s)
rm -f "$D/shared.pristine.img"
cp --sparse=always "$BASE" "$W/installed.img"
mount_image "$W/installed.img"
chroot_mounts
# The operator's part: the cluster configuration in /etc/shaolin (the same as the busybox test's).
mkdir -p "$MNT/etc/shaolin"; chmod 0700 "$MNT/etc/shaolin"
cp -p "$E"/* "$MNT/etc/shaolin/"
# systemd's start-up under TCG on a shared 2-core host starves a vCPU for seconds at a time; the
# busybox root's 3 s hardware watchdog (its own scenario proves the reset) would reset a node that
# is merely slow here: 10 s for this cluster.
sed -i 's/^timeout_s = .*/timeout_s = 10/' "$MNT"/etc/shaolin/node-*.toml
# The test's agent (not part of shaolin): markers and commands on the console at multi-user.
install -m 0755 tools/vm/debian-agent.sh "$MNT/usr/local/sbin/shaolin-test-agent"
cat > "$MNT/etc/systemd/system/shaolin-test-agent.service" <<'UNIT'
[Unit]
Description=shaolin qemu test agent (console markers and commands)
After=multi-user.target
[Service]
Type=simple
ExecStart=/usr/local/sbin/shaolin-test-agent
StandardInput=tty-force
StandardOutput=tty
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$MNT/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/shaolin-test-agent.service "$MNT/etc/systemd/system/multi-user.target.wants/shaolin-test-agent.service"
# The machine's normal boot menu, before shaolin: what uninstall must restore.
in_root update-grub > "$D/update-grub.log" 2>&1 || { cat "$D/update-grub.log" >&2; fail "update-grub in the image before the install"; }
# A faster boot under TCG for the test image (not part of shaolin): multi-user instead of graphical,
# and none of the units a minbase node does not need at boot (timers, utmp, debug file systems).
ln -sf /lib/systemd/system/multi-user.target "$MNT/etc/systemd/system/default.target"
for u in systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
         systemd-tmpfiles-clean.timer systemd-user-sessions.service e2scrub_reap.service e2scrub_all.timer \
         apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer systemd-random-seed.service \
         systemd-binfmt.service proc-sys-fs-binfmt_misc.automount dev-hugepages.mount dev-mqueue.mount \
         sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
         systemd-sysusers.service ldconfig.service systemd-hwdb-update.service systemd-journal-catalog-update.service \
         systemd-update-done.service systemd-machine-id-commit.service systemd-firstboot.service systemd-pstore.service \
         kmod-static-nodes.service modprobe@configfs.service modprobe@drm.service modprobe@efi_pstore.service \
         modprobe@fuse.service modprobe@dm_mod.service modprobe@loop.service systemd-tmpfiles-setup-dev.service; do
  ln -sf /dev/null "$MNT/etc/systemd/system/$u"
done
mkdir -p "$MNT/etc/systemd/system-generators"
for g in systemd-gpt-auto-generator systemd-getty-generator systemd-bless-boot-generator systemd-cryptsetup-generator \
         systemd-hibernate-resume-generator systemd-integritysetup-generator systemd-veritysetup-generator \
         systemd-system-update-generator systemd-sysv-generator systemd-rc-local-generator systemd-run-generator \
         systemd-debug-generator; do
  ln -sf /dev/null "$MNT/etc/systemd/system-generators/$g"
done
manifest before
# The source tree at /src (the engine is built by tools/vm/build.sh; make only installs it).
mkdir -p "$MNT/src"; mount --bind "$HERE" "$MNT/src"; mount -o remount,bind,ro "$MNT/src"
say "make install (in the image's chroot, no DESTDIR)"
if ! in_root make -C /src --no-print-directory $MAKE_BUILT install > "$D/install.log" 2>&1; then
  cat "$D/install.log" >&2; fail "make install in the image"
fi
sed 's/^/  install| /' "$D/install.log"
umount "$MNT/src"; rmdir "$MNT/src"
manifest installed
# Checks: every file; the hook ran (engine, configs, ipmitool, watchdog driver in the initrd);
# the unit enabled; update-grub saw the snippet.
while read -r f; do [ -e "$MNT$f" ] || fail "make install did not install $f"; done < <(make --no-print-directory installed-files)
[ -L "$MNT/etc/systemd/system/sysinit.target.wants/shaolin-initramfs.service" ] || fail "shaolin-initramfs.service not enabled"
for x in usr/sbin/shaolind etc/shaolin/node-alpha.toml etc/shaolin/node-beta.toml etc/shaolin/cluster.key usr/bin/ipmitool \
         scripts/init-premount/shaolin etc/shaolin/engine-root.list i6300esb.ko; do
  grep -q "$x" "$D/manifests/installed.initrd" || fail "the initrd update-initramfs built has no $x"
done
grep -q "shaolin cluster: debug" "$D/manifests/installed.grub" || fail "update-grub's menu has no shaolin entries"
grep -q "shaolin=off" "$D/manifests/installed.grub" || fail "update-grub's menu has no rescue entry"
KVER=$(ls "$MNT"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
cp "$MNT/boot/initrd.img-$KVER" "$D/initrd.img"
[ -s "$D/vmlinux-$KVER" ] || python3 tools/vm/extract-vmlinux.py "$MNT/boot/vmlinuz-$KVER" "$D/vmlinux-$KVER"
ln -sf "vmlinux-$KVER" "$D/vmlinux"
say "installed: kernel $KVER, initrd $(stat -c %s "$D/initrd.img") bytes, $(( $(date +%s) - t0 )) s"
cleanup
cp --sparse=always "$W/installed.img" "$W/uninstall.img"
mv "$W/installed.img" "$D/shared.pristine.img"

# --- 3. uninstall on a copy ----------------------------------------------------------------------------
t0=$(date +%s)
mount_image "$W/uninstall.img"
chroot_mounts
mkdir -p "$MNT/src"; mount --bind "$HERE" "$MNT/src"; mount -o remount,bind,ro "$MNT/src"
say "make uninstall (in a chroot of a copy of the installed image)"
if ! in_root make -C /src --no-print-directory $MAKE_BUILT uninstall > "$D/uninstall.log" 2>&1; then
  cat "$D/uninstall.log" >&2; fail "make uninstall in the image"
fi
sed 's/^/  uninstall| /' "$D/uninstall.log"
umount "$MNT/src"; rmdir "$MNT/src"
manifest after
cleanup
rm -f "$W/uninstall.img"
M=$D/manifests
added=$(comm -13 <(cut -d' ' -f4 "$M/before.files" | sort) <(cut -d' ' -f4 "$M/installed.files" | sort) | wc -l)
say "install added $added paths, changed the content of $(diff "$M/before.sums" "$M/installed.sums" | grep -c '^>') files under /etc, /boot and the program folders; initrd +$(comm -13 "$M/before.initrd" "$M/installed.initrd" | wc -l) files; GRUB menu +$(( $(grep -c menuentry "$M/installed.grub") - $(grep -c menuentry "$M/before.grub") )) entries"
diff "$M/before.files" "$M/after.files" > "$M/files.diff" || { cat "$M/files.diff" >&2; fail "after make uninstall the files differ from before make install (above: < before, > after)"; }
diff "$M/before.sums" "$M/after.sums" > "$M/sums.diff" || { cat "$M/sums.diff" >&2; fail "after make uninstall the content of files under /etc, /boot or the program folders differs from before make install"; }
diff "$M/before.initrd" "$M/after.initrd" > "$M/initrd.diff" || { head -n 40 "$M/initrd.diff" >&2; fail "after make uninstall the initrd's content differs from before make install"; }
diff "$M/before.grub" "$M/after.grub" > "$M/grub.diff" || { cat "$M/grub.diff" >&2; fail "after make uninstall the GRUB menu differs from before make install"; }
say "uninstall restored the previous boot setup: files ($(wc -l < "$M/before.files") paths), initrd content ($(wc -l < "$M/before.initrd") files) and GRUB menu ($(grep -c menuentry "$M/before.grub") entries) identical to before the install ($(( $(date +%s) - t0 )) s)"
