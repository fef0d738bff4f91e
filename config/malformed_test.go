package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// goodConf is a complete configuration every malformed case starts from:
// one key per line, so that a case's line number is easy to read off.
const goodConf = `[general]
pidfile = /run/nfdhcpd/nfdhcpd.pid
datapath = /var/lib/nfdhcpd
steering = auto
rate_limit = 200/s burst 50
[dhcp]
server_ip = 192.0.2.1
dhcp_queue = 42
nameservers = 192.0.2.2
[ipv6]
rs_queue = 43
ns_queue = 44
dhcpv6_queue = 45
nameservers = 2001:db8::53
`

// set returns goodConf with "section.key" set to val: replaced where the
// key stands, else added first in its section (a new section at the end).
func set(key, val string) string {
	section, name, _ := strings.Cut(key, ".")
	lines := strings.Split(goodConf, "\n")
	cur, header := "", -1
	for i, l := range lines {
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[]")
			if cur == section {
				header = i
			}
			continue
		}
		if k, _, ok := strings.Cut(l, " = "); ok && cur == section && k == name {
			lines[i] = name + " = " + val
			return strings.Join(lines, "\n")
		}
	}
	if header < 0 {
		return goodConf + "[" + section + "]\n" + name + " = " + val + "\n"
	}
	out := append([]string{}, lines[:header+1]...)
	out = append(out, name+" = "+val)
	return strings.Join(append(out, lines[header+1:]...), "\n")
}

// drop removes "section.key" from goodConf.
func drop(key string) string {
	section, name, _ := strings.Cut(key, ".")
	var out []string
	cur := ""
	for _, l := range strings.Split(goodConf, "\n") {
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[]")
		}
		if k, _, ok := strings.Cut(l, " = "); ok && cur == section && k == name {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

var malformedConfs = []struct {
	name, text, want string
}{
	// Syntax.
	{"header unclosed", strings.Replace(goodConf, "[dhcp]", "[dhcp", 1),
		"nfdhcpd.conf:6: \"[dhcp\" is not a [section] header\nnfdhcpd.conf: [dhcp] dhcp_queue: required when enable_dhcp = yes\nnfdhcpd.conf: [dhcp] server_ip: required unless server_on_link = yes"},
	{"header empty", goodConf + "[]\n",
		"nfdhcpd.conf:15: \"[]\" is not a [section] header"},
	{"unknown section", goodConf + "[dchp]\n",
		"nfdhcpd.conf:15: [dchp]: unknown section (did you mean [dhcp]?)"},
	{"unknown section far off", goodConf + "[logging]\n",
		"nfdhcpd.conf:15: [logging]: unknown section (did you mean [dhcp]?)"},
	{"section twice", goodConf + "[general]\n",
		"nfdhcpd.conf:15: [general]: section given twice (first on line 1)"},
	{"key outside section", "user = nobody\n" + goodConf,
		"nfdhcpd.conf:1: user: key outside any section"},
	{"no equals", goodConf + "mode\n",
		"nfdhcpd.conf:15: [ipv6]: \"mode\" is not key = value"},
	{"empty key", goodConf + "= 5\n",
		"nfdhcpd.conf:15: [ipv6]: unknown key (did you mean mode?)"},
	{"unknown key", set("ipv6.ra_perid", "5"),
		"nfdhcpd.conf:11: [ipv6] ra_perid: unknown key (did you mean ra_period?)"},
	{"unknown key far off", set("general.colour", "blue"),
		"nfdhcpd.conf:2: [general] colour: unknown key (did you mean logdir?)"},
	{"key in the wrong section", set("general.dhcp_queue", "50"),
		"nfdhcpd.conf:2: [general] dhcp_queue: unknown key (did you mean dhcp_queue in [dhcp]?)"},
	{"key given twice", goodConf + "rs_queue = 50\n",
		"nfdhcpd.conf:15: [ipv6] rs_queue: given twice (first on line 11)"},
	{"binary garbage", goodConf + "\x00\xff\n",
		"nfdhcpd.conf:15: [ipv6]: \"\\x00\\xff\" is not key = value"},
	// [general].
	{"pidfile relative", set("general.pidfile", "nfdhcpd.pid"),
		"nfdhcpd.conf:2: [general] pidfile: \"nfdhcpd.pid\" is not an absolute path"},
	{"datapath relative", set("general.datapath", "bindings"),
		"nfdhcpd.conf:3: [general] datapath: \"bindings\" is not an absolute path"},
	{"logdir relative", set("general.logdir", "log"),
		"nfdhcpd.conf:2: [general] logdir: \"log\" is not an absolute path"},
	{"steering unknown", set("general.steering", "ebpf"),
		"nfdhcpd.conf:4: [general] steering: \"ebpf\" is not one of auto, tc, iptables"},
	{"steering upper case", set("general.steering", "TC"),
		"nfdhcpd.conf:4: [general] steering: \"TC\" is not one of auto, tc, iptables"},
	{"bpf_pin_path relative", set("general.bpf_pin_path", "sys/fs/bpf/x"),
		"nfdhcpd.conf:2: [general] bpf_pin_path: \"sys/fs/bpf/x\" is not an absolute path"},
	{"attach unknown", set("general.attach", "xdp"),
		"nfdhcpd.conf:2: [general] attach: \"xdp\" is not one of auto, tcx, tc"},
	{"mark not a number", set("general.mark", "high"),
		"nfdhcpd.conf:2: [general] mark: \"high\" is not a number 0-4294967295 (decimal or 0x hex)"},
	{"mark negative", set("general.mark", "-1"),
		"nfdhcpd.conf:2: [general] mark: \"-1\" is not a number 0-4294967295 (decimal or 0x hex)"},
	{"mark too big", set("general.mark", "0x100000000"),
		"nfdhcpd.conf:2: [general] mark: \"0x100000000\" is not a number 0-4294967295 (decimal or 0x hex)"},
	{"mark outside mask", set("general.mark", "0x1"),
		"nfdhcpd.conf:2: [general] mark: 0x1 has bits outside mark_mask 0xe000000"},
	{"mark_mask zero", set("general.mark_mask", "0"),
		"nfdhcpd.conf:2: [general] mark_mask: must not be 0"},
	{"mark_mask too narrow", set("general.mark_mask", "0x5"),
		"nfdhcpd.conf:2: [general] mark_mask: 0x5: its lowest three bits must be contiguous (they hold the packet kind)"},
	{"mark_mask not a number", set("general.mark_mask", "ffff"),
		"nfdhcpd.conf:2: [general] mark_mask: \"ffff\" is not a number 0-4294967295 (decimal or 0x hex)"},
	{"metrics_listen no port", set("general.metrics_listen", "127.0.0.1"),
		"nfdhcpd.conf:2: [general] metrics_listen: \"127.0.0.1\" is not host:port"},
	{"metrics_listen named port", set("general.metrics_listen", ":http"),
		"nfdhcpd.conf:2: [general] metrics_listen: \":http\": port \"http\" is not a number 0-65535"},
	{"metrics_listen port too big", set("general.metrics_listen", "127.0.0.1:65536"),
		"nfdhcpd.conf:2: [general] metrics_listen: \"127.0.0.1:65536\": port \"65536\" is not a number 0-65535"},
	{"metrics_listen host name", set("general.metrics_listen", "example.com:9100"),
		"nfdhcpd.conf:2: [general] metrics_listen: \"example.com:9100\": \"example.com\" is not an IP address or localhost"},
	{"rate_limit negative", set("general.rate_limit", "-1"),
		"nfdhcpd.conf:5: [general] rate_limit: \"-1\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"rate_limit per minute", set("general.rate_limit", "200/m"),
		"nfdhcpd.conf:5: [general] rate_limit: \"200/m\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"rate_limit burst zero", set("general.rate_limit", "200/s burst 0"),
		"nfdhcpd.conf:5: [general] rate_limit: \"200/s burst 0\": burst 0 is outside 1-1000000"},
	{"rate_limit burst missing", set("general.rate_limit", "200/s burst"),
		"nfdhcpd.conf:5: [general] rate_limit: \"200/s burst\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"rate_limit zero rate with burst", set("general.rate_limit", "0/s burst 5"),
		"nfdhcpd.conf:5: [general] rate_limit: \"0/s burst 5\": rate 0/s is outside 1-1000000000/s (0 alone turns the limit off)"},
	{"rate_limit too fast", set("general.rate_limit", "2000000000/s"),
		"nfdhcpd.conf:5: [general] rate_limit: \"2000000000/s\": rate 2000000000/s is outside 1-1000000000/s (0 alone turns the limit off)"},
	{"rate_limit words", set("general.rate_limit", "fast"),
		"nfdhcpd.conf:5: [general] rate_limit: \"fast\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"queue_balance zero", set("general.queue_balance", "0"),
		"nfdhcpd.conf:2: [general] queue_balance: \"0\" is not a number of queues 1-1024"},
	{"queue_balance too many", set("general.queue_balance", "1025"),
		"nfdhcpd.conf:2: [general] queue_balance: \"1025\" is not a number of queues 1-1024"},
	{"queue_balance overlaps", set("general.queue_balance", "2"),
		"nfdhcpd.conf:12: [ipv6] rs_queue: queues 43-44 (queue_balance 2) overlap [dhcp] dhcp_queue's at 43\nnfdhcpd.conf:14: [ipv6] dhcpv6_queue: queues 45-46 (queue_balance 2) overlap [ipv6] ns_queue's at 45"},
	// [dhcp].
	{"enable_dhcp maybe", set("dhcp.enable_dhcp", "maybe"),
		"nfdhcpd.conf:7: [dhcp] enable_dhcp: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"lease_lifetime zero", set("dhcp.lease_lifetime", "0"),
		"nfdhcpd.conf:7: [dhcp] lease_lifetime: \"0\" is not a number of seconds 1-4294967295"},
	{"lease_lifetime too long", set("dhcp.lease_lifetime", "4294967296"),
		"nfdhcpd.conf:7: [dhcp] lease_lifetime: \"4294967296\" is not a number of seconds 1-4294967295"},
	{"lease_lifetime with unit", set("dhcp.lease_lifetime", "1w"),
		"nfdhcpd.conf:7: [dhcp] lease_lifetime: \"1w\" is not a number of seconds 1-4294967295"},
	{"lease_renewal zero", set("dhcp.lease_renewal", "0"),
		"nfdhcpd.conf:7: [dhcp] lease_renewal: \"0\" is not a number of seconds 1-4294967295"},
	{"lease_renewal not below lifetime", set("dhcp.lease_renewal", "604800"),
		"nfdhcpd.conf:7: [dhcp] lease_renewal: 604800 must be less than lease_lifetime 604800"},
	{"lease_renewal above lifetime", set("dhcp.lease_lifetime", "60"),
		"nfdhcpd.conf: [dhcp] lease_renewal: 3600 must be less than lease_lifetime 60"},
	{"server_ip garbage", set("dhcp.server_ip", "server"),
		"nfdhcpd.conf:7: [dhcp] server_ip: \"server\" is not an IP address"},
	{"server_ip IPv6", set("dhcp.server_ip", "2001:db8::1"),
		"nfdhcpd.conf:7: [dhcp] server_ip: \"2001:db8::1\" is not IPv4"},
	{"server_ip with zone", set("dhcp.server_ip", "fe80::1%eth0"),
		"nfdhcpd.conf:7: [dhcp] server_ip: \"fe80::1%eth0\" is not an IP address"},
	{"server_ip with prefix", set("dhcp.server_ip", "192.0.2.1/24"),
		"nfdhcpd.conf:7: [dhcp] server_ip: \"192.0.2.1/24\" is not an IP address"},
	{"server_ip missing", drop("dhcp.server_ip"),
		"nfdhcpd.conf: [dhcp] server_ip: required unless server_on_link = yes"},
	{"server_on_link maybe", set("dhcp.server_on_link", "perhaps"),
		"nfdhcpd.conf:7: [dhcp] server_on_link: \"perhaps\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"dhcp_queue missing", drop("dhcp.dhcp_queue"),
		"nfdhcpd.conf: [dhcp] dhcp_queue: required when enable_dhcp = yes"},
	{"dhcp_queue negative", set("dhcp.dhcp_queue", "-1"),
		"nfdhcpd.conf:8: [dhcp] dhcp_queue: \"-1\" is not a queue number 0-65535"},
	{"dhcp_queue too big", set("dhcp.dhcp_queue", "65536"),
		"nfdhcpd.conf:8: [dhcp] dhcp_queue: \"65536\" is not a queue number 0-65535"},
	{"dhcp_queue word", set("dhcp.dhcp_queue", "dhcp"),
		"nfdhcpd.conf:8: [dhcp] dhcp_queue: \"dhcp\" is not a queue number 0-65535"},
	{"dhcp_queue same as rs_queue", set("dhcp.dhcp_queue", "43"),
		"nfdhcpd.conf:11: [ipv6] rs_queue: queue 43 is also [dhcp] dhcp_queue"},
	{"nameservers IPv6", set("dhcp.nameservers", "2001:db8::53"),
		"nfdhcpd.conf:9: [dhcp] nameservers: \"2001:db8::53\" is not IPv4"},
	{"nameservers garbage", set("dhcp.nameservers", "192.0.2.2, dns"),
		"nfdhcpd.conf:9: [dhcp] nameservers: \"dns\" is not an IP address"},
	{"domain with space", set("dhcp.domain", "exa mple"),
		"nfdhcpd.conf:7: [dhcp] domain: \"exa mple\" is not a valid domain name"},
	{"domain empty label", set("dhcp.domain", "example..com"),
		"nfdhcpd.conf:7: [dhcp] domain: \"example..com\" is not a valid domain name"},
	{"next_server a name", set("dhcp.next_server", "tftp.example.com"),
		"nfdhcpd.conf:7: [dhcp] next_server: \"tftp.example.com\" is not an IP address"},
	{"next_server IPv6", set("dhcp.next_server", "2001:db8::69"),
		"nfdhcpd.conf:7: [dhcp] next_server: \"2001:db8::69\" is not IPv4"},
	{"next_server broadcast", set("dhcp.next_server", "255.255.255.255"),
		"nfdhcpd.conf:7: [dhcp] next_server: \"255.255.255.255\" is not a unicast address"},
	{"boot_file too long", set("dhcp.boot_file", strings.Repeat("b", 128)),
		"nfdhcpd.conf:7: [dhcp] boot_file: \"" + strings.Repeat("b", 64) + "\"… is longer than the 127 bytes of the BOOTP file field"},
	{"boot_file not ASCII", set("dhcp.boot_file", "bööt.efi"),
		"nfdhcpd.conf:7: [dhcp] boot_file: \"bööt.efi\" holds bytes that are not printable ASCII"},
	{"options not code=value", set("dhcp.options", "42"),
		"nfdhcpd.conf:7: [dhcp] options: \"42\" is not CODE=VALUE"},
	{"options code word", set("dhcp.options", "ntp=192.0.2.5"),
		"nfdhcpd.conf:7: [dhcp] options: option \"ntp\": code is not a number 1-254"},
	{"options code too big", set("dhcp.options", "256=0x01"),
		"nfdhcpd.conf:7: [dhcp] options: option \"256\": code is not a number 1-254"},
	{"options computed code", set("dhcp.options", "51=0x00000001"),
		"nfdhcpd.conf:7: [dhcp] options: option 51: set by the daemon itself (the lease time comes from lease_lifetime)"},
	{"options router", set("dhcp.options", "3=192.0.2.1"),
		"nfdhcpd.conf:7: [dhcp] options: option 3: set by the daemon itself (the router comes from GATEWAY)"},
	{"options twice", set("dhcp.options", "224=0x01; 224=0x02"),
		"nfdhcpd.conf:7: [dhcp] options: option 224: given twice"},
	{"options bad hex", set("dhcp.options", "224=0xg0"),
		"nfdhcpd.conf:7: [dhcp] options: option 224: \"0xg0\" is not hex bytes (0x followed by pairs of hex digits)"},
	{"options unknown code without hex", set("dhcp.options", "224=text"),
		"nfdhcpd.conf:7: [dhcp] options: option 224: \"text\": no known type for this code, give the value as 0x... hex"},
	{"options ntp name", set("dhcp.options", "42=ntp.example.com"),
		"nfdhcpd.conf:7: [dhcp] options: option 42: \"ntp.example.com\" is not an IP address"},
	{"options too long", set("dhcp.options", "224=0x"+strings.Repeat("00", 256)),
		"nfdhcpd.conf:7: [dhcp] options: option 224: 256 bytes is longer than 255"},
	{"options empty value", set("dhcp.options", "66="),
		"nfdhcpd.conf:7: [dhcp] options: option 66: empty value"},
	// [ipv6].
	{"enable_ipv6 maybe", set("ipv6.enable_ipv6", "maybe"),
		"nfdhcpd.conf:11: [ipv6] enable_ipv6: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"mode unknown", set("ipv6.mode", "stateful"),
		"nfdhcpd.conf:11: [ipv6] mode: \"stateful\" is not one of auto, slaac, slaac+dhcpv6, dhcpv6"},
	{"mode upper case", set("ipv6.mode", "SLAAC"),
		"nfdhcpd.conf:11: [ipv6] mode: \"SLAAC\" is not one of auto, slaac, slaac+dhcpv6, dhcpv6"},
	{"mode slaac+dhcpv6 without dhcpv6_queue", strings.Replace(set("ipv6.mode", "slaac+dhcpv6"), "dhcpv6_queue = 45\n", "", 1),
		"nfdhcpd.conf:11: [ipv6] mode: slaac+dhcpv6 needs dhcpv6_queue"},
	{"mode slaac without rs_queue", strings.Replace(set("ipv6.mode", "slaac"), "rs_queue = 43\n", "", 1),
		"nfdhcpd.conf:11: [ipv6] mode: slaac needs rs_queue"},
	{"auto with no queues", strings.NewReplacer("rs_queue = 43\n", "", "ns_queue = 44\n", "", "dhcpv6_queue = 45\n", "").Replace(goodConf),
		"nfdhcpd.conf: [ipv6] mode: auto (no rs_queue and ns_queue, so dhcpv6) needs dhcpv6_queue"},
	{"ra_period zero", set("ipv6.ra_period", "0"),
		"nfdhcpd.conf:11: [ipv6] ra_period: \"0\" is not a number of seconds 1-14400"},
	{"ra_period too long", set("ipv6.ra_period", "14401"),
		"nfdhcpd.conf:11: [ipv6] ra_period: \"14401\" is not a number of seconds 1-14400"},
	{"ra_period fraction", set("ipv6.ra_period", "1.5"),
		"nfdhcpd.conf:11: [ipv6] ra_period: \"1.5\" is not a number of seconds 1-14400"},
	{"pd_lifetime zero", set("ipv6.pd_lifetime", "0"),
		"nfdhcpd.conf:11: [ipv6] pd_lifetime: \"0\" is not a number of seconds 1-4294967295"},
	{"pd_lifetime past infinity", set("ipv6.pd_lifetime", "4294967296"),
		"nfdhcpd.conf:11: [ipv6] pd_lifetime: \"4294967296\" is not a number of seconds 1-4294967295"},
	{"pd_lifetime with a unit", set("ipv6.pd_lifetime", "1d"),
		"nfdhcpd.conf:11: [ipv6] pd_lifetime: \"1d\" is not a number of seconds 1-4294967295"},
	{"pd_routes maybe", set("ipv6.pd_routes", "maybe"),
		"nfdhcpd.conf:11: [ipv6] pd_routes: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"rs_queue too big", set("ipv6.rs_queue", "70000"),
		"nfdhcpd.conf:11: [ipv6] rs_queue: \"70000\" is not a queue number 0-65535"},
	{"ns_queue same as rs_queue", set("ipv6.ns_queue", "43"),
		"nfdhcpd.conf:12: [ipv6] ns_queue: queue 43 is also [ipv6] rs_queue"},
	{"dhcpv6_queue same as dhcp_queue", set("ipv6.dhcpv6_queue", "42"),
		"nfdhcpd.conf:13: [ipv6] dhcpv6_queue: queue 42 is also [dhcp] dhcp_queue"},
	{"ns_queue word", set("ipv6.ns_queue", "ns"),
		"nfdhcpd.conf:12: [ipv6] ns_queue: \"ns\" is not a queue number 0-65535"},
	{"ipv6 nameservers IPv4", set("ipv6.nameservers", "192.0.2.53"),
		"nfdhcpd.conf:14: [ipv6] nameservers: \"192.0.2.53\" is not IPv6"},
	{"ipv6 nameservers garbage", set("ipv6.nameservers", "2001:db8::53 x"),
		"nfdhcpd.conf:14: [ipv6] nameservers: \"x\" is not an IP address"},
	{"domains bad", set("ipv6.domains", "example.com, bad..name"),
		"nfdhcpd.conf:11: [ipv6] domains: \"bad..name\" is not a valid domain name"},
	{"domains underscore", set("ipv6.domains", "_x.example.com"),
		"nfdhcpd.conf:11: [ipv6] domains: \"_x.example.com\" is not a valid domain name"},
	{"lease_renewal with unit", set("dhcp.lease_renewal", "1h"),
		"nfdhcpd.conf:7: [dhcp] lease_renewal: \"1h\" is not a number of seconds 1-4294967295"},
	{"metrics_listen IPv6 unbracketed", set("general.metrics_listen", "::1:9100"),
		"nfdhcpd.conf:2: [general] metrics_listen: \"::1:9100\" is not host:port"},
	{"metrics_listen negative port", set("general.metrics_listen", "127.0.0.1:-1"),
		"nfdhcpd.conf:2: [general] metrics_listen: \"127.0.0.1:-1\": port \"-1\" is not a number 0-65535"},
	{"rate_limit burst too big", set("general.rate_limit", "200/s burst 1000001"),
		"nfdhcpd.conf:5: [general] rate_limit: \"200/s burst 1000001\": burst 1000001 is outside 1-1000000"},
	{"rate_limit hex", set("general.rate_limit", "0x10/s"),
		"nfdhcpd.conf:5: [general] rate_limit: \"0x10/s\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"rate_limit trailing word", set("general.rate_limit", "200/s burst 50 now"),
		"nfdhcpd.conf:5: [general] rate_limit: \"200/s burst 50 now\": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit"},
	{"dhcpv6_queue negative", set("ipv6.dhcpv6_queue", "-45"),
		"nfdhcpd.conf:13: [ipv6] dhcpv6_queue: \"-45\" is not a queue number 0-65535"},
	{"rs_queue fraction", set("ipv6.rs_queue", "43.5"),
		"nfdhcpd.conf:11: [ipv6] rs_queue: \"43.5\" is not a queue number 0-65535"},
	{"domain trailing hyphen", set("dhcp.domain", "example-.com"),
		"nfdhcpd.conf:7: [dhcp] domain: \"example-.com\" is not a valid domain name"},
	{"options hex prefix only", set("dhcp.options", "224=0x"),
		"nfdhcpd.conf:7: [dhcp] options: option 224: \"0x\" is not hex bytes (0x followed by pairs of hex digits)"},
	{"ipv6 nameservers with zone", set("ipv6.nameservers", "fe80::1%eth0"),
		"nfdhcpd.conf:14: [ipv6] nameservers: \"fe80::1%eth0\" is not an IP address"},
	{"enable_ipv6 two words", set("ipv6.enable_ipv6", "yes please"),
		"nfdhcpd.conf:11: [ipv6] enable_ipv6: \"yes please\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"server_on_link 2", set("dhcp.server_on_link", "2"),
		"nfdhcpd.conf:7: [dhcp] server_on_link: \"2\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
	{"mark on the kind bits", strings.Replace(set("general.mark", "0x2000000"), "[general]\n", "[general]\nmark_mask = 0xf000000\n", 1),
		"nfdhcpd.conf:3: [general] mark: 0x2000000 overlaps the kind bits 0x7000000 of mark_mask 0xf000000"},
	{"router_address global", set("ipv6.router_address", "2001:db8::1"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"2001:db8::1\" is not a link-local unicast IPv6 address (fe80::/10)"},
	{"router_address IPv4", set("ipv6.router_address", "169.254.0.1"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"169.254.0.1\" is not a link-local unicast IPv6 address (fe80::/10)"},
	{"router_address IPv4-mapped", set("ipv6.router_address", "::ffff:169.254.0.1"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"::ffff:169.254.0.1\" is not a link-local unicast IPv6 address (fe80::/10)"},
	{"router_address multicast", set("ipv6.router_address", "ff02::2"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"ff02::2\" is not a link-local unicast IPv6 address (fe80::/10)"},
	{"router_address with zone", set("ipv6.router_address", "fe80::1%tap10"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"fe80::1%tap10\" is not a link-local unicast IPv6 address (fe80::/10): it has a zone; the address is every TAP's"},
	{"router_address anycast", set("ipv6.router_address", "fe80::"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"fe80::\" is not a link-local unicast IPv6 address (fe80::/10): an interface identifier of zero is the Subnet-Router anycast address"},
	{"router_address prefix", set("ipv6.router_address", "fe80::1/64"),
		"nfdhcpd.conf:11: [ipv6] router_address: \"fe80::1/64\" is not a link-local unicast IPv6 address (fe80::/10): not an IP address"},
	{"server_duid odd digits", set("ipv6.server_duid", "0:03:00:01:ee:ee:ee:ee:ee:ee"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"0:03:00:01:ee:ee:ee:ee:ee:ee\" is not a DUID (RFC 8415 §11): want hex bytes, two digits each, such as 00:03:00:01:ee:ee:ee:ee:ee:ee"},
	{"server_duid not hex", set("ipv6.server_duid", "router-1"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"router-1\" is not a DUID (RFC 8415 §11): want hex bytes, two digits each, such as 00:03:00:01:ee:ee:ee:ee:ee:ee"},
	{"server_duid type only", set("ipv6.server_duid", "00:03"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:03\" is not a DUID (RFC 8415 §11): 2 bytes: a type (2 bytes) and an identifier"},
	{"server_duid unknown type", set("ipv6.server_duid", "00:05:01:02"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:05:01:02\" is not a DUID (RFC 8415 §11): type 5 is none of 1 (DUID-LLT), 2 (DUID-EN), 3 (DUID-LL), 4 (DUID-UUID)"},
	{"server_duid DUID-LL of a short MAC", set("ipv6.server_duid", "00:03:00:01:ee:ee:ee:ee:ee"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:03:00:01:ee:ee:ee:ee:ee\" is not a DUID (RFC 8415 §11): DUID-LL of hardware type 1 (Ethernet) has a 6-byte address, not 5"},
	{"server_duid DUID-LL without address", set("ipv6.server_duid", "00030001"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00030001\" is not a DUID (RFC 8415 §11): DUID-LL holds a hardware type and a link-layer address; 4 bytes is too short"},
	{"server_duid DUID-LL reserved hardware type", set("ipv6.server_duid", "00:03:00:00:01"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:03:00:00:01\" is not a DUID (RFC 8415 §11): DUID-LL: hardware type 0 is reserved"},
	{"server_duid DUID-LLT of a long MAC", set("ipv6.server_duid", "00:01:00:01:2a:2b:2c:2d:ee:ee:ee:ee:ee:ee:ee"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:01:00:01:2a:2b:2c:2d:ee:ee:ee:ee:ee:ee:ee\" is not a DUID (RFC 8415 §11): DUID-LLT of hardware type 1 (Ethernet) has a 6-byte address, not 7"},
	{"server_duid DUID-LLT without address", set("ipv6.server_duid", "00:01:00:01:2a:2b:2c:2d"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:01:00:01:2a:2b:2c:2d\" is not a DUID (RFC 8415 §11): DUID-LLT holds a hardware type and a link-layer address; 8 bytes is too short"},
	{"server_duid DUID-EN without identifier", set("ipv6.server_duid", "00:02:00:00:7f:ff"),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"00:02:00:00:7f:ff\" is not a DUID (RFC 8415 §11): DUID-EN holds an enterprise number (4 bytes) and an identifier; 6 bytes is too short"},
	{"server_duid DUID-UUID short", set("ipv6.server_duid", "0004"+strings.Repeat("ab", 15)),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"0004" + strings.Repeat("ab", 15) + "\" is not a DUID (RFC 8415 §11): DUID-UUID is 18 bytes (type and UUID), not 17"},
	{"server_duid too long", set("ipv6.server_duid", "0002000000ff"+strings.Repeat("ab", 125)),
		"nfdhcpd.conf:11: [ipv6] server_duid: \"0002000000ff" + strings.Repeat("ab", 125) + "\" is not a DUID (RFC 8415 §11): 131 bytes, more than 130"},
	// Several at once: each is named.
	{"three problems", strings.NewReplacer("steering = auto", "steering = x", "dhcp_queue = 42", "dhcp_queue = q", "rs_queue = 43", "rs_queue = 44").Replace(goodConf),
		"nfdhcpd.conf:4: [general] steering: \"x\" is not one of auto, tc, iptables\nnfdhcpd.conf:8: [dhcp] dhcp_queue: \"q\" is not a queue number 0-65535\nnfdhcpd.conf:12: [ipv6] ns_queue: queue 44 is also [ipv6] rs_queue"},
}

func TestMalformedConfigs(t *testing.T) {
	if len(malformedConfs) < 100 {
		t.Fatalf("only %d malformed configurations", len(malformedConfs))
	}
	if _, err := Parse("nfdhcpd.conf", strings.NewReader(goodConf)); err != nil {
		t.Fatalf("the base configuration is rejected: %v", err)
	}
	before := defaults()
	for _, tt := range malformedConfs {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("nfdhcpd.conf", strings.NewReader(tt.text))
			if c != nil || err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "nfdhcpd.conf" {
				t.Errorf("%v is not an *Error naming the file", err)
			}
		})
	}
	// A rejected file changes nothing shared: defaults, and a good file
	// read after them, are as before.
	if after := defaults(); !reflect.DeepEqual(before, after) {
		t.Errorf("defaults changed: %+v", after)
	}
	if _, err := Parse("nfdhcpd.conf", strings.NewReader(goodConf)); err != nil {
		t.Errorf("the base configuration is rejected after the bad ones: %v", err)
	}
}
