package responder

import (
	"net/netip"
	"strings"
	"testing"
)

// Unfit names each reply that cannot carry all of a binding's lists, at
// its largest, and by how much.
func TestUnfit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease func(*Lease)
		want  []string
	}{
		{"the seed binding fits", func(*Lease) {}, nil},
		{"100 IPv6 servers: the RA and the DHCPv6 reply", func(l *Lease) { l.Nameservers6 = addrs6(100) }, []string{
			"an RA of 1500 bytes has no room for 13 of 100 DNS servers, 1 of 1 search domains",
			"a DHCPv6 reply of 1500 bytes has no room for 12 of 100 DNS servers, 1 of 1 search domains",
		}},
		{"the MTU is the bound", func(l *Lease) { l.MTU = 1280; l.Nameservers6 = addrs6(80) }, []string{
			"an RA of 1280 bytes has no room for 7 of 80 DNS servers, 1 of 1 search domains",
			"a DHCPv6 reply of 1280 bytes has no room for 6 of 80 DNS servers, 1 of 1 search domains",
		}},
		{"IPv4 servers and extra options", func(l *Lease) {
			l.Nameservers, _ = addrs4(400)
			l.Options = []Option{{224, make([]byte, 255)}, {225, make([]byte, 255)}, {226, make([]byte, 255)},
				{227, make([]byte, 255)}, {228, make([]byte, 255)}, {229, make([]byte, 255)}}
		}, []string{
			// 1,228 bytes of options field: 70 for the others, 4 × 257
			// for 224-227, and 130 left, where 32 addresses fit.
			"a DHCPv4 reply of 1500 bytes has no room for 368 of 400 DNS servers, 2 options",
		}},
		{"no SUBNET6 and no IP: only DHCPv6", func(l *Lease) {
			l.Subnet6, l.IP = netip.Prefix{}, netip.Addr{}
			l.DomainSearch = []string{longName('a', 253), longName('b', 253), longName('c', 253),
				longName('d', 253), longName('e', 253), longName('f', 253)}
		}, []string{
			"a DHCPv6 reply of 1500 bytes has no room for 1 of 6 search domains",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			l.TAPMAC = nil // the checker has no TAP
			tc.lease(l)
			got := New(testSettings()).Unfit(l)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Unfit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if l.TAPMAC != nil {
				t.Errorf("Unfit changed the caller's lease")
			}
		})
	}
}
