#!/usr/bin/env bash
# Installs what building and testing shaolin needs on Debian 12 (run as root). Idempotent.
# The Swift 6.3 toolchain itself is a prerequisite (see README).
set -euo pipefail
PKGS=(socat iproute2 procps ipmitool openipmi nftables stress-ng rt-tests fence-agents
      libcap-dev pkg-config tmux python3
      # shaolind links the C++ runtime statically (tools/link/static-cxx): libstdc++.a, libgcc_eh.a
      libstdc++-12-dev
      # shaolinctl bench tests: the plot and the JSON schema check
      gnuplot-nox python3-jsonschema
      # whole-cluster boot tests under qemu (tools/vm-test.sh): the Debian kernel goes to /boot,
      # the test builds its own initramfs from a copy of /etc/initramfs-tools
      qemu-system-x86 qemu-utils initramfs-tools busybox linux-image-amd64 kmod cpio e2fsprogs binutils make
      # ... and its Debian root (tools/vm/debian-image.sh): debootstrap, loop mounts
      debootstrap util-linux mount
      # the AAC agents' tests against real services
      curl openssl apache2 mariadb-server mariadb-client
      # the web console's browser test (tools/web-test.sh): headless Chromium and a font for it
      chromium fonts-dejavu-core)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
command -v swift >/dev/null 2>&1 || { echo "bootstrap: the Swift 6.3 toolchain is required (swift not found in PATH)" >&2; exit 1; }
