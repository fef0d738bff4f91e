#!/usr/bin/env bash
# make demo: one VM namespace behind a TAP-named veth, one binding file, the
# daemon, and real clients in the VM; prints what the VM received beside the
# binding file, then removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${NFDHCPD_BIN:-bin/nfdhcpd}
# NFDHCPD_LAB_SALT keeps two checkouts' demos apart, as it does the labs.
salt=${NFDHCPD_LAB_SALT:+-$NFDHCPD_LAB_SALT}
host=nfdemo$salt-host vm=nfdemo$salt-vm
work=$(mktemp -d /tmp/nfdhcpd-demo.XXXXXX)
# `ip netns exec` gives the daemon a fresh /sys, so /sys/fs/bpf there would be
# a private bpffs; pin into one of our own that bpftool here can read.
bpffs=$work/bpffs
bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ -t 1 ] || bold='' dim='' off=''

if [ "$(id -u)" != 0 ]; then echo "make demo needs root (network namespaces, NFQUEUE)"; exit 1; fi

# The clients the demo runs, installed when missing (test/deps knows their
# packages, as make test does).
"${GO:-go}" run ./test/deps -install udhcpc rdisc6 ip iptables

cleanup() {
	[ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	ip netns del "$vm" 2>/dev/null || true
	ip netns del "$host" 2>/dev/null || true
	umount "$bpffs" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$vm" 2>/dev/null || true
ip netns del "$host" 2>/dev/null || true

# The lab: the host's end of the VM's link is named like a TAP.
ip netns add "$host"
ip netns add "$vm"
ip -n "$host" link set lo up
ip link add tap10 netns "$host" type veth peer name eth0 netns "$vm"
ip netns exec "$vm" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
ip -n "$vm" link set eth0 address aa:6b:39:22:33:44
ip -n "$vm" link set eth0 up
ip -n "$vm" link set lo up
ip netns exec "$host" sysctl -qw net.ipv6.conf.tap10.accept_dad=0
ip -n "$host" link set tap10 up

mkdir -p "$work/bindings" "$bpffs"
mount -t bpf bpf "$bpffs"
chmod 755 "$work" "$work/bindings"
cat > "$work/nfdhcpd.conf" <<CONF
[general]
datapath = $work/bindings
pidfile = $work/run/nfdhcpd.pid
logdir = $work
user = nobody
steering = auto            # tc where the kernel allows: no packet-filter rules to write
bpf_pin_path = $bpffs/nfdhcpd

[dhcp]
enable_dhcp = yes
lease_lifetime = 604800
lease_renewal = 3600
server_ip = 192.0.2.1
dhcp_queue = 42
nameservers = 192.0.2.2, 192.0.2.3
domain = example.com

[ipv6]
enable_ipv6 = yes
mode = auto
ra_period = 300
rs_queue = 43
ns_queue = 44
dhcpv6_queue = 45
nameservers = 2001:db8:100::1, 2001:db8:200::2
domains = example.com
CONF
cat > "$work/bindings/tap10" <<'BIND'
INDEV=tap10
IP=192.0.2.100
MAC=aa:6b:39:22:33:44
HOSTNAME=testing-vm
GATEWAY=192.0.2.1
SUBNET=192.0.2.0/24
GATEWAY6=2001:db8:aaaa:bbbb::1
SUBNET6=2001:db8:aaaa:bbbb::/64
EUI64=2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344
MTU=1450
BIND

echo "${bold}nfdhcpd -t${off} checks the configuration and the binding:"
"$bin" -t -c "$work/nfdhcpd.conf" | sed 's/^/  /'

ip netns exec "$host" "$bin" -c "$work/nfdhcpd.conf" -f -d > "$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 50); do grep -q 'msg=ready' "$work/daemon.log" && break; sleep 0.1; done
if ! grep -q 'msg=ready' "$work/daemon.log"; then
	cat "$work/daemon.log"; echo "the daemon did not start"; exit 1
fi
mode=$(sed -n 's/.*msg=ready steering=\([a-z]*\).*/\1/p' "$work/daemon.log")
echo
echo "${bold}nfdhcpd is running${off} in namespace $host, steering=$mode"
if [ "$mode" = tc ] && command -v bpftool >/dev/null; then
	echo "  tap10 in the classifier's pinned map (bpftool map dump pinned $bpffs/nfdhcpd/ifaces):"
	bpftool map dump pinned "$bpffs/nfdhcpd/ifaces" | sed 's/^/    /'
fi

# The VM: udhcpc applies what it gets, like a distribution's script would.
cat > "$work/udhcpc.sh" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] || exit 0
env | grep -E '^(ip|subnet|mask|router|dns|domain|hostname|lease|serverid|mtu|search|staticroutes)=' | sort > $work/dhcp.txt
ip addr add \$ip/\$mask dev \$interface
ip link set \$interface mtu \$mtu
ip route add default via \$router
SCRIPT
chmod +x "$work/udhcpc.sh"
# A demo that shows nothing received fails, with what the client said.
fail() {
	echo "$1:"; sed 's/^/  /' "$2"
	echo "The daemon's log:"; sed 's/^/  /' "$work/daemon.log"
	exit 1
}
ip netns exec "$vm" udhcpc -f -i eth0 -n -q -t 4 -T 1 -s "$work/udhcpc.sh" -O mtu -O search -O staticroutes \
	> "$work/udhcpc.log" 2>&1 || fail "the VM got no DHCPv4 lease (udhcpc)" "$work/udhcpc.log"
ip netns exec "$vm" sysctl -qw net.ipv6.conf.eth0.accept_ra=2
ip netns exec "$vm" rdisc6 -1 -w 3000 eth0 > "$work/ra.txt" 2>&1 ||
	fail "the VM got no Router Advertisement (rdisc6)" "$work/ra.txt"
sleep 0.3
{
	echo "DHCPv4 (udhcpc):"
	sed 's/^/  /' "$work/dhcp.txt"
	echo "Router Advertisement (rdisc6):"
	grep -E 'Stateful|Prefix|MTU|Recursive DNS server|DNS search list|Source link|from ' "$work/ra.txt" |
		sed 's/  */ /g; s/^ */  /'
	echo "The VM now has:"
	ip netns exec "$vm" ip -o addr show dev eth0 | awk '{ print "  " $4 }'
	ip netns exec "$vm" ip route | sed 's/^/  /'
	ip netns exec "$vm" ip -6 route show default | sed 's/ proto.*//; s/^/  /'
} > "$work/received.txt"

echo
printf '%s%-44s%s %s\n' "$bold" "binding file $work/bindings/tap10" "$off" "${bold}what the VM received${off}"
awk 'NR == FNR { left[FNR] = $0; n = FNR; next }
	{ right[FNR] = $0; m = FNR }
	END { for (i = 1; i <= (n > m ? n : m); i++) printf "%-44s %s\n", left[i], right[i] }' \
	"$work/bindings/tap10" "$work/received.txt"
echo
echo "${bold}The daemon's log${off} ${dim}(one line per request)${off}:"
grep -E 'msg=request' "$work/daemon.log" | sed 's/^time=[^ ]* //; s/^/  /' | head -12
if [ "$mode" = tc ] && command -v bpftool >/dev/null; then
	echo
	echo "${bold}The classifier's counters${off} ${dim}(bpftool map dump pinned $bpffs/nfdhcpd/stats, summed over CPUs)${off}:"
	# Sum the per-CPU values by counter name, the way `nfdhcpd` metrics do.
	bpftool map dump pinned "$bpffs/nfdhcpd/stats" | awk '
		/": \{$/ { gsub(/[" :{]/, ""); group = ($0 == "value" ? "" : $0 ".") }
		/": [0-9]+,?$/ { name = $1; gsub(/[":]/, "", name); v = $2 + 0
			if (name != "cpu") sum[group name] += v }
		END { for (k in sum) if (sum[k]) printf "  %-16s %d\n", k, sum[k] }' | sort
fi
echo
echo "Everything made for the demo (namespaces, files, pinned objects) is removed on exit."
