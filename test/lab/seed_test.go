package lab

import (
	"net"
	"strings"
	"testing"
)

func TestSetKey(t *testing.T) {
	in := "[general]\nuser = nobody # who\n\n[ipv6]\nmode = auto\n"
	tests := []struct{ key, val, want string }{
		{"user", "root", "[general]\nuser = root\n\n[ipv6]\nmode = auto\n"},
		{"steering", "tc", "[general]\nsteering = tc\nuser = nobody # who\n\n[ipv6]\nmode = auto\n"},
		{"ipv6.mode", "dhcpv6", "[general]\nuser = nobody # who\n\n[ipv6]\nmode = dhcpv6\n"},
		{"dhcp.options", "42=192.0.2.5", "[general]\nuser = nobody # who\n\n[ipv6]\nmode = auto\n\n[dhcp]\noptions = 42=192.0.2.5"},
	}
	for _, tt := range tests {
		if got := setKey(in, tt.key, tt.val); got != tt.want {
			t.Errorf("setKey(%s=%s):\n%q\nwant\n%q", tt.key, tt.val, got, tt.want)
		}
	}
}

func TestEUI64(t *testing.T) {
	mac, _ := net.ParseMAC(SeedMAC)
	if got := EUI64(SeedPrefix6, mac).String(); got != seedEUI64 {
		t.Errorf("EUI64 = %s, want the seed binding's %s", got, seedEUI64)
	}
	if got := LinkLocal(mac).String(); got != "fe80::a86b:39ff:fe22:3344" {
		t.Errorf("LinkLocal = %s", got)
	}
	b := SeedBindingFor("tap11", "192.0.2.111", "aa:6b:39:22:33:11", "vm11")
	for _, line := range []string{"INDEV=tap11", "IP=192.0.2.111", "MAC=aa:6b:39:22:33:11", "HOSTNAME=vm11",
		"EUI64=2001:db8:aaaa:bbbb:a86b:39ff:fe22:3311"} {
		if !strings.Contains(b, line+"\n") {
			t.Errorf("SeedBindingFor lacks %s:\n%s", line, b)
		}
	}
}
