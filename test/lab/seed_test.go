package lab

import "testing"

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
