package binding

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDHCPOptions(t *testing.T) {
	tests := []struct {
		in   string
		want []DHCPOption
	}{
		{"", nil},
		{" ; ", nil},
		{"42=192.0.2.5; 66=boot.example.com; 224=0x0102", []DHCPOption{
			{42, []byte{192, 0, 2, 5}}, {66, []byte("boot.example.com")}, {224, []byte{1, 2}}}},
		{"4=192.0.2.1, 192.0.2.2", []DHCPOption{{4, []byte{192, 0, 2, 1, 192, 0, 2, 2}}}},
		{`67="pxelinux.0;x"`, []DHCPOption{{67, []byte("pxelinux.0;x")}}},
		{"19=yes;20=off", []DHCPOption{{19, []byte{1}}, {20, []byte{0}}}},
		{"23=64", []DHCPOption{{23, []byte{64}}}},
		{"22=576", []DHCPOption{{22, []byte{0x02, 0x40}}}},
		{"24=600", []DHCPOption{{24, []byte{0, 0, 0x02, 0x58}}}},
		{"108=1800", []DHCPOption{{108, []byte{0, 0, 0x07, 0x08}}}},
		{"2=-3600", []DHCPOption{{2, []byte{0xff, 0xff, 0xf1, 0xf0}}}},
		{"25=68,296", []DHCPOption{{25, []byte{0, 68, 1, 0x28}}}},
		{"33=10.0.0.0 192.0.2.1", []DHCPOption{{33, []byte{10, 0, 0, 0, 192, 0, 2, 1}}}},
		{"121=10.0.0.0/8 192.0.2.1, 0.0.0.0/0 192.0.2.1, 169.254.169.254/32 192.0.2.1", []DHCPOption{{121, []byte{
			8, 10, 192, 0, 2, 1,
			0, 192, 0, 2, 1,
			32, 169, 254, 169, 254, 192, 0, 2, 1}}}},
		{"43=0X0a0B", []DHCPOption{{43, []byte{0x0a, 0x0b}}}},
	}
	for _, tt := range tests {
		got, err := ParseDHCPOptions(tt.in)
		if err != nil {
			t.Errorf("ParseDHCPOptions(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseDHCPOptions(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseDHCPOptionsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"42", `"42" is not CODE=VALUE`},
		{"x=1", `option "x": code is not a number 1-254`},
		{"256=1", `option "256": code is not a number 1-254`},
		{"0=0x00", `option 0: set by the daemon itself (pad is not an option)`},
		{"255=0x00", `option 255: set by the daemon itself (end is not an option)`},
		{"53=0x01", `option 53: set by the daemon itself (the message type is decided by the daemon)`},
		{"6=0x08080808", `option 6: set by the daemon itself (DNS servers come from nameservers / NAMESERVERS)`},
		{"54=192.0.2.1", `option 54: set by the daemon itself (the server identifier comes from server_ip / server_on_link)`},
		{"42=1.2.3.4; 42=1.2.3.5", `option 42: given twice`},
		{"42=2001:db8::1", `option 42: "2001:db8::1" is not IPv4`},
		{"16=1.2.3.4,1.2.3.5", `option 16: "1.2.3.4,1.2.3.5": wants exactly one IPv4 address`},
		{"7=,", `option 7: ",": wants IPv4 addresses`},
		{"25=,", `option 25: ",": wants numbers`},
		{"121=,", `option 121: "" is not DESTINATION/LEN ROUTER`},
		{"21=1.2.3.4", `option 21: "1.2.3.4": wants pairs of IPv4 addresses`},
		{"224=abc", `option 224: "abc": no known type for this code, give the value as 0x... hex`},
		{"224=0x0", `option 224: "0x0" is not hex bytes (0x followed by pairs of hex digits)`},
		{"224=0x", `option 224: "0x" is not hex bytes (0x followed by pairs of hex digits)`},
		{"66=", `option 66: empty value`},
		{"66=\"\"", `option 66: empty value`},
		{"66=a\tb", `option 66: "a\tb": not printable ASCII`},
		{"23=256", `option 23: "256" is not a number 0-255`},
		{"22=-1", `option 22: "-1" is not a number 0-65535`},
		{"19=maybe", `option 19: "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)`},
		{"121=10.0.0.0/8", `option 121: "10.0.0.0/8" is not DESTINATION/LEN ROUTER`},
		{"121=10.0.0.1/8 192.0.2.1", `option 121: "10.0.0.1/8" has host bits set (the network is 10.0.0.0/8)`},
		{"67=0x" + strings.Repeat("ab", 256), `option 67: 256 bytes is longer than 255`},
	}
	for _, tt := range tests {
		got, err := ParseDHCPOptions(tt.in)
		if err == nil {
			t.Errorf("ParseDHCPOptions(%q) = %v, want error", tt.in, got)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseDHCPOptions(%q) error:\n got %s\nwant %s", tt.in, err, tt.want)
		}
	}
}

func FuzzParseDHCPOptions(f *testing.F) {
	for _, s := range []string{
		"42=192.0.2.5; 66=boot.example.com; 224=0x0102",
		`67="a;b"; 121=10.0.0.0/8 192.0.2.1, 0.0.0.0/0 192.0.2.1`,
		"25=68,296;2=-1;19=yes;24=1",
		"x", ";;=", "0x=0x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := ParseDHCPOptions(s)
		if err != nil {
			return
		}
		seen := map[uint8]bool{}
		for _, o := range opts {
			if len(o.Data) == 0 || len(o.Data) > 255 {
				t.Fatalf("option %d has %d bytes", o.Code, len(o.Data))
			}
			if optComputed[o.Code] != "" || seen[o.Code] {
				t.Fatalf("option %d accepted though computed or repeated", o.Code)
			}
			seen[o.Code] = true
		}
	})
}
