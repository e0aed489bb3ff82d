#!/usr/bin/env bash
# The full test suite: unit tests, the 10,000-seed simulator, Linux-layer tests in network
# namespaces, fencing against ipmi_sim, two-node engine scenarios over veth + pty, the web
# console (its own package in web/: Swift tests + headless Chromium against a lab cluster) and
# whole-cluster boot tests under qemu.
# Run as root on Debian 12. Builds in release mode (the simulator is ~50x slower in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh
[ "$(id -u)" = 0 ] || { echo "tools/test.sh must run as root (network namespaces, AF_PACKET, SCHED_FIFO)" >&2; exit 1; }
echo "== build (release, with tests)"
swift build -c release --build-tests -Xswiftc -enable-testing
echo "== test"
swift test -c release --skip-build -Xswiftc -enable-testing "$@"
echo "== web console (tools/web-test.sh, with the engine built above)"
tools/web-test.sh --engine-built
echo "== whole-cluster boot tests under qemu"
tools/vm-test.sh
