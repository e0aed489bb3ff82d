#!/usr/bin/env bash
# Generates shaolinctl's shell completion scripts (bash, zsh, fish) with swift-argument-parser's
# --generate-completion-script and installs them where the shells look for them.
#
#   tools/install-completions.sh [SHAOLINCTL] [DESTDIR]
#
# SHAOLINCTL defaults to the built binary (.build/release, then .build/debug, then PATH);
# DESTDIR (default empty = /) prefixes the install paths, for packaging:
#   $DESTDIR/usr/share/bash-completion/completions/shaolinctl
#   $DESTDIR/usr/share/zsh/vendor-completions/_shaolinctl
#   $DESTDIR/usr/share/fish/vendor_completions.d/shaolinctl.fish
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CTL=${1:-}
DEST=${2:-}
if [ -z "$CTL" ]; then
  for c in "$HERE/.build/release/shaolinctl" "$HERE/.build/debug/shaolinctl" "$(command -v shaolinctl || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then CTL=$c; break; fi
  done
fi
[ -n "$CTL" ] && [ -x "$CTL" ] || { echo "shaolinctl not found: build it first (swift build -c release)" >&2; exit 1; }
install_one() { # shell path
  mkdir -p "$(dirname "$2")"
  "$CTL" --generate-completion-script "$1" > "$2.tmp"
  [ -s "$2.tmp" ] || { echo "empty $1 completion script" >&2; rm -f "$2.tmp"; exit 1; }
  chmod 644 "$2.tmp"
  mv "$2.tmp" "$2"
  echo "installed $2"
}
install_one bash "$DEST/usr/share/bash-completion/completions/shaolinctl"
install_one zsh "$DEST/usr/share/zsh/vendor-completions/_shaolinctl"
install_one fish "$DEST/usr/share/fish/vendor_completions.d/shaolinctl.fish"
