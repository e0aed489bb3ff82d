#!/bin/bash
# Fencing latency through ipmitool + ipmi_sim (process-backed chassis),
# beside ipmitool's own "chassis power off" → status-off latency, same run.
# Usage: benchmarks/fence-latency.sh [runs]   (default 20; needs openipmi, ipmitool)
set -euo pipefail
cd "$(dirname "$0")/.."
SHAOLIN_FENCE_BENCH_RUNS="${1:-20}" swift test --filter fenceLatencyBenchmark 2>&1 \
  | grep -E "BENCH|✘|error" || { echo "benchmark produced no results" >&2; exit 1; }
