#!/usr/bin/env bash
# The web console's tests: its Swift tests (login, CSRF, body limits, the config editor, the
# operator actions) and headless Chromium against a two-namespace lab cluster
# (tools/web-browser-test.py). tools/test.sh (= .ci/run) runs this after the engine's tests.
#
# shaolin-web is its own package (web/, own build directory web/.build) so the engine's
# package stays free of Hummingbird/NIO. The web package is built once, in debug: its Swift
# tests need a debug build anyway (@testable), and the same build's shaolin-web serves the
# browser test (a release build of NIO + BoringSSL + Hummingbird would be a second, slower
# build of everything).
#
#   tools/web-test.sh                  # builds shaolind + shaolinctl (release) for the lab first
#   tools/web-test.sh --engine-built   # tools/test.sh: it has built them already (release,
#                                      # -enable-testing); rebuilding with other flags would
#                                      # recompile the whole engine
# Run as root on Debian 12 (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
engine_built=0
for a in "$@"; do
  case "$a" in
    --engine-built) engine_built=1 ;;
    *) echo "usage: tools/web-test.sh [--engine-built]" >&2; exit 2 ;;
  esac
done
source tools/bootstrap.sh
[ "$(id -u)" = 0 ] || { echo "tools/web-test.sh must run as root (network namespaces)" >&2; exit 1; }
start=$SECONDS
phase() { echo "== $1 (at $((SECONDS - start)) s)"; }

if [ "$engine_built" = 1 ]; then
  for p in shaolind shaolinctl; do
    [ -x ".build/release/$p" ] || [ -x ".build/debug/$p" ] || { echo "web-test: --engine-built but .build/{release,debug}/$p is missing" >&2; exit 1; }
  done
  phase "engine: using the shaolind and shaolinctl already built"
else
  phase "engine (release): shaolind, shaolinctl for the lab"
  swift build -c release --product shaolind
  swift build -c release --product shaolinctl
fi
phase "shaolin-web and its tests (debug build of web/)"
swift build --package-path web --build-tests
phase "web console Swift tests"
swift test --package-path web --skip-build
phase "web console in a real browser"
shots="$(mktemp -d /tmp/shaolin-web-shots-XXXXXX)"
SHAOLIN_WEB="$PWD/web/.build/debug/shaolin-web" python3 tools/web-browser-test.py --screenshots "$shots"
rm -rf "$shots"
phase "web console tests done"
