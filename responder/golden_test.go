package responder

import (
	"bytes"
	"encoding/hex"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex from the current replies")

// replyCase is one request of each reply kind; golden files and
// benchmarks share them.
type replyCase struct {
	name string
	mode IPv6Mode
	pkt  func(tb testing.TB) []byte // nil: periodic RA
}

func replyCases() []replyCase {
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	sid := mkopt6(layers.DHCPv6OptServerID, serverDUIDOf(tapMAC))
	eui := testLease().EUI64
	prl := opt(layers.DHCPOptParamsRequest, 1, 3, 6, 12, 15, 26, 28, 119, 121)
	return []replyCase{
		{name: "dhcp-offer", pkt: func(tb testing.TB) []byte {
			return dhcp4Packet(tb, layers.DHCPMsgTypeDiscover, nil, opt(layers.DHCPOptClientID, clientID61...), prl)
		}},
		{name: "dhcp-ack", pkt: func(tb testing.TB) []byte {
			return dhcp4Packet(tb, layers.DHCPMsgTypeRequest, nil, opt(layers.DHCPOptRequestIP, ip4b("192.0.2.100")...),
				opt(layers.DHCPOptServerID, ip4b("192.0.2.1")...), prl)
		}},
		{name: "dhcp-nak", pkt: func(tb testing.TB) []byte {
			return dhcp4Packet(tb, layers.DHCPMsgTypeRequest, nil, opt(layers.DHCPOptRequestIP, ip4b("192.0.2.7")...))
		}},
		{name: "dhcp-inform-ack", pkt: func(tb testing.TB) []byte {
			return dhcp4Packet(tb, layers.DHCPMsgTypeInform, func(d *layers.DHCPv4) { d.ClientIP = ip4b("192.0.2.100") }, prl)
		}},
		{name: "ra-solicited", mode: ModeSLAACDHCPv6, pkt: func(tb testing.TB) []byte { return rsPacket(tb, vmLL, vmMAC) }},
		{name: "ra-periodic", mode: ModeSLAACDHCPv6},
		{name: "na", pkt: func(tb testing.TB) []byte {
			return nsPacket(tb, vmLL, solicitedNode(testLease().Gateway6), testLease().Gateway6, vmMAC)
		}},
		{name: "dhcpv6-reply-information-request", mode: ModeSLAACDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeInformationRequest, cid)
		}},
		{name: "dhcpv6-advertise", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeSolicit, cid, iaNA(1))
		}},
		{name: "dhcpv6-reply-request", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeRequest, cid, sid, iaNA(1, eui))
		}},
		{name: "dhcpv6-reply-renew", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeRenew, cid, sid, iaNA(1, eui))
		}},
		{name: "dhcpv6-reply-confirm", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeConfirm, cid, iaNA(1, eui))
		}},
		{name: "dhcpv6-reply-release", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeRelease, cid, sid, iaNA(1, eui))
		}},
		{name: "dhcpv6-advertise-pd", mode: ModeSLAACDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeSolicit, cid, iaPD(1))
		}},
		{name: "dhcpv6-reply-renew-na-pd", mode: ModeDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeRenew, cid, sid, iaNA(1, eui), iaPD(1, goldenDelegated[0], staleDelegated))
		}},
		{name: "dhcpv6-reply-release-pd", mode: ModeSLAACDHCPv6, pkt: func(tb testing.TB) []byte {
			return dhcp6Packet(tb, layers.DHCPv6MsgTypeRelease, cid, sid, iaPD(1, goldenDelegated...), iaPD(2, staleDelegated))
		}},
	}
}

// goldenDelegated are goldenLease's DELEGATED_PREFIX6; staleDelegated a
// prefix a VM holds that is not (any longer) the binding's.
var (
	goldenDelegated = []netip.Prefix{netip.MustParsePrefix("2001:db8:cccc::/56"), netip.MustParsePrefix("2001:db8:dddd:1::/64")}
	staleDelegated  = netip.MustParsePrefix("2001:db8:eeee::/48")
)

func goldenLease() *Lease {
	l := testLease()
	l.MTU = 1450
	l.DomainSearch = []string{"example.com", "example.org"}
	l.Delegated = goldenDelegated
	return l
}

func (c replyCase) reply(tb testing.TB, r *Responder, pkt []byte, l *Lease) []byte {
	if c.pkt == nil {
		return r.RouterAdvertisement(l).Frame
	}
	return r.Respond(pkt, vmMAC, l).Frame
}

func TestGolden(t *testing.T) {
	for _, c := range replyCases() {
		t.Run(c.name, func(t *testing.T) {
			s := testSettings()
			s.Mode = c.mode
			var pkt []byte
			if c.pkt != nil {
				pkt = c.pkt(t)
			}
			got := c.reply(t, New(s), pkt, goldenLease())
			if got == nil {
				t.Fatal("no reply")
			}
			decode(t, got)
			path := filepath.Join("testdata", c.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(hexLines(got)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			want, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("reply differs from %s:\ngot\n%swant\n%s", path, hexLines(got), hexLines(want))
			}
		})
	}
}

// hexLines prints 16 bytes a line, so golden diffs show where bytes moved.
func hexLines(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		n := min(16, len(b))
		sb.WriteString(hex.EncodeToString(b[:n]))
		sb.WriteByte('\n')
		b = b[n:]
	}
	return sb.String()
}
