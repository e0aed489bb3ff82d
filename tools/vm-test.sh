#!/usr/bin/env bash
# Whole-cluster boot tests under qemu (TCG): builds the images (tools/vm/build.sh) and runs the
# scenarios (tools/vm/cluster.py). See docs/boot.md. Run as root. SHAOLIN_SKIP_VM=1 skips them;
# SHAOLIN_VM_SCENARIOS chooses (default: quit sigstop watchdog off).
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
echo "== vm-test: scenarios"
# The engine pets the i6300esb (wt-wd): a frozen ACTIVE must be reset by it.
export SHAOLIN_VM_EXPECT_WATCHDOG=${SHAOLIN_VM_EXPECT_WATCHDOG:-1}
python3 tools/vm/cluster.py ${SHAOLIN_VM_SCENARIOS:-quit sigstop watchdog off}
echo "== vm-test: done in $(( $(date +%s) - start )) s"
