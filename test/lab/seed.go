package lab

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// SeedBinding is the seed README's sample binding for tap10, plus MTU.
const SeedBinding = `INDEV=tap10
IP=192.0.2.100
MAC=aa:6b:39:22:33:44
HOSTNAME=testing-vm
TAGS=""
GATEWAY=192.0.2.1
SUBNET=192.0.2.0/24
GATEWAY6=2001:db8:aaaa:bbbb::1
SUBNET6=2001:db8:aaaa:bbbb::/64
EUI64=2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344
PRIVATE=
MTU=1450
`

// SeedBindingFor is SeedBinding moved to another TAP, IPv4 address, MAC
// (and the EUI-64 address of that MAC) and hostname.
func SeedBindingFor(tap, ip, mac, hostname string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return strings.NewReplacer("tap10", tap, "192.0.2.100", ip, SeedMAC, mac, "testing-vm", hostname,
		"EUI64="+seedEUI64, "EUI64="+EUI64(SeedPrefix6, hw).String()).Replace(SeedBinding)
}

// SeedPrefix6 is SeedBinding's SUBNET6.
var SeedPrefix6 = netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")

const seedEUI64 = "2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344"

// EUI64 is the address in the /64 p that SLAAC gives mac (RFC 4291's
// modified EUI-64 interface identifier).
func EUI64(p netip.Prefix, mac net.HardwareAddr) netip.Addr {
	a := p.Masked().Addr().As16()
	a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15] = mac[0]^2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// LinkLocal is mac's EUI-64 link-local address: the router's address in
// nfdhcpd's RAs is the TAP's.
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	return EUI64(netip.MustParsePrefix("fe80::/64"), mac)
}

// SeedMAC is the MAC of SeedBinding.
const SeedMAC = "aa:6b:39:22:33:44"

// SeedConfig is the seed README's sample configuration with the lab's
// folders in place of /var and /run, and the settings applied: pairs of
// "section.key" (or a bare key, meaning [general]) and value. A key the
// sample has is replaced where it stands; another is added to its section.
func (l *Lab) SeedConfig(settings ...string) (conf, datapath string) {
	l.t.Helper()
	datapath = filepath.Join(l.Dir, "bindings")
	if err := os.MkdirAll(datapath, 0o755); err != nil {
		l.t.Fatal(err)
	}
	// The daemon reads bindings after dropping to an unprivileged user.
	for d := l.Dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	text := strings.NewReplacer(
		// Folders the daemon creates, so that they are its user's: it can
		// remove its pidfile and reopen its log after dropping root.
		"/var/run/nfdhcpd/nfdhcpd.pid", filepath.Join(l.Dir, "run", "nfdhcpd.pid"),
		"/var/lib/nfdhcpd", datapath,
		"/var/log/nfdhcpd", filepath.Join(l.Dir, "log"),
	).Replace(SeedConfig)
	for i := 0; i+1 < len(settings); i += 2 {
		text = setKey(text, settings[i], settings[i+1])
	}
	return l.WriteFile("nfdhcpd.conf", text), datapath
}

// setKey sets "section.key" (bare key: [general]) to val in an INI text.
func setKey(text, key, val string) string {
	section, name, ok := strings.Cut(key, ".")
	if !ok {
		section, name = "general", key
	}
	lines := strings.Split(text, "\n")
	cur, header := "", -1
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = t[1 : len(t)-1]
			if cur == section {
				header = i
			}
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && cur == section && strings.TrimSpace(k) == name {
			lines[i] = name + " = " + val
			return strings.Join(lines, "\n")
		}
	}
	if header < 0 {
		lines = append(lines, "["+section+"]")
		header = len(lines) - 1
	}
	lines = append(lines[:header+1], append([]string{name + " = " + val}, lines[header+1:]...)...)
	return strings.Join(lines, "\n")
}

// SeedConfig is the seed README's sample configuration, verbatim.
const SeedConfig = `## nfdhcpd sample configuration file
## General options
[general]
pidfile = /var/run/nfdhcpd/nfdhcpd.pid
datapath = /var/lib/nfdhcpd # Where the client configuration will be read from
logdir = /var/log/nfdhcpd   # Where to write our logs
user = nobody # An unprivileged user to run as

## DHCP options
[dhcp]
enable_dhcp = yes
lease_lifetime = 604800 # 1 week
lease_renewal = 3600 	# 1 hour
server_ip = 192.0.2.1
server_on_link = no
dhcp_queue = 42 # NFQUEUE number to listen on for DHCP requests
# IPv4 nameservers to include in DHCP responses
nameservers = 192.0.2.2, 192.0.2.3
# Optional domain to serve with the replies
domain = example.com

## IPv6-related functionality
[ipv6]
enable_ipv6 = yes
mode = auto
ra_period = 300 # seconds
rs_queue = 43 # NFQUEUE number to listen on for router solicitations
ns_queue = 44 # NFQUEUE number to listen on for neighbor solicitations
dhcpv6_queue = 45 # NFQUEUE number to listen on for DHCPv6 Information-Requests
# IPv6 nameservers to send using the ICMPv6 RA RDNSS option (RFC 5006)
# since it is not supported by several OS we serve them to DHCPv6 replies
nameservers = 2001:db8:100::1, 2001:db8:200::2
domains = example.com
`

// SeedRules installs the seed README's iptables and ip6tables rules in the
// host namespace's mangle table (the fallback steering mode).
func (l *Lab) SeedRules() {
	l.t.Helper()
	l.Host("iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "tap+", "-p", "udp", "-m", "udp", "--dport", "67", "-j", "NFQUEUE", "--queue-num", "42")
	l.Host("iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "-m", "physdev", "--physdev-in", "tap+", "-m", "udp", "--dport", "67", "-j", "NFQUEUE", "--queue-num", "42")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "tap+", "-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", "133", "-j", "NFQUEUE", "--queue-num", "43")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "tap+", "-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", "135", "-j", "NFQUEUE", "--queue-num", "44")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "tap+", "-p", "udp", "-m", "udp", "--dport", "547", "-j", "NFQUEUE", "--queue-num", "45")
}

// QueueRules steers the four kinds arriving on iface (a bridge, when the
// bridge has no br_netfilter and the seed's tap+ rules cannot see its ports)
// to the seed's queues.
func (l *Lab) QueueRules(iface string) {
	l.t.Helper()
	l.Host("iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", iface, "-p", "udp", "--dport", "67", "-j", "NFQUEUE", "--queue-num", "42")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", iface, "-p", "ipv6-icmp", "--icmpv6-type", "133", "-j", "NFQUEUE", "--queue-num", "43")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", iface, "-p", "ipv6-icmp", "--icmpv6-type", "135", "-j", "NFQUEUE", "--queue-num", "44")
	l.Host("ip6tables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", iface, "-p", "udp", "--dport", "547", "-j", "NFQUEUE", "--queue-num", "45")
}

// WriteBinding writes a binding file the way Ganeti's hooks do: truncate and
// write in place.
func WriteBinding(datapath, tap, content string) error {
	return os.WriteFile(filepath.Join(datapath, tap), []byte(content), 0o644)
}
