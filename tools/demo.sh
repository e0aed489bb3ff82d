#!/usr/bin/env bash
# Quick start: builds shaolind and runs a real two-node cluster on this machine (two network
# namespaces joined by a veth pair and a socat pty "serial cable"), shows both nodes' roles,
# kills the ACTIVE with SIGKILL and shows the STANDBY fence it and take over. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh
[ "$(id -u)" = 0 ] || { echo "tools/demo.sh must run as root (network namespaces, AF_PACKET, SCHED_FIFO)" >&2; exit 1; }
swift build -c release --product shaolind
swift build -c release --product shaolinctl
echo "== simulator: 1,000 seeded fault scenarios against the real state machine"
.build/release/shaolinctl simulate --seeds 1000
exec tools/lab.sh demo
