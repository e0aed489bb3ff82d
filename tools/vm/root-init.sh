#!/bin/sh
# /sbin/init of the qemu tests' shared root disk (busybox). Stands for "the node reached
# multi-user": prints markers on the console, then takes test commands from the console.
export PATH=/bin:/sbin
node=$(basename "$(cat /run/shaolin/config 2>/dev/null)" .toml)
node=${node#node-}
pid=$(cat /run/shaolin/shaolind.pid 2>/dev/null)
role() { sed -n 's/^  "role": "\(.*\)",$/\1/p' /run/shaolin/status.json 2>/dev/null; }
if grep -q '^[^ ]* / ext4 rw' /proc/mounts; then
	echo "SHAOLIN-TEST: ROOT-RW $node"
else
	echo "SHAOLIN-TEST: ROOT-NOT-RW $node: $(grep ' / ' /proc/mounts)"
fi
echo "$node booted, uptime $(cut -d' ' -f1 /proc/uptime)" >> /markers/boots
sync
alive=no
[ -n "$pid" ] && [ -d "/proc/$pid" ] && alive=yes
echo "SHAOLIN-TEST: MULTIUSER $node engine-pid=$pid engine-alive=$alive argv0=$(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null | cut -d' ' -f1) role=$(role)"
while :; do
	if ! read -r cmd; then sleep 1; continue; fi
	case "$cmd" in
	stop-engine) kill -STOP "$pid" && echo "SHAOLIN-TEST: ENGINE-STOPPED $node" ;;
	term-engine)
		kill -TERM "$pid" && echo "SHAOLIN-TEST: ENGINE-TERMINATED $node"
		while [ -d "/proc/$pid" ]; do sleep 0.2; done
		echo "SHAOLIN-TEST: ENGINE-GONE $node"
		;;
	status)
		echo "SHAOLIN-TEST: STATUS $node role=$(role) $(tr -d '\n ' < /run/shaolin/status.json | grep -o '"links":.*' | head -c 1500)"
		;;
	log) tail -n 30 /run/shaolin/shaolind.log | sed 's/^/SHAOLIN-LOG: /' ;;
	esac
done
