#!/bin/sh
# The qemu test's agent in the Debian shared root (not part of shaolin): a systemd service ordered
# after multi-user.target that prints markers on the console (ttyS0) and runs the harness's
# commands (tools/vm/cluster.py, scenario "debian"). Every answer line starts with SHAOLIN-.
RUN=/run/shaolin
UNIT=shaolin-initramfs.service
stty -echo 2>/dev/null
node=$(basename "$(cat $RUN/config 2>/dev/null)" .toml)
node=${node#node-}
pid=$(cat $RUN/shaolind.pid 2>/dev/null)
role() { sed -n 's/^  "role": "\(.*\)",$/\1/p' $RUN/status.json 2>/dev/null; }
alive() { [ -n "$pid" ] && [ -d "/proc/$pid" ] && echo yes || echo no; }
argv0() { tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f1; }
if grep -q '^[^ ]* / ext4 rw' /proc/mounts; then echo "SHAOLIN-TEST: ROOT-RW $node"; else echo "SHAOLIN-TEST: ROOT-NOT-RW $node: $(grep ' / ' /proc/mounts)"; fi
echo "$node booted under systemd, uptime $(cut -d' ' -f1 /proc/uptime)" >> /var/lib/shaolin-test-boots
sync
# The marker: systemd reached multi-user.target (this unit is ordered after it).
echo "SHAOLIN-TEST: MULTIUSER $node init=$(cat /proc/1/comm) system=$(systemctl is-system-running 2>/dev/null) engine-pid=$pid engine-alive=$(alive) argv0=$(argv0) role=$(role) unit=$(systemctl is-active $UNIT 2>/dev/null) engine-cgroup=$(sed -n 's/^0:://p' /proc/$pid/cgroup 2>/dev/null) uptime=$(cut -d' ' -f1 /proc/uptime)"
while :; do
	if ! read -r cmd; then sleep 1; continue; fi
	case "$cmd" in
	check)
		# systemctl status and the unit's journal, as an operator sees them.
		SYSTEMD_COLORS=0 systemctl status --no-pager -l -n 0 $UNIT 2>&1 | sed 's/^/SHAOLIN-SYSTEMCTL: /'
		n=$(journalctl -u $UNIT -o cat --no-pager 2>/dev/null | wc -l)
		echo "SHAOLIN-JOURNAL-COUNT: $n"
		journalctl -u $UNIT -o short-monotonic --no-pager 2>/dev/null | head -n 12 | sed 's/^/SHAOLIN-JOURNAL: /'
		journalctl -u $UNIT -o short-monotonic --no-pager 2>/dev/null | grep -E 'ACTIVE|role|adopt' | tail -n 8 | sed 's/^/SHAOLIN-JOURNAL: /'
		echo "SHAOLIN-TEST: CHECK-DONE $node engine-alive=$(alive) main-pid=$(systemctl show -P MainPID $UNIT) unit-pids=$(tr '\n' ' ' < /sys/fs/cgroup/system.slice/$UNIT/cgroup.procs 2>/dev/null)"
		;;
	status)
		echo "SHAOLIN-TEST: STATUS $node role=$(role) $(tr -d '\n ' < $RUN/status.json | head -c 4000)"
		;;
	stop-unit)
		# Graceful leave the way an operator does it.
		echo "SHAOLIN-TEST: UNIT-STOPPING $node"
		systemctl stop $UNIT; rc=$?
		echo "SHAOLIN-TEST: UNIT-STOPPED $node rc=$rc engine-alive=$(alive) unit=$(systemctl is-active $UNIT)"
		journalctl -u $UNIT -o cat --no-pager -n 6 | sed 's/^/SHAOLIN-JOURNAL: /'
		;;
	poweroff)
		echo "SHAOLIN-TEST: POWEROFF $node"
		systemctl poweroff
		;;
	switchover)
		echo "SHAOLIN-TEST: SWITCHOVER $node $(shaolinctl switchover 2>&1 | tr '\n' ' ')"
		;;
	esac
done
