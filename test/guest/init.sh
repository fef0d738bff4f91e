#!/bin/sh
# The guest's init: load the NIC's modules, let one client stack configure
# eth0 as it would on a Debian machine (guest.client=busybox: udhcpc with
# Debian's script, the kernel's own SLAAC, dhclient -6 -S, and with
# guest.pd dhclient -6 -P for a delegated prefix; or
# guest.client=networkd: systemd-networkd alone), then write what the
# KERNEL applied to the host's 9p share and power off. The host reads the
# files and checks them; this script checks nothing itself.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /var/run
# busybox's shell runs its own applets before PATH's programs: iproute2's
# ip (JSON output, address flags) is named by path.
ip=/usr/bin/ip
$ip link set lo up

say() { echo "guest: $*"; }
fail() { say "$*"; poweroff -f; }
param() { sed -n "s/.*guest\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
uptime() { cut -d' ' -f1 /proc/uptime; }

failed=
for m in $(cat /etc/preload-modules); do
	/usr/sbin/modprobe "$m" || failed="$failed $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out || fail "cannot mount the 9p share (modprobe failed:$failed)"
for m in $failed; do echo "modprobe $m failed" >> /out/setup-errors; done
[ -e /sys/class/net/eth0 ] || echo "no eth0" >> /out/setup-errors

client=$(param client)
gw6=$(param gw6)
uname -r > /out/release
hostname guest

# until SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
until_ok() {
	n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
has_global6() { $ip -6 addr show dev eth0 scope global -tentative | grep -q inet6; }
has_v4() { $ip -4 addr show dev eth0 | grep -q inet; }

# neighbour: ping GATEWAY6 once (the host need not answer: the kernel's NS
# for it is what counts), then record the neighbour table at once, while a
# fresh entry is still REACHABLE.
neighbour() {
	ping -6 -c 1 -W 2 "$gw6" > /out/ping6.log 2>&1
	$ip -j -6 neigh show dev eth0 > /out/neigh6.json
}

busybox_clients() {
	echo "$(uptime) link up" >> /out/timeline
	$ip link set eth0 up
	# The kernel solicits a router by itself once eth0's link-local address
	# has passed DAD; meanwhile udhcpc runs with Debian's script, which
	# applies the address, the mask, the MTU, the router and resolv.conf.
	udhcpc -i eth0 -f -q -n -t 10 -T 1 -s /usr/local/bin/udhcpc-hook -O mtu -O search \
		> /out/udhcpc.log 2>&1
	echo $? > /out/udhcpc.exit
	echo "$(uptime) udhcpc done" >> /out/timeline
	cp /etc/resolv.conf /out/resolv.conf.v4
	until_ok 30 has_global6
	echo "$(uptime) slaac done" >> /out/timeline
	neighbour
	# Stateless DHCPv6 (Information-Request) with Debian's dhclient-script,
	# which writes the DNS servers and search list to resolv.conf.
	dhclient -6 -S -1 -v -cf /etc/dhcp/dhclient.conf -lf /var/lib/dhcp/dhclient6.leases \
		-pf /run/dhclient6.pid eth0 > /out/dhclient6.log 2>&1
	echo $? > /out/dhclient6.exit
	echo "$(uptime) dhclient done" >> /out/timeline
	[ -f /run/dhclient6.pid ] && kill "$(cat /run/dhclient6.pid)"
	cp /etc/resolv.conf /out/resolv.conf.v6
	[ -n "$(param pd)" ] && delegation
}

# delegation: dhclient -6 -P takes the binding's delegated prefix; the
# prefix's ::1, on lo, pings the host's address guest.host6 (routed TAPs),
# whose answer comes back only by the route nfdhcpd gave the prefix.
delegation() {
	printf '#!/bin/sh\n[ -n "$new_ip6_prefix" ] && env > /out/dhclient6pd.env\nexit 0\n' > /tmp/pd-hook
	chmod +x /tmp/pd-hook
	dhclient -6 -P -1 -v -cf /etc/dhcp/dhclient.conf -sf /tmp/pd-hook -lf /var/lib/dhcp/dhclient6pd.leases \
		-pf /run/dhclient6pd.pid eth0 > /out/dhclient6pd.log 2>&1
	echo $? > /out/dhclient6pd.exit
	echo "$(uptime) dhclient -P done" >> /out/timeline
	prefix=$(sed -n 's/^new_ip6_prefix=//p' /out/dhclient6pd.env)
	a=${prefix%%/*}1
	host6=$(param host6)
	if [ -n "$prefix" ] && [ -n "$host6" ]; then
		$ip -6 addr add "$a/128" dev lo
		ping -6 -c 1 -W 3 -I "$a" "$host6" > /out/ping6pd.log 2>&1
		echo $? > /out/ping6pd.exit
	fi
	[ -f /run/dhclient6pd.pid ] && kill -9 "$(cat /run/dhclient6pd.pid)"
}

# The link's state lists IPv6 DNS servers (from the RA) once networkd took them.
networkd_link() { grep -qs '^DNS=.*:' /run/systemd/netif/links/"$(cat /sys/class/net/eth0/ifindex)"; }
networkd_done() {
	has_v4 && has_global6 && networkd_link && grep -q 'DHCPv6 client: Processed Reply' /out/networkd.log
}

networkd_client() {
	# Read-only /sys tells networkd that no udev manages links (as in a
	# container): it configures eth0 without waiting for udev's database.
	mount -o remount,ro /sys
	# systemd makes its runtime folder for it (RuntimeDirectory=).
	mkdir -p /run/systemd/netif/links /run/systemd/netif/leases /run/systemd/netif/lldp
	chown -R systemd-network:systemd-network /run/systemd/netif
	echo "$(uptime) networkd start" >> /out/timeline
	SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-networkd > /out/networkd.log 2>&1 &
	until_ok 40 networkd_done
	echo "$(uptime) networkd done" >> /out/timeline
	neighbour
	mkdir -p /out/netif
	cp -r /run/systemd/netif/links /run/systemd/netif/leases /out/netif/ 2>/dev/null
}

case $client in
busybox) busybox_clients ;;
networkd) networkd_client ;;
*) echo "unknown guest.client=$client" >> /out/setup-errors ;;
esac

# What the kernel holds now.
$ip -j addr show dev eth0 > /out/addr.json
$ip -j -4 route show table main > /out/route4.json
$ip -j -6 route show table main > /out/route6.json
cat /proc/sys/net/ipv6/conf/eth0/mtu > /out/mtu6
cat /proc/net/snmp6 > /out/snmp6
hostname > /out/hostname
cp /etc/resolv.conf /out/resolv.conf
echo "$(uptime) done" >> /out/timeline
sync
umount /out
poweroff -f
