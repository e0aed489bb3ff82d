#!/usr/bin/env bash
# The initramfs hook on its own (as mkinitramfs runs it: DESTDIR, version, hook-functions):
# a valid configuration puts the engine, ipmitool, configs, key/password files, the engine-root
# list and the env files in place; an invalid configuration, a missing key file, a missing
# password file or a missing engine fail the build with a message naming the problem;
# no configuration at all builds without the engine, with a warning.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/.build-vm}
HOOK=$PWD/initramfs-tools/hooks/shaolin
[ -d "$OUT/etc-shaolin" ] && [ -x "$OUT/shaolind" ] || { echo "hook-test: run tools/vm/build.sh first" >&2; exit 1; }
T=$(mktemp -d /tmp/shaolin-hook.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export version=$(ls /lib/modules | sort -V | tail -n 1) MODULESDIR verbose=n
MODULESDIR=/lib/modules/$version
run() { # run ETC -> exit status; output in $T/out
  rm -rf "$T/dest"; mkdir -p "$T/dest"
  for d in /bin /lib* /sbin; do mkdir -p "$T/dest/usr$d"; ln -s "usr$d" "$T/dest$d"; done   # as mkinitramfs does
  set +e
  DESTDIR="$T/dest" SHAOLIN_ETC="$1" SHAOLIN_SHAOLIND="${2:-$OUT/shaolind}" sh "$HOOK" > "$T/out" 2>&1
  local rc=$?
  set -e
  return $rc
}

cp -a "$OUT/etc-shaolin" "$T/good"
run "$T/good" || { cat "$T/out"; fail "valid configuration rejected"; }
for f in usr/sbin/shaolind usr/bin/ipmitool etc/shaolin/node-alpha.toml etc/shaolin/node-beta.toml \
         etc/shaolin/cluster.key etc/shaolin/bmc-alpha.pass etc/shaolin/bmc-beta.pass etc/shaolin/engine-root.list \
         etc/shaolin/node-alpha.env etc/shaolin/initramfs.conf; do
  [ -e "$T/dest/$f" ] || fail "valid configuration: $f missing from the image"
done
[ "$(stat -c %a "$T/dest/etc/shaolin/cluster.key")" = 600 ] || fail "key file not 0600 in the image"
grep -q 'SHAOLIN_IFACES="eth0' "$T/dest/etc/shaolin/node-alpha.env" || fail "env file: $(cat "$T/dest/etc/shaolin/node-alpha.env")"
find "$T/dest" -name 'i6300esb.ko*' | grep -q . || fail "SHAOLIN_MODULES: i6300esb not added"
while read -r f; do [ -e "$T/dest$f" ] || fail "engine-root.list names $f, which is not in the image"; done < "$T/dest/etc/shaolin/engine-root.list"
for f in /usr/sbin/shaolind /usr/bin/ipmitool /bin/busybox /etc/shaolin/cluster.key /etc/shaolin/bmc-alpha.pass; do grep -qx "$f" "$T/dest/etc/shaolin/engine-root.list" || fail "engine-root.list lacks $f"; done
grep -q "alpha=52:54:00:5a:00:0a" "$T/dest/etc/shaolin/initramfs.conf" || fail "initramfs.conf: MACs not normalised"
echo "ok: valid configuration"

cp -a "$OUT/etc-shaolin" "$T/bad"
sed -i 's/^deadtime_ms = .*/deadtime_ms = "soon"/' "$T/bad/node-beta.toml"
run "$T/bad" && fail "invalid configuration accepted"
grep -q "node-beta.toml is not a valid shaolin configuration" "$T/out" || { cat "$T/out"; fail "no clear message for an invalid configuration"; }
grep -q "deadtime_ms" "$T/out" || { cat "$T/out"; fail "the engine's own error (naming the key) is not shown"; }
echo "ok: invalid configuration fails the build: $(grep -m1 deadtime_ms "$T/out")"

cp -a "$OUT/etc-shaolin" "$T/nokey"; rm "$T/nokey/cluster.key"
run "$T/nokey" && fail "missing key file accepted"
grep -q 'cluster key_file "/etc/shaolin/cluster.key" does not exist' "$T/out" || { cat "$T/out"; fail "no clear message for a missing key"; }
echo "ok: missing key fails the build: $(grep -m1 key_file "$T/out")"

cp -a "$OUT/etc-shaolin" "$T/nopass"; rm "$T/nopass/bmc-alpha.pass"
run "$T/nopass" && fail "missing password file accepted"
grep -q 'password_file "/etc/shaolin/bmc-alpha.pass" does not exist' "$T/out" || { cat "$T/out"; fail "no clear message for a missing password file"; }
echo "ok: missing IPMI password file fails the build"

run "$T/good" /nonexistent/shaolind && fail "missing engine accepted"
grep -q "shaolind is not installed" "$T/out" || { cat "$T/out"; fail "no clear message for a missing engine"; }
echo "ok: missing engine fails the build"

mkdir -p "$T/empty"
run "$T/empty" || fail "no configuration: the build must go on (without the engine)"
grep -q "WITHOUT the cluster engine" "$T/out" || fail "no warning without configuration"
[ ! -e "$T/dest/usr/sbin/shaolind" ] || fail "engine copied although not configured"
echo "ok: no configuration: image without the engine, with a warning"

# Through mkinitramfs itself (the build.sh configuration copy): the hook's failure fails it.
if [ -d "$OUT/initramfs-conf" ]; then
  set +e
  SHAOLIN_ETC="$T/bad" SHAOLIN_SHAOLIND="$OUT/shaolind" mkinitramfs -d "$OUT/initramfs-conf" -o "$T/initrd.img" "$version" > "$T/out" 2>&1
  rc=$?
  set -e
  [ $rc -ne 0 ] || fail "mkinitramfs succeeded with an invalid configuration"
  grep -q "hooks/shaolin failed" "$T/out" || { cat "$T/out"; fail "mkinitramfs did not name the shaolin hook"; }
  echo "ok: mkinitramfs fails (exit $rc) on an invalid configuration: $(grep -m1 'refusing' "$T/out")"
fi
