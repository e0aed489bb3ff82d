#!/usr/bin/env bash
# Installs shaolin's built-in Service Monitoring Agents (agents/) into DESTDIR/usr/lib/shaolin/agents
# (the default [aac] agent_dir; see docs/agents.md).   usage: tools/install-agents.sh [DESTDIR]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-}/usr/lib/shaolin/agents
install -d -m 755 "$DEST"
for a in "$HERE"/agents/*; do install -m 755 "$a" "$DEST/"; done
echo "installed $(ls "$HERE/agents" | wc -l) agents in $DEST"
