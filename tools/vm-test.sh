#!/usr/bin/env bash
# Whole-cluster boot tests under qemu (TCG): builds the images (tools/vm/build.sh) and runs the
# scenarios (tools/vm/cluster.py). See docs/boot.md. Run as root. SHAOLIN_SKIP_VM=1 skips them;
# SHAOLIN_VM_SCENARIOS chooses the busybox-root scenarios (default: sigstop watchdog off);
# SHAOLIN_VM_DEBIAN=0 skips the Debian/systemd root (image build, make install/uninstall, scenario).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SHAOLIN_SKIP_VM:-0}" = 1 ]; then echo "vm-test: skipped (SHAOLIN_SKIP_VM=1)"; exit 0; fi
start=$(date +%s)
echo "== vm-test: build images"
tools/vm/build.sh
echo "== vm-test: the initramfs hook alone"
tools/vm/hook-test.sh
echo "== vm-test: install/uninstall into a DESTDIR"
tools/test-install.sh
rc=0
echo "== vm-test: busybox-root scenarios"
# The engine pets the i6300esb (wt-wd): a frozen ACTIVE must be reset by it.
export SHAOLIN_VM_EXPECT_WATCHDOG=${SHAOLIN_VM_EXPECT_WATCHDOG:-1}
python3 tools/vm/cluster.py ${SHAOLIN_VM_SCENARIOS:-sigstop watchdog off} || rc=1
if [ "${SHAOLIN_VM_DEBIAN:-1}" = 1 ]; then
  t=$(date +%s)
  echo "== vm-test: Debian root (debootstrap minbase, systemd): build, make install/uninstall in a chroot"
  tools/vm/debian-image.sh || exit 1
  echo "== vm-test: Debian root: image ready in $(( $(date +%s) - t )) s; scenario debian (systemd)"
  python3 tools/vm/cluster.py debian || rc=1
  echo "== vm-test: Debian root: $(( $(date +%s) - t )) s in all"
fi
echo "== vm-test: done in $(( $(date +%s) - start )) s"
exit $rc
