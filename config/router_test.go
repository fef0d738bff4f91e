package config

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

func TestRouterKeys(t *testing.T) {
	for _, tc := range []struct {
		name, key, val string
		router         netip.Addr
		duid           []byte
	}{
		{name: "router_address fe80::1", key: "router_address", val: "fe80::1", router: netip.MustParseAddr("fe80::1")},
		{name: "router_address beyond fe80::/64", key: "router_address", val: "febf::1", router: netip.MustParseAddr("febf::1")},
		{name: "DUID-LL with colons", key: "server_duid", val: "00:03:00:01:ee:ee:ee:ee:ee:ee",
			duid: []byte{0x00, 0x03, 0x00, 0x01, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee}},
		{name: "DUID-LL without, upper case", key: "server_duid", val: "00030001EEEEEEEEEEEE",
			duid: []byte{0x00, 0x03, 0x00, 0x01, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee}},
		{name: "DUID-LLT", key: "server_duid", val: "00:01:00:01:2a:2b:2c:2d:02:00:00:00:00:01",
			duid: []byte{0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 2, 0, 0, 0, 0, 1}},
		{name: "DUID-EN", key: "server_duid", val: "00:02:00:00:7f:ff:01",
			duid: []byte{0, 2, 0, 0, 0x7f, 0xff, 1}},
		{name: "DUID-LL of another hardware type (EUI-64, 8 bytes)", key: "server_duid", val: "00:03:00:1b:01:02:03:04:05:06:07:08",
			duid: []byte{0, 3, 0, 0x1b, 1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "DUID-UUID", key: "server_duid", val: "0004" + strings.Repeat("5a", 16),
			duid: append([]byte{0, 4}, bytes.Repeat([]byte{0x5a}, 16)...)},
		{name: "DUID of 130 bytes", key: "server_duid", val: "0002000000ff" + strings.Repeat("ab", 124),
			duid: append([]byte{0, 2, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xab}, 124)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("nfdhcpd.conf", strings.NewReader(set("ipv6."+tc.key, tc.val)))
			if err != nil {
				t.Fatal(err)
			}
			if c.IPv6.RouterAddress != tc.router || !bytes.Equal(c.IPv6.ServerDUID, tc.duid) {
				t.Errorf("router %v DUID %x, want %v %x", c.IPv6.RouterAddress, c.IPv6.ServerDUID, tc.router, tc.duid)
			}
		})
	}
	c, err := Parse("nfdhcpd.conf", strings.NewReader(goodConf))
	if err != nil {
		t.Fatal(err)
	}
	if c.IPv6.RouterAddress.IsValid() || c.IPv6.ServerDUID != nil {
		t.Errorf("defaults: router %v DUID %x, want neither (each TAP's own)", c.IPv6.RouterAddress, c.IPv6.ServerDUID)
	}
}

// Each key's errors wrap its named error, for callers that sort them.
func TestRouterKeyErrors(t *testing.T) {
	for key, want := range map[string]error{"router_address": ErrRouterAddress, "server_duid": ErrServerDUID} {
		_, err := Parse("nfdhcpd.conf", strings.NewReader(set("ipv6."+key, "2001:db8::1")))
		if !errors.Is(err, want) {
			t.Errorf("%s: %v does not wrap %v", key, err, want)
		}
	}
}

// The keys reach the replies: an RA comes from router_address and a
// DHCPv6 reply names server_duid, on any TAP, byte for byte.
func TestRouterKeysReachReplies(t *testing.T) {
	text := set("ipv6.router_address", "fe80::1")
	text = strings.Replace(text, "[ipv6]\n", "[ipv6]\nserver_duid = 00:03:00:01:ee:ee:ee:ee:ee:ee\n", 1)
	c, err := Parse("nfdhcpd.conf", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	r := responder.New(*c.Responder())
	for _, tap := range []net.HardwareAddr{{0x02, 0, 0, 0, 0, 0x10}, {0x02, 0, 0, 0, 0, 0x20}} {
		l := &responder.Lease{TAPMAC: tap, MAC: net.HardwareAddr{0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44},
			Subnet6: netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")}
		ra := r.RouterAdvertisement(l).Frame
		if got, want := ra[22:38], []byte{0xfe, 0x80, 15: 1}; !bytes.Equal(got, want) {
			t.Errorf("TAP %v: RA from %x, want %x", tap, got, want)
		}
		// An Information-request, xid 010203, no options, from the VM's
		// link-local address to ff02::1:2.
		ir := []byte{0x60, 0, 0, 0, 0, 12, 17, 1}
		ir = append(ir, netip.MustParseAddr("fe80::a86b:39ff:fe22:3344").AsSlice()...)
		ir = append(ir, netip.MustParseAddr("ff02::1:2").AsSlice()...)
		ir = append(ir, 0x02, 0x22, 0x02, 0x23, 0, 12, 0, 0) // UDP 546 -> 547, no checksum
		ir = append(ir, 11, 1, 2, 3)
		res := r.Respond(ir, l.MAC, l)
		if res.Outcome != responder.Answered {
			t.Fatalf("TAP %v: Information-request: %v (%s)", tap, res.Outcome, res.Reason)
		}
		want := []byte{7, 1, 2, 3, 0, 2, 0, 10, 0x00, 0x03, 0x00, 0x01, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee}
		if got := res.Frame[14+40+8:]; !bytes.HasPrefix(got, want) {
			t.Errorf("TAP %v: DHCPv6 reply starts %x, want %x", tap, got[:len(want)], want)
		}
	}
}
