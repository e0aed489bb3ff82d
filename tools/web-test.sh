#!/usr/bin/env bash
# The web console's tests: its Swift tests (login, CSRF, body limits, the config editor) and
# headless Chromium against a two-namespace lab cluster (tools/web-browser-test.py).
# shaolin-web is its own package (web/) so the engine's build and CI stay free of Hummingbird;
# this script is therefore not part of tools/test.sh / .ci/run. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh
missing=()
for p in chromium fonts-dejavu-core openssl; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "== engine (release): shaolind, shaolinctl for the lab"
swift build -c release --product shaolind
swift build -c release --product shaolinctl
echo "== shaolin-web (release)"
swift build -c release --package-path web
echo "== web console Swift tests"
swift test --package-path web
echo "== web console in a real browser"
python3 tools/web-browser-test.py --screenshots "$(mktemp -d /tmp/shaolin-web-shots-XXXXXX)"
