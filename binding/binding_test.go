package binding

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// TestParseSeedSample loads the seed README's sample binding file unchanged.
func TestParseSeedSample(t *testing.T) {
	f, err := os.Open("testdata/tap10")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Parse("tap10", f)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Binding{
		TAP:      "tap10",
		InDev:    "tap10",
		IP:       netip.MustParseAddr("192.0.2.100"),
		MAC:      mustMAC("aa:6b:39:22:33:44"),
		Hostname: "testing-vm",
		Gateway:  netip.MustParseAddr("192.0.2.1"),
		Subnet:   netip.MustParsePrefix("192.0.2.0/24"),
		Gateway6: netip.MustParseAddr("2001:db8:aaaa:bbbb::1"),
		Subnet6:  netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64"),
		EUI64:    netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

var cmpNet = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

const minimal = "MAC=aa:6b:39:22:33:44\nHOSTNAME=vm\n"

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Binding
	}{
		{"minimal, INDEV defaults to TAP", minimal,
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm"}},
		{"bridged, quotes, CRLF, spaces, comments, unknown key",
			"# written by hook\r\nINDEV=\"br0\"\r\n MAC = 'AA:6B:39:22:33:44'\r\nHOSTNAME=vm.example.com.\r\nX_OWNER=one\r\n",
			Binding{TAP: "tap1", InDev: "br0", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm.example.com.", UnknownKeys: []string{"X_OWNER"}}},
		{"unknown keys are kept plain when they are, quoted when not, and their values never looked at",
			minimal + "X_NOTE='unterminated\nJUNK\rIP=1.2.3.4\n" + strings.Repeat("K", 65) + "=1\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				UnknownKeys: []string{"X_NOTE", `"JUNK\rIP"`, `"` + strings.Repeat("K", 64) + `"…`}}},
		{"only the first 32 unknown keys are kept", minimal + strings.Repeat("X=1\n", 40),
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				UnknownKeys: strings.Fields(strings.Repeat("X ", 32))}},
		{"flags, MTU, tags", minimal + "PRIVATE=yes\nMACSPOOF=1\nMTU=1450\nTAGS=\"a b,c\"\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				Private: true, MACSpoof: true, MTU: 1450, Tags: []string{"a", "b", "c"}}},
		{"false flags", minimal + "PRIVATE=no\nMACSPOOF=0\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm"}},
		{"overrides", minimal + "NAMESERVERS=192.0.2.2, 192.0.2.3\nNAMESERVERS6=2001:db8::53\nDOMAIN=example.org\nDOMAIN_SEARCH=a.example, b.example\nDHCP_OPTIONS=\"42=192.0.2.5; 66=boot.example.com\"\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				Nameservers:  []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
				Nameservers6: []netip.Addr{netip.MustParseAddr("2001:db8::53")},
				Domain:       "example.org", DomainSearch: []string{"a.example", "b.example"},
				DHCPOptions: []DHCPOption{{42, []byte{192, 0, 2, 5}}, {66, []byte("boot.example.com")}}}},
		{"delegated prefixes, beside SUBNET6", minimal + "SUBNET6=2001:db8:aaaa:bbbb::/64\nDELEGATED_PREFIX6=\"2001:db8:cccc::/56, 2001:db8:dddd:1::/64 2001:db8:eeee::/48\"\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				Subnet6: netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64"),
				DelegatedPrefixes6: []netip.Prefix{netip.MustParsePrefix("2001:db8:cccc::/56"),
					netip.MustParsePrefix("2001:db8:dddd:1::/64"), netip.MustParsePrefix("2001:db8:eeee::/48")}}},
		{"delegated prefix without SUBNET6", minimal + "DELEGATED_PREFIX6=fd00:1::/64\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				DelegatedPrefixes6: []netip.Prefix{netip.MustParsePrefix("fd00:1::/64")}}},
		{"/31 may use both addresses", minimal + "IP=192.0.2.0\nGATEWAY=192.0.2.1\nSUBNET=192.0.2.0/31\n",
			Binding{TAP: "tap1", InDev: "tap1", MAC: mustMAC("aa:6b:39:22:33:44"), Hostname: "vm",
				IP: netip.MustParseAddr("192.0.2.0"), Gateway: netip.MustParseAddr("192.0.2.1"), Subnet: netip.MustParsePrefix("192.0.2.0/31")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("tap1", strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.want, got, cmpNet...); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		tap  string
		in   string
		want string
	}{
		{"empty", "tap1", " \n\n", "tap1: file is empty"},
		{"missing required", "tap1", "IP=\n", "tap1: MAC: required\ntap1: HOSTNAME: required"},
		{"bad ifname", "a/b", minimal, `a/b: "a/b" is not a valid interface name`},
		{"bad MAC", "tap1", "MAC=aa:bb\nHOSTNAME=vm\n", `tap1:1: MAC: "aa:bb" is not an Ethernet MAC address`},
		{"multicast MAC", "tap1", "MAC=01:00:5e:00:00:01\nHOSTNAME=vm\n", `tap1:1: MAC: "01:00:5e:00:00:01" is a multicast address`},
		{"bad hostname", "tap1", "MAC=aa:6b:39:22:33:44\nHOSTNAME=v\x01m\n", `tap1:2: HOSTNAME: "v\x01m" holds bytes that are not printable ASCII`},
		{"IPv6 as IP", "tap1", minimal + "IP=2001:db8::1\n", `tap1:3: IP: "2001:db8::1" is not IPv4`},
		{"IP without subnet", "tap1", minimal + "IP=192.0.2.9\n", `tap1:3: IP: 192.0.2.9 needs SUBNET`},
		{"IP outside subnet", "tap1", minimal + "IP=192.0.3.9\nSUBNET=192.0.2.0/24\n", `tap1:3: IP: 192.0.3.9 is outside SUBNET 192.0.2.0/24`},
		{"IP is broadcast", "tap1", minimal + "IP=192.0.2.255\nSUBNET=192.0.2.0/24\n", `tap1:3: IP: 192.0.2.255 is the broadcast address of 192.0.2.0/24`},
		{"IP is network", "tap1", minimal + "IP=192.0.2.0\nSUBNET=192.0.2.0/24\n", `tap1:3: IP: 192.0.2.0 is the network address of 192.0.2.0/24`},
		{"subnet host bits", "tap1", minimal + "SUBNET=192.0.2.1/24\n", `tap1:3: SUBNET: "192.0.2.1/24" has host bits set (the network is 192.0.2.0/24)`},
		{"gateway broadcast", "tap1", minimal + "GATEWAY=192.0.2.127\nSUBNET=192.0.2.0/25\n", `tap1:3: GATEWAY: 192.0.2.127 is the broadcast address of 192.0.2.0/25`},
		{"gateway outside", "tap1", minimal + "GATEWAY=10.0.0.1\nSUBNET=192.0.2.0/25\n", `tap1:3: GATEWAY: 10.0.0.1 is outside SUBNET 192.0.2.0/25`},
		{"gateway is IP", "tap1", minimal + "IP=192.0.2.1\nGATEWAY=192.0.2.1\nSUBNET=192.0.2.0/24\n", `tap1:4: GATEWAY: 192.0.2.1 is the VM's own IP`},
		{"gateway6 outside", "tap1", minimal + "GATEWAY6=2001:db8:1::1\nSUBNET6=2001:db8::/64\nEUI64=2001:db8::1\n", `tap1:3: GATEWAY6: 2001:db8:1::1 is outside SUBNET6 2001:db8::/64`},
		{"eui64 without subnet6", "tap1", minimal + "EUI64=2001:db8::1\n", `tap1:3: EUI64: 2001:db8::1 needs SUBNET6`},
		{"subnet6 v4", "tap1", minimal + "SUBNET6=192.0.2.0/24\n", `tap1:3: SUBNET6: "192.0.2.0/24" is not IPv6`},
		{"MTU low", "tap1", minimal + "MTU=67\n", `tap1:3: MTU: "67" is not an MTU (68-65535)`},
		{"MTU junk", "tap1", minimal + "MTU=1500x\n", `tap1:3: MTU: "1500x" is not an MTU (68-65535)`},
		{"duplicate, the last bad", "tap1", minimal + "MAC=zz\n", `tap1:3: MAC: "zz" is not an Ethernet MAC address`},
		{"unterminated quote", "tap1", "MAC='aa:6b:39:22:33:44\nHOSTNAME=vm\n", `tap1:1: MAC: unterminated quote in "'aa:6b:39:22:33:44"`},
		{"file named with escape sequences", "\x1b[2Jtap\n1", minimal, `"\x1b[2Jtap\n1": "\x1b[2Jtap\n1" is not a valid interface name`},
		{"ns family", "tap1", minimal + "NAMESERVERS=2001:db8::1\n", `tap1:3: NAMESERVERS: "2001:db8::1" is not IPv4`},
		{"ns6 family", "tap1", minimal + "NAMESERVERS6=192.0.2.1\n", `tap1:3: NAMESERVERS6: "192.0.2.1" is not IPv6`},
		{"domain search", "tap1", minimal + "DOMAIN_SEARCH=a..b\n", `tap1:3: DOMAIN_SEARCH: "a..b" is not a valid domain name`},
		{"dhcp options", "tap1", minimal + "DHCP_OPTIONS=3=192.0.2.1\n", `tap1:3: DHCP_OPTIONS: option 3: set by the daemon itself (the router comes from GATEWAY)`},
		{"several at once", "tap1", "MAC=zz\nHOSTNAME=\nIP=1.2.3.4\nMTU=9\n",
			"tap1:1: MAC: \"zz\" is not an Ethernet MAC address\ntap1:4: MTU: \"9\" is not an MTU (68-65535)\ntap1: HOSTNAME: required\ntap1:3: IP: 1.2.3.4 needs SUBNET"},
		{"too big", "tap1", minimal + strings.Repeat("#", maxFileSize), "tap1: larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.tap, strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", b)
			}
			if b != nil {
				t.Errorf("Parse returned a binding with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.0/24", "192.0.2.255"}, {"10.0.0.0/8", "10.255.255.255"},
		{"192.0.2.128/25", "192.0.2.255"}, {"192.0.2.4/30", "192.0.2.7"},
		{"192.0.2.1/32", "192.0.2.1"}, {"0.0.0.0/0", "255.255.255.255"},
	} {
		if got := Broadcast(netip.MustParsePrefix(tt.in)); got.String() != tt.want {
			t.Errorf("Broadcast(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestValidHostname(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"vm", true}, {"testing-vm", true}, {"a.example.com", true}, {"a.example.com.", true},
		{"9lives", true}, {strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
		{"", false}, {".", false}, {"a..b", false}, {"-a", false}, {"a-", false},
		{"a_b", false}, {"a b", false}, {"é", false},
		{strings.Repeat("a.", 126) + "a", true}, {strings.Repeat("a.", 126) + "ab", false},
	} {
		if got := ValidHostname(tt.in); got != tt.want {
			t.Errorf("ValidHostname(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/tap10")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(minimal + "DHCP_OPTIONS=\"121=10.0.0.0/8 192.0.2.1; 224=0x01\"\nMTU=1500\n"))
	f.Add([]byte("MAC=\"aa:bb\nHOSTNAME='x'\n=\n"))
	f.Add(append(seed, "DELEGATED_PREFIX6=2001:db8:cccc::/56,2001:db8:aaaa::/48 fe80::/9\n"...))
	f.Add([]byte(minimal + "\x1b[2J\x07\xff" + strings.Repeat("A", 300) + "\nIP=\"\x1b" + strings.Repeat("\xfe", 200) + "\n"))
	f.Add([]byte(minimal + "export FOO\nHOSTNAME='web_01\nMAC=aa:6b:39:22:33:45\nPRIVATE=sure\nMTU=0\nNEXT_SERVER=192.0.2.69\nBOOT_FILE=pxelinux.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse("tap0", bytes.NewReader(data))
		if (b == nil) == (err == nil) {
			t.Fatalf("Parse returned binding %v and error %v", b, err)
		}
		if b == nil {
			// Nothing the file holds reaches a log raw or at length:
			// each error is one bounded line of printable text.
			for _, line := range strings.Split(err.Error(), "\n") {
				if len(line) > 400 || !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool { return !unicode.IsPrint(r) }) {
					t.Fatalf("error line not printable and bounded: %q", line)
				}
			}
			return
		}
		for _, k := range b.UnknownKeys {
			if len(k) > 400 || strings.ContainsFunc(k, func(r rune) bool { return !unicode.IsPrint(r) }) {
				t.Fatalf("unknown key not printable and bounded: %q", k)
			}
		}
		if len(b.UnknownKeys) > maxUnknownKeys {
			t.Fatalf("%d unknown keys kept", len(b.UnknownKeys))
		}
		if len(b.Warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings kept", len(b.Warnings))
		}
		hostWarned := false
		for _, w := range b.Warnings {
			if l := w.String(); len(l) > 400 || strings.ContainsFunc(l, func(r rune) bool { return !unicode.IsPrint(r) }) {
				t.Fatalf("warning not printable and bounded: %q", l)
			}
			hostWarned = hostWarned || w.Key == "HOSTNAME"
		}
		// Whatever is accepted must satisfy the invariants the packet path
		// relies on: a HOSTNAME fits option 12 as printable ASCII, and one
		// that is not a DNS name (never a source of the domain) is warned of.
		if len(b.MAC) != 6 || b.Hostname == "" || len(b.Hostname) > 255 || !printableASCII(b.Hostname) || b.InDev == "" {
			t.Fatalf("accepted binding breaks invariants: %+v", b)
		}
		if !ValidHostname(b.Hostname) && !hostWarned && len(b.Warnings) <= maxWarnings {
			t.Fatalf("HOSTNAME %q accepted without a warning", b.Hostname)
		}
		if len(b.BootFile) > 127 || !printableASCII(b.BootFile) {
			t.Fatalf("accepted BOOT_FILE %q", b.BootFile)
		}
		if b.IP.IsValid() && !b.Subnet.Contains(b.IP) {
			t.Fatalf("accepted IP %s outside %s", b.IP, b.Subnet)
		}
		if b.MTU != 0 && b.MTU < 68 {
			t.Fatalf("accepted MTU %d", b.MTU)
		}
		if len(b.DelegatedPrefixes6) > MaxDelegatedPrefixes {
			t.Fatalf("accepted %d delegated prefixes", len(b.DelegatedPrefixes6))
		}
		for i, d := range b.DelegatedPrefixes6 {
			if !d.Addr().Is6() || d.Addr().Is4In6() || d.Bits() > MaxDelegatedBits || d.Masked() != d ||
				d.Addr().IsLinkLocalUnicast() || d.Addr().IsMulticast() || b.Subnet6.IsValid() && d.Overlaps(b.Subnet6) {
				t.Fatalf("accepted delegated prefix %s (SUBNET6 %s)", d, b.Subnet6)
			}
			for _, o := range b.DelegatedPrefixes6[:i] {
				if d.Overlaps(o) {
					t.Fatalf("accepted overlapping delegated prefixes %s and %s", o, d)
				}
			}
		}
	})
}
