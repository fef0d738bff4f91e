package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// goodBinding is a complete binding every malformed case starts from: the
// seed's sample (testdata/tap10) plus MTU, 12 lines.
var goodBinding = func() string {
	b, err := os.ReadFile("testdata/tap10")
	if err != nil {
		panic(err)
	}
	return string(b) + "MTU=1450\n"
}()

// with returns goodBinding with key set to val (added at the end when the
// file lacks it); without drops the key's line.
func with(key, val string) string {
	lines := strings.Split(goodBinding, "\n")
	for i, l := range lines {
		if k, _, _ := strings.Cut(l, "="); k == key {
			lines[i] = key + "=" + val
			return strings.Join(lines, "\n")
		}
	}
	return goodBinding + key + "=" + val + "\n"
}

func without(key string) string {
	var out []string
	for _, l := range strings.Split(goodBinding, "\n") {
		if k, _, _ := strings.Cut(l, "="); k != key {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// seventeen is one delegated prefix more than a binding may hold.
var seventeen = func() string {
	var ps []string
	for i := range 17 {
		ps = append(ps, fmt.Sprintf("2001:db8:cc%02x::/48", i))
	}
	return strings.Join(ps, ",")
}()

// malformed lists binding files that must be rejected, each with the exact
// error Parse returns (the file is named tap10). Each would hand the VM a
// configuration other than the file means (or none), so it is refused
// although the original daemon served some of them: see warned for what it
// forgave.
var malformed = []struct {
	name, text, want string
}{
	// Syntax.
	{"empty", "", "tap10: file is empty"},
	{"blank lines only", "\n \n\t\n", "tap10: file is empty"},
	{"comments only", "# a\n# b\n", "tap10: MAC: required\ntap10: HOSTNAME: required"},
	{"lone quote", with("IP", `"`), `tap10:2: IP: unterminated quote in "\""`},
	{"open quote in INDEV", with("INDEV", `"tap10`), `tap10:1: INDEV: unterminated quote in "\"tap10"`},
	// Of a key set twice the last value wins; an error in it stands.
	{"key twice, the last bad", goodBinding + "IP=192.0.2.300\n", `tap10:13: IP: "192.0.2.300" is not an IP address`},
	{"key twice, the last outside SUBNET", goodBinding + "IP=192.0.3.100\n", "tap10:13: IP: 192.0.3.100 is outside SUBNET 192.0.2.0/24"},
	// What a file holds is shown escaped, and at most 64 bytes of it.
	{"escape sequence in a value", with("MAC", "\x1b[31mred\x1b[0m"), `tap10:3: MAC: "\x1b[31mred\x1b[0m" is not an Ethernet MAC address`},
	{"a long value", with("IP", strings.Repeat("1", 100)), `tap10:2: IP: "` + strings.Repeat("1", 64) + `"… is not an IP address`},
	{"escape sequence after an open quote", with("HOSTNAME", "\"\x1b[0m"), `tap10:4: HOSTNAME: "\"\x1b[0m" holds bytes that are not printable ASCII`},
	{"DHCP_OPTIONS escape sequence", with("DHCP_OPTIONS", "224=\x1b[1m"), `tap10:13: DHCP_OPTIONS: option 224: "\x1b[1m": no known type for this code, give the value as 0x... hex`},
	{"DHCP_OPTIONS long code", with("DHCP_OPTIONS", strings.Repeat("9", 100)+"=0x01"), `tap10:13: DHCP_OPTIONS: option "` + strings.Repeat("9", 64) + `"…: code is not a number 1-254`},
	{"DHCP_OPTIONS long string", with("DHCP_OPTIONS", "66="+strings.Repeat("x", 80)+"\x7f"), `tap10:13: DHCP_OPTIONS: option 66: "` + strings.Repeat("x", 64) + `"…: not printable ASCII`},
	{"too large", goodBinding + "#" + strings.Repeat("x", 64<<10) + "\n", "tap10: larger than 65536 bytes"},
	{"line longer than the file limit in one line", "TAGS=" + strings.Repeat("x", 70<<10), "tap10: larger than 65536 bytes"},
	// MAC.
	{"MAC missing", without("MAC"), "tap10: MAC: required"},
	{"MAC empty", with("MAC", ""), "tap10: MAC: required"},
	{"MAC garbage", with("MAC", "zz:6b:39:22:33:44"), "tap10:3: MAC: \"zz:6b:39:22:33:44\" is not an Ethernet MAC address"},
	{"MAC short", with("MAC", "aa:6b:39:22:33"), "tap10:3: MAC: \"aa:6b:39:22:33\" is not an Ethernet MAC address"},
	{"MAC EUI-64", with("MAC", "aa:6b:39:22:33:44:55:66"), "tap10:3: MAC: \"aa:6b:39:22:33:44:55:66\" is not an Ethernet MAC address"},
	{"MAC infiniband", with("MAC", strings.Repeat("00:", 19)+"00"), `tap10:3: MAC: "` + strings.Repeat("00:", 19) + `00" is not an Ethernet MAC address`},
	{"MAC multicast", with("MAC", "01:00:5e:00:00:01"), "tap10:3: MAC: \"01:00:5e:00:00:01\" is a multicast address"},
	{"MAC broadcast", with("MAC", "ff:ff:ff:ff:ff:ff"), "tap10:3: MAC: \"ff:ff:ff:ff:ff:ff\" is a multicast address"},
	{"MAC with spaces", with("MAC", "aa:6b:39 :22:33:44"), "tap10:3: MAC: \"aa:6b:39 :22:33:44\" is not an Ethernet MAC address"},
	// HOSTNAME.
	{"HOSTNAME missing", without("HOSTNAME"), "tap10: HOSTNAME: required"},
	{"HOSTNAME empty", with("HOSTNAME", ""), "tap10: HOSTNAME: required"},
	{"HOSTNAME non-ASCII", with("HOSTNAME", "vé"), "tap10:4: HOSTNAME: \"vé\" holds bytes that are not printable ASCII"},
	{"HOSTNAME NUL", with("HOSTNAME", "vm\x00"), "tap10:4: HOSTNAME: \"vm\\x00\" holds bytes that are not printable ASCII"},
	{"HOSTNAME tab", with("HOSTNAME", "web\t01"), "tap10:4: HOSTNAME: \"web\\t01\" holds bytes that are not printable ASCII"},
	{"HOSTNAME DEL", with("HOSTNAME", "vm\x7f"), "tap10:4: HOSTNAME: \"vm\\x7f\" holds bytes that are not printable ASCII"},
	{"HOSTNAME longer than option 12", with("HOSTNAME", strings.Repeat("h", 256)), `tap10:4: HOSTNAME: "` + strings.Repeat("h", 64) + `"… is longer than the 255 bytes option 12 carries`},
	// INDEV and the file name.
	{"INDEV with space", with("INDEV", "tap 10"), "tap10:1: INDEV: \"tap 10\" is not a valid interface name"},
	{"INDEV too long", with("INDEV", "abcdefghijklmnop"), "tap10:1: INDEV: \"abcdefghijklmnop\" is not a valid interface name"},
	{"INDEV slash", with("INDEV", "a/b"), "tap10:1: INDEV: \"a/b\" is not a valid interface name"},
	{"INDEV dot", with("INDEV", "."), "tap10:1: INDEV: \".\" is not a valid interface name"},
	{"INDEV colon", with("INDEV", "br0:1"), "tap10:1: INDEV: \"br0:1\" is not a valid interface name"},
	// IP.
	{"IP garbage", with("IP", "abc"), "tap10:2: IP: \"abc\" is not an IP address"},
	{"IP octet too big", with("IP", "300.1.1.1"), "tap10:2: IP: \"300.1.1.1\" is not an IP address"},
	{"IP three octets", with("IP", "192.0.2"), "tap10:2: IP: \"192.0.2\" is not an IP address"},
	{"IP leading zero", with("IP", "192.0.2.010"), "tap10:2: IP: \"192.0.2.010\" is not an IP address"},
	{"IP with prefix", with("IP", "192.0.2.100/24"), "tap10:2: IP: \"192.0.2.100/24\" is not an IP address"},
	{"IP is IPv6", with("IP", "2001:db8::1"), "tap10:2: IP: \"2001:db8::1\" is not IPv4"},
	{"IP is v4-mapped", with("IP", "::ffff:192.0.2.100"), "tap10:2: IP: \"::ffff:192.0.2.100\" is not IPv4"},
	{"IP outside SUBNET", with("IP", "192.0.3.9"), "tap10:2: IP: 192.0.3.9 is outside SUBNET 192.0.2.0/24"},
	{"IP network address", with("IP", "192.0.2.0"), "tap10:2: IP: 192.0.2.0 is the network address of 192.0.2.0/24"},
	{"IP broadcast address", with("IP", "192.0.2.255"), "tap10:2: IP: 192.0.2.255 is the broadcast address of 192.0.2.0/24"},
	{"IP without SUBNET", strings.Replace(without("SUBNET"), "GATEWAY=192.0.2.1\n", "", 1), "tap10:2: IP: 192.0.2.100 needs SUBNET"},
	{"IP with a zone", with("IP", "192.0.2.100%eth0"), "tap10:2: IP: \"192.0.2.100%eth0\" is not an IP address"},
	// SUBNET.
	{"SUBNET garbage", with("SUBNET", "x/24"), "tap10:7: SUBNET: \"x/24\" is not a prefix (address/length)"},
	{"SUBNET no length", with("SUBNET", "192.0.2.0"), "tap10:7: SUBNET: \"192.0.2.0\" is not a prefix (address/length)"},
	{"SUBNET length 33", with("SUBNET", "192.0.2.0/33"), "tap10:7: SUBNET: \"192.0.2.0/33\" is not a prefix (address/length)"},
	{"SUBNET negative length", with("SUBNET", "192.0.2.0/-1"), "tap10:7: SUBNET: \"192.0.2.0/-1\" is not a prefix (address/length)"},
	{"SUBNET is IPv6", with("SUBNET", "2001:db8::/64"), "tap10:7: SUBNET: \"2001:db8::/64\" is not IPv4"},
	{"SUBNET netmask form", with("SUBNET", "192.0.2.0/255.255.255.0"), "tap10:7: SUBNET: \"192.0.2.0/255.255.255.0\" is not a prefix (address/length)"},
	// GATEWAY.
	{"GATEWAY garbage", with("GATEWAY", "gw"), "tap10:6: GATEWAY: \"gw\" is not an IP address"},
	{"GATEWAY is IPv6", with("GATEWAY", "fe80::1"), "tap10:6: GATEWAY: \"fe80::1\" is not IPv4"},
	{"GATEWAY outside SUBNET", with("GATEWAY", "198.51.100.1"), "tap10:6: GATEWAY: 198.51.100.1 is outside SUBNET 192.0.2.0/24"},
	{"GATEWAY broadcast", with("GATEWAY", "192.0.2.255"), "tap10:6: GATEWAY: 192.0.2.255 is the broadcast address of 192.0.2.0/24"},
	{"GATEWAY is the VM", with("GATEWAY", "192.0.2.100"), "tap10:6: GATEWAY: 192.0.2.100 is the VM's own IP"},
	{"GATEWAY without SUBNET", strings.Replace(without("SUBNET"), "IP=192.0.2.100\n", "", 1), "tap10:5: GATEWAY: 192.0.2.1 needs SUBNET"},
	// IPv6.
	{"SUBNET6 garbage", with("SUBNET6", "2001:db8::/abc"), "tap10:9: SUBNET6: \"2001:db8::/abc\" is not a prefix (address/length)"},
	{"SUBNET6 length 129", with("SUBNET6", "2001:db8::/129"), "tap10:9: SUBNET6: \"2001:db8::/129\" is not a prefix (address/length)"},
	{"SUBNET6 is IPv4", with("SUBNET6", "192.0.2.0/24"), "tap10:9: SUBNET6: \"192.0.2.0/24\" is not IPv6"},
	{"SUBNET6 no length", with("SUBNET6", "2001:db8::"), "tap10:9: SUBNET6: \"2001:db8::\" is not a prefix (address/length)"},
	{"GATEWAY6 garbage", with("GATEWAY6", "2001:db8:::1"), "tap10:8: GATEWAY6: \"2001:db8:::1\" is not an IP address"},
	{"GATEWAY6 is IPv4", with("GATEWAY6", "192.0.2.1"), "tap10:8: GATEWAY6: \"192.0.2.1\" is not IPv6"},
	{"GATEWAY6 outside SUBNET6", with("GATEWAY6", "2001:db8:ffff::1"), "tap10:8: GATEWAY6: 2001:db8:ffff::1 is outside SUBNET6 2001:db8:aaaa:bbbb::/64"},
	{"GATEWAY6 without SUBNET6", strings.Replace(without("SUBNET6"), "EUI64=2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344\n", "", 1), "tap10:8: GATEWAY6: 2001:db8:aaaa:bbbb::1 needs SUBNET6"},
	{"EUI64 garbage", with("EUI64", "eui"), "tap10:10: EUI64: \"eui\" is not an IP address"},
	{"EUI64 is IPv4", with("EUI64", "192.0.2.100"), "tap10:10: EUI64: \"192.0.2.100\" is not IPv6"},
	{"EUI64 outside SUBNET6", with("EUI64", "2001:db8:aaaa:cccc::1"), "tap10:10: EUI64: 2001:db8:aaaa:cccc::1 is outside SUBNET6 2001:db8:aaaa:bbbb::/64"},
	{"EUI64 with prefix length", with("EUI64", "2001:db8:aaaa:bbbb::5/64"), "tap10:10: EUI64: \"2001:db8:aaaa:bbbb::5/64\" is not an IP address"},
	// DELEGATED_PREFIX6.
	{"DELEGATED_PREFIX6 garbage", with("DELEGATED_PREFIX6", "2001:db8:cccc::/x"), "tap10:13: DELEGATED_PREFIX6: \"2001:db8:cccc::/x\" is not a prefix (address/length)"},
	{"DELEGATED_PREFIX6 an address", with("DELEGATED_PREFIX6", "2001:db8:cccc::"), "tap10:13: DELEGATED_PREFIX6: \"2001:db8:cccc::\" is not a prefix (address/length)"},
	{"DELEGATED_PREFIX6 is IPv4", with("DELEGATED_PREFIX6", "198.51.100.0/24"), "tap10:13: DELEGATED_PREFIX6: \"198.51.100.0/24\" is not IPv6"},
	{"DELEGATED_PREFIX6 host bits", with("DELEGATED_PREFIX6", "2001:db8:cccc::1/56"), "tap10:13: DELEGATED_PREFIX6: \"2001:db8:cccc::1/56\" has host bits set (the network is 2001:db8:cccc::/56)"},
	{"DELEGATED_PREFIX6 longer than /64", with("DELEGATED_PREFIX6", "2001:db8:cccc::/80"), "tap10:13: DELEGATED_PREFIX6: 2001:db8:cccc::/80 is longer than /64"},
	{"DELEGATED_PREFIX6 the default route", with("DELEGATED_PREFIX6", "::/0"), "tap10:13: DELEGATED_PREFIX6: ::/0 overlaps ::/8 (reserved)"},
	{"DELEGATED_PREFIX6 link-local", with("DELEGATED_PREFIX6", "fe80::/64"), "tap10:13: DELEGATED_PREFIX6: fe80::/64 overlaps fe80::/10 (link-local)"},
	{"DELEGATED_PREFIX6 multicast", with("DELEGATED_PREFIX6", "ff02::/16"), "tap10:13: DELEGATED_PREFIX6: ff02::/16 overlaps ff00::/8 (multicast)"},
	{"DELEGATED_PREFIX6 v4-mapped", with("DELEGATED_PREFIX6", "::ffff:0:0/96"), "tap10:13: DELEGATED_PREFIX6: \"::ffff:0:0/96\" is not IPv6"},
	{"DELEGATED_PREFIX6 overlaps SUBNET6", with("DELEGATED_PREFIX6", "2001:db8:aaaa::/48"), "tap10:13: DELEGATED_PREFIX6: 2001:db8:aaaa::/48 overlaps SUBNET6 2001:db8:aaaa:bbbb::/64"},
	{"DELEGATED_PREFIX6 is SUBNET6", with("DELEGATED_PREFIX6", "2001:db8:aaaa:bbbb::/64"), "tap10:13: DELEGATED_PREFIX6: 2001:db8:aaaa:bbbb::/64 overlaps SUBNET6 2001:db8:aaaa:bbbb::/64"},
	{"DELEGATED_PREFIX6 overlap each other", with("DELEGATED_PREFIX6", "2001:db8:cccc::/56, 2001:db8:cccc:ff00::/56, 2001:db8:cccc:1::/64"), "tap10:13: DELEGATED_PREFIX6: 2001:db8:cccc:1::/64 overlaps 2001:db8:cccc::/56, also delegated"},
	{"DELEGATED_PREFIX6 twice the same", with("DELEGATED_PREFIX6", "2001:db8:cccc::/56 2001:db8:cccc::/56"), "tap10:13: DELEGATED_PREFIX6: 2001:db8:cccc::/56 overlaps 2001:db8:cccc::/56, also delegated"},
	{"DELEGATED_PREFIX6 17 prefixes", with("DELEGATED_PREFIX6", seventeen), "tap10:13: DELEGATED_PREFIX6: 17 prefixes, at most 16"},
	// Booleans.
	// MTU.
	{"MTU 67", with("MTU", "67"), "tap10:12: MTU: \"67\" is not an MTU (68-65535)"},
	{"MTU 65536", with("MTU", "65536"), "tap10:12: MTU: \"65536\" is not an MTU (68-65535)"},
	{"MTU negative", with("MTU", "-1500"), "tap10:12: MTU: \"-1500\" is not an MTU (68-65535)"},
	{"MTU hex", with("MTU", "0x5dc"), "tap10:12: MTU: \"0x5dc\" is not an MTU (68-65535)"},
	{"MTU decimal point", with("MTU", "1500.0"), "tap10:12: MTU: \"1500.0\" is not an MTU (68-65535)"},
	{"MTU huge", with("MTU", "99999999999999999999"), "tap10:12: MTU: \"99999999999999999999\" is not an MTU (68-65535)"},
	// Per-VM overrides.
	{"NAMESERVERS IPv6", with("NAMESERVERS", "2001:db8::53"), "tap10:13: NAMESERVERS: \"2001:db8::53\" is not IPv4"},
	{"NAMESERVERS garbage", with("NAMESERVERS", "192.0.2.53, dns"), "tap10:13: NAMESERVERS: \"dns\" is not an IP address"},
	{"NAMESERVERS short", with("NAMESERVERS", "192.0.2"), "tap10:13: NAMESERVERS: \"192.0.2\" is not an IP address"},
	{"NAMESERVERS6 IPv4", with("NAMESERVERS6", "192.0.2.53"), "tap10:13: NAMESERVERS6: \"192.0.2.53\" is not IPv6"},
	{"NAMESERVERS6 garbage", with("NAMESERVERS6", "2001:db8::53 x"), "tap10:13: NAMESERVERS6: \"x\" is not an IP address"},
	{"DOMAIN with space", with("DOMAIN", "example com"), "tap10:13: DOMAIN: \"example com\" is not a valid domain name"},
	{"DOMAIN empty label", with("DOMAIN", "example..com"), "tap10:13: DOMAIN: \"example..com\" is not a valid domain name"},
	{"DOMAIN_SEARCH bad entry", with("DOMAIN_SEARCH", "example.com, bad..name"), "tap10:13: DOMAIN_SEARCH: \"bad..name\" is not a valid domain name"},
	{"DOMAIN_SEARCH underscore", with("DOMAIN_SEARCH", "_x.example.com"), "tap10:13: DOMAIN_SEARCH: \"_x.example.com\" is not a valid domain name"},
	// DHCP_OPTIONS.
	{"DHCP_OPTIONS no equals", with("DHCP_OPTIONS", "42"), "tap10:13: DHCP_OPTIONS: \"42\" is not CODE=VALUE"},
	{"DHCP_OPTIONS code word", with("DHCP_OPTIONS", "ntp=192.0.2.5"), "tap10:13: DHCP_OPTIONS: option \"ntp\": code is not a number 1-254"},
	{"DHCP_OPTIONS code 300", with("DHCP_OPTIONS", "300=0x01"), "tap10:13: DHCP_OPTIONS: option \"300\": code is not a number 1-254"},
	{"DHCP_OPTIONS code negative", with("DHCP_OPTIONS", "-1=0x01"), "tap10:13: DHCP_OPTIONS: option \"-1\": code is not a number 1-254"},
	{"DHCP_OPTIONS lease time", with("DHCP_OPTIONS", "51=0x00000001"), "tap10:13: DHCP_OPTIONS: option 51: set by the daemon itself (the lease time comes from lease_lifetime)"},
	{"DHCP_OPTIONS router", with("DHCP_OPTIONS", "3=192.0.2.1"), "tap10:13: DHCP_OPTIONS: option 3: set by the daemon itself (the router comes from GATEWAY)"},
	{"DHCP_OPTIONS pad", with("DHCP_OPTIONS", "0=0x00"), "tap10:13: DHCP_OPTIONS: option 0: set by the daemon itself (pad is not an option)"},
	{"DHCP_OPTIONS end", with("DHCP_OPTIONS", "255=0x00"), "tap10:13: DHCP_OPTIONS: option 255: set by the daemon itself (end is not an option)"},
	{"DHCP_OPTIONS twice", with("DHCP_OPTIONS", "224=0x01; 224=0x02"), "tap10:13: DHCP_OPTIONS: option 224: given twice"},
	{"DHCP_OPTIONS bad hex", with("DHCP_OPTIONS", "224=0xzz"), "tap10:13: DHCP_OPTIONS: option 224: \"0xzz\" is not hex bytes (0x followed by pairs of hex digits)"},
	{"DHCP_OPTIONS odd hex", with("DHCP_OPTIONS", "224=0x123"), "tap10:13: DHCP_OPTIONS: option 224: \"0x123\" is not hex bytes (0x followed by pairs of hex digits)"},
	{"DHCP_OPTIONS unknown code not hex", with("DHCP_OPTIONS", "224=hello"), "tap10:13: DHCP_OPTIONS: option 224: \"hello\": no known type for this code, give the value as 0x... hex"},
	{"DHCP_OPTIONS ntp not an address", with("DHCP_OPTIONS", "42=ntp.example.com"), "tap10:13: DHCP_OPTIONS: option 42: \"ntp.example.com\" is not an IP address"},
	{"DHCP_OPTIONS ntp IPv6", with("DHCP_OPTIONS", "42=2001:db8::1"), "tap10:13: DHCP_OPTIONS: option 42: \"2001:db8::1\" is not IPv4"},
	{"DHCP_OPTIONS too long", with("DHCP_OPTIONS", "224=0x"+strings.Repeat("ab", 256)), "tap10:13: DHCP_OPTIONS: option 224: 256 bytes is longer than 255"},
	{"DHCP_OPTIONS empty value", with("DHCP_OPTIONS", "224="), "tap10:13: DHCP_OPTIONS: option 224: empty value"},
	// PXE.
	{"NEXT_SERVER garbage", with("NEXT_SERVER", "tftp.example.com"), `tap10:13: NEXT_SERVER: "tftp.example.com" is not an IP address`},
	{"NEXT_SERVER IPv6", with("NEXT_SERVER", "2001:db8::69"), `tap10:13: NEXT_SERVER: "2001:db8::69" is not IPv4`},
	{"NEXT_SERVER unspecified", with("NEXT_SERVER", "0.0.0.0"), `tap10:13: NEXT_SERVER: "0.0.0.0" is not a unicast address`},
	{"NEXT_SERVER broadcast", with("NEXT_SERVER", "255.255.255.255"), `tap10:13: NEXT_SERVER: "255.255.255.255" is not a unicast address`},
	{"NEXT_SERVER multicast", with("NEXT_SERVER", "224.0.0.1"), `tap10:13: NEXT_SERVER: "224.0.0.1" is not a unicast address`},
	{"BOOT_FILE longer than the file field", with("BOOT_FILE", strings.Repeat("f", 128)), `tap10:13: BOOT_FILE: "` + strings.Repeat("f", 64) + `"… is longer than the 127 bytes of the BOOTP file field`},
	{"BOOT_FILE control character", with("BOOT_FILE", "pxelinux.0\x1b[2J"), `tap10:13: BOOT_FILE: "pxelinux.0\x1b[2J" holds bytes that are not printable ASCII`},
	{"BOOT_FILE non-ASCII", with("BOOT_FILE", "bööt.efi"), `tap10:13: BOOT_FILE: "bööt.efi" holds bytes that are not printable ASCII`},
	// Several problems at once: every one is named.
	{"three bad keys", strings.NewReplacer("MTU=1450", "MTU=1", "IP=192.0.2.100", "IP=x", "HOSTNAME=testing-vm", "HOSTNAME=a b").Replace(goodBinding),
		"tap10:2: IP: \"x\" is not an IP address\ntap10:12: MTU: \"1\" is not an MTU (68-65535)"},
}

// warned lists binding files the original daemon served although they are
// not quite what their keys mean: it ignored every line that did not start
// with a key it knew and =, took the last of a key set twice, sent any
// HOSTNAME, never unquoted, set PRIVATE and MACSPOOF for any value, and
// sent no MTU for 0. They are served, each with the exact warnings Parse
// gives (the file is named tap10), and want makes the base binding into
// what is served.
var warned = []struct {
	name, text, warnings string
	want                 func(b *Binding)
}{
	// Lines that are not KEY=VALUE.
	{"a shell export", goodBinding + "export FOO\n", `tap10:13: "export FOO" is not KEY=VALUE, ignored`, nil},
	{"no equals sign", goodBinding + "JUSTAWORD\n", `tap10:13: "JUSTAWORD" is not KEY=VALUE, ignored`, nil},
	{"binary garbage", goodBinding + "\x00\x01\x02\xff\n", `tap10:13: "\x00\x01\x02\xff" is not KEY=VALUE, ignored`, nil},
	// What a file holds is shown escaped, and at most 64 bytes of it.
	{"terminal escapes instead of KEY=VALUE", goodBinding + "\x1b[2J\x1b]0;pwned\x07\n", `tap10:13: "\x1b[2J\x1b]0;pwned\a" is not KEY=VALUE, ignored`, nil},
	{"a long line of junk", goodBinding + strings.Repeat("A", 1000) + "\n", `tap10:13: "` + strings.Repeat("A", 64) + `"… is not KEY=VALUE, ignored`, nil},
	{"a long binary line", goodBinding + strings.Repeat("\xff\x00", 500) + "\n", `tap10:13: "` + strings.Repeat(`\xff\x00`, 32) + `"… is not KEY=VALUE, ignored`, nil},
	{"a line of 64 bytes is shown whole", goodBinding + strings.Repeat("B", 64) + "\n", `tap10:13: "` + strings.Repeat("B", 64) + `" is not KEY=VALUE, ignored`, nil},
	{"cut before a character, not inside it", goodBinding + strings.Repeat("C", 63) + "éé\n", `tap10:13: "` + strings.Repeat("C", 63) + `"… is not KEY=VALUE, ignored`, nil},
	{"at most 32 warnings, and a count of the rest", goodBinding + strings.Repeat("junk\n", 40),
		strings.Join(func() []string {
			var w []string
			for n := 13; n < 13+32; n++ {
				w = append(w, fmt.Sprintf(`tap10:%d: "junk" is not KEY=VALUE, ignored`, n))
			}
			return append(w, "tap10: 8 more warnings not shown")
		}(), "\n"), nil},
	// A key set twice: the last one wins, and the values it overrides
	// are not looked at.
	{"key twice", goodBinding + "MAC=aa:6b:39:22:33:45\n", "tap10:13: MAC: set again (also on line 3), the last one wins",
		func(b *Binding) { b.MAC = mustMAC("aa:6b:39:22:33:45") }},
	{"key twice, once empty", goodBinding + "IP=\n", "tap10:13: IP: set again (also on line 2), the last one wins",
		func(b *Binding) { b.IP = netip.Addr{} }},
	{"key twice, the first bad", with("IP", "x") + "IP=192.0.2.7\n", "tap10:13: IP: set again (also on line 2), the last one wins",
		func(b *Binding) { b.IP = netip.MustParseAddr("192.0.2.7") }},
	{"key three times", goodBinding + "MTU=9000\nMTU=1400\n",
		"tap10:13: MTU: set again (also on line 12), the last one wins\ntap10:14: MTU: set again (also on line 13), the last one wins",
		func(b *Binding) { b.MTU = 1400 }},
	// An unterminated quote in a key of any text: the value as written.
	{"unterminated double quote", with("HOSTNAME", `"vm`),
		"tap10:4: HOSTNAME: unterminated quote in \"\\\"vm\", taken as written\n" +
			"tap10:4: HOSTNAME: \"\\\"vm\" is not a DNS name: sent as option 12 as written, but no domain is derived from it",
		func(b *Binding) { b.Hostname = `"vm` }},
	{"unterminated single quote", with("HOSTNAME", `'vm`),
		"tap10:4: HOSTNAME: unterminated quote in \"'vm\", taken as written\n" +
			"tap10:4: HOSTNAME: \"'vm\" is not a DNS name: sent as option 12 as written, but no domain is derived from it",
		func(b *Binding) { b.Hostname = `'vm` }},
	{"a long value after an open quote", with("HOSTNAME", "'"+strings.Repeat("v", 200)),
		`tap10:4: HOSTNAME: unterminated quote in "'` + strings.Repeat("v", 63) + `"…, taken as written` + "\n" +
			`tap10:4: HOSTNAME: "'` + strings.Repeat("v", 63) + `"… is not a DNS name: sent as option 12 as written, but no domain is derived from it`,
		func(b *Binding) { b.Hostname = "'" + strings.Repeat("v", 200) }},
	{"unterminated quote in TAGS", with("TAGS", `"web db`), `tap10:5: TAGS: unterminated quote in "\"web db", taken as written`,
		func(b *Binding) { b.Tags = []string{`"web`, "db"} }},
	// HOSTNAME: any printable text is sent as option 12.
	{"HOSTNAME underscore", with("HOSTNAME", "web_01"), hostWarning(`"web_01"`), func(b *Binding) { b.Hostname = "web_01" }},
	{"HOSTNAME with space", with("HOSTNAME", "my vm"), hostWarning(`"my vm"`), func(b *Binding) { b.Hostname = "my vm" }},
	{"HOSTNAME leading hyphen", with("HOSTNAME", "-vm"), hostWarning(`"-vm"`), func(b *Binding) { b.Hostname = "-vm" }},
	{"HOSTNAME trailing hyphen", with("HOSTNAME", "vm-"), hostWarning(`"vm-"`), func(b *Binding) { b.Hostname = "vm-" }},
	{"HOSTNAME empty label", with("HOSTNAME", "vm..example"), hostWarning(`"vm..example"`), func(b *Binding) { b.Hostname = "vm..example" }},
	{"HOSTNAME label of 64", with("HOSTNAME", strings.Repeat("a", 64)), hostWarning(`"` + strings.Repeat("a", 64) + `"`),
		func(b *Binding) { b.Hostname = strings.Repeat("a", 64) }},
	{"HOSTNAME of 254", with("HOSTNAME", strings.Repeat("abcdefghi.", 25)+"abcd"), hostWarning(`"` + strings.Repeat("abcdefghi.", 6) + `abcd"…`),
		func(b *Binding) { b.Hostname = strings.Repeat("abcdefghi.", 25) + "abcd" }},
	{"HOSTNAME of 255", with("HOSTNAME", strings.Repeat("h", 255)), hostWarning(`"` + strings.Repeat("h", 64) + `"…`),
		func(b *Binding) { b.Hostname = strings.Repeat("h", 255) }},
	{"HOSTNAME slash", with("HOSTNAME", "a/b"), hostWarning(`"a/b"`), func(b *Binding) { b.Hostname = "a/b" }},
	{"HOSTNAME underscore in a domain", with("HOSTNAME", "web_01.example.com"), hostWarning(`"web_01.example.com"`),
		func(b *Binding) { b.Hostname = "web_01.example.com" }},
	// Flags: the spellings of no are no, any other value is yes.
	{"PRIVATE maybe", with("PRIVATE", "maybe"), flagWarning(11, "PRIVATE", "maybe"), func(b *Binding) { b.Private = true }},
	{"PRIVATE 2", with("PRIVATE", "2"), flagWarning(11, "PRIVATE", "2"), func(b *Binding) { b.Private = true }},
	{"MACSPOOF y", with("MACSPOOF", "y"), flagWarning(13, "MACSPOOF", "y"), func(b *Binding) { b.MACSpoof = true }},
	{"MACSPOOF enabled", with("MACSPOOF", "enabled"), flagWarning(13, "MACSPOOF", "enabled"), func(b *Binding) { b.MACSpoof = true }},
	// MTU 0: none sent.
	{"MTU 0", with("MTU", "0"), `tap10:12: MTU: "0" is not an MTU (68-65535), taken as unset as the original did`, func(b *Binding) { b.MTU = 0 }},
	// All at once, in line order.
	{"several", strings.NewReplacer("MTU=1450", "MTU=0", "HOSTNAME=testing-vm", "HOSTNAME=web_01", "PRIVATE=", "PRIVATE=sure").Replace(goodBinding) + "export FOO\nMAC=aa:6b:39:22:33:45\n",
		hostWarning(`"web_01"`) + "\n" + flagWarning(11, "PRIVATE", "sure") + "\n" +
			`tap10:12: MTU: "0" is not an MTU (68-65535), taken as unset as the original did` + "\n" +
			`tap10:13: "export FOO" is not KEY=VALUE, ignored` + "\n" +
			"tap10:14: MAC: set again (also on line 3), the last one wins",
		func(b *Binding) {
			b.Hostname, b.Private, b.MTU, b.MAC = "web_01", true, 0, mustMAC("aa:6b:39:22:33:45")
		}},
}

func hostWarning(quoted string) string {
	return "tap10:4: HOSTNAME: " + quoted + " is not a DNS name: sent as option 12 as written, but no domain is derived from it"
}

func flagWarning(line int, key, v string) string {
	return fmt.Sprintf("tap10:%d: %s: %q is not a boolean (yes/no, true/false, on/off, 1/0), taken as yes as the original did", line, key, v)
}

func TestWarnedBindings(t *testing.T) {
	if len(warned) < 30 {
		t.Fatalf("only %d warned cases", len(warned))
	}
	base := func() *Binding {
		b, err := Parse("tap10", strings.NewReader(goodBinding))
		if err != nil || b.Warnings != nil {
			t.Fatalf("the base binding: %v, warnings %v", err, b.Warnings)
		}
		return b
	}
	for _, tt := range warned {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("tap10", strings.NewReader(tt.text))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			var ws []string
			for _, w := range b.Warnings {
				ws = append(ws, w.String())
			}
			if got := strings.Join(ws, "\n"); got != tt.warnings {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, tt.warnings)
			}
			want := base()
			if tt.want != nil {
				tt.want(want)
			}
			if d := cmp.Diff(want, b, append(cmpNet, cmpopts.IgnoreFields(Binding{}, "Warnings"))...); d != "" {
				t.Errorf("served (-want +got):\n%s", d)
			}
		})
	}
}

func TestMalformedBindings(t *testing.T) {
	if len(malformed) < 100 {
		t.Fatalf("only %d malformed cases", len(malformed))
	}
	if _, err := Parse("tap10", strings.NewReader(goodBinding)); err != nil {
		t.Fatalf("the base binding is rejected: %v", err)
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("tap10", strings.NewReader(tt.text))
			if b != nil || err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var be *Error
			if !errors.As(err, &be) || be.File != "tap10" {
				t.Errorf("%v is not a *binding.Error naming the file", err)
			}
		})
	}
}

// Every malformed and every warned file in one folder beside a good one:
// the good one and each warned one are served exactly as parsed, each bad
// one is listed with its own error and serves nothing.
func TestMalformedBindingsDisturbNothing(t *testing.T) {
	dir := t.TempDir()
	links := []Link{{Index: 2, Name: "good0", MAC: []byte{2, 0, 0, 0, 0, 2}, Kind: "tuntap"}}
	good := strings.Replace(goodBinding, "INDEV=tap10", "INDEV=good0", 1)
	writeFile(t, dir, "good0", good)
	names := map[string]string{} // file -> case
	for i, tt := range malformed {
		name := fmt.Sprintf("bad%d", i)
		names[name] = tt.name
		// Each bad file names its own TAP, which exists: only the
		// content keeps it from being served.
		writeFile(t, dir, name, strings.Replace(tt.text, "INDEV=tap10", "INDEV="+name, 1))
		links = append(links, Link{Index: 10 + i, Name: name, MAC: []byte{2, 0, 0, 0, 1, byte(i)}, Kind: "tuntap"})
	}
	served := map[string]*Binding{"good0": nil}
	for i, tt := range warned {
		name := fmt.Sprintf("warn%d", i)
		served[name] = nil
		writeFile(t, dir, name, strings.Replace(tt.text, "INDEV=tap10", "INDEV="+name, 1))
		links = append(links, Link{Index: 1000 + i, Name: name, MAC: []byte{2, 0, 0, 0, 2, byte(i)}, Kind: "tuntap"})
	}
	s, _ := startStore(t, dir, newFakeLinks(links...))

	for name := range served {
		b, err := ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		served[name] = b
	}
	entries := s.Entries()
	if len(entries) != len(served) {
		t.Errorf("active entries = %d; want %d: good0 and every warned file", len(entries), len(served))
	}
	for _, e := range entries {
		if want, ok := served[e.Binding.TAP]; !ok || !reflect.DeepEqual(e.Binding, want) {
			t.Errorf("%s is active as %+v; want it as read", e.Binding.TAP, e.Binding)
		}
	}
	for _, st := range s.Status() {
		if _, ok := served[st.TAP]; ok {
			if !st.Active || st.Err != nil {
				t.Errorf("%s: active %v, err %v", st.TAP, st.Active, st.Err)
			}
			continue
		}
		c, ok := names[st.TAP]
		if !ok {
			t.Errorf("unexpected status for %s", st.TAP)
			continue
		}
		delete(names, st.TAP)
		if st.Active || st.Binding != nil || st.Err == nil {
			t.Errorf("%s (%s): active %v, binding %v, err %v; want rejected", st.TAP, c, st.Active, st.Binding != nil, st.Err)
		}
	}
	// An empty file is "not written yet" and may not be listed; every other
	// bad file must be.
	for name, c := range names {
		if !strings.HasPrefix(c, "empty") && !strings.HasPrefix(c, "blank") {
			t.Errorf("%s (%s) not listed", name, c)
		}
	}
}
