package responder

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestDHCPv6(t *testing.T) {
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	sid := mkopt6(layers.DHCPv6OptServerID, serverDUIDOf(tapMAC))
	otherSID := mkopt6(layers.DHCPv6OptServerID, serverDUIDOf(otherMAC))
	rapid := mkopt6(layers.DHCPv6OptRapidCommit, nil)
	oro := mkopt6(layers.DHCPv6OptOro, []byte{0, 23, 0, 24})
	eui := netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344")
	stale := netip.MustParseAddr("2001:db8:aaaa:bbbb::dead")
	offLink := netip.MustParseAddr("2001:db8:ffff::1")

	dns := append(netip.MustParseAddr("2001:db8:100::1").AsSlice(), netip.MustParseAddr("2001:db8:200::2").AsSlice()...)
	doms := []byte("\x07example\x03com\x00")
	// IA_NA for IAID 1: T1 3600, T2 529200, the EUI64 address for the
	// lease lifetime, then extra addresses with zero lifetimes.
	ia := func(extra ...netip.Addr) []byte {
		b := append(u32(1), append(u32(3600), u32(529200)...)...)
		b = append(b, 0, 5, 0, 24)
		b = append(b, eui.AsSlice()...)
		b = append(b, append(u32(604800), u32(604800)...)...)
		for _, a := range extra {
			b = append(b, 0, 5, 0, 24)
			b = append(b, a.AsSlice()...)
			b = append(b, make([]byte, 8)...)
		}
		return b
	}
	status := func(code uint16, msg string) []byte { return append([]byte{byte(code >> 8), byte(code)}, msg...) }

	for _, tc := range []struct {
		name     string
		mode     IPv6Mode
		lease    func(*Lease)
		duid     []byte
		pkt      func(t *testing.T) []byte
		outcome  Outcome
		kind     Kind
		msgType  layers.DHCPv6MsgType
		order    []uint16
		opts     map[uint16][]byte
		reasonIn string
	}{{
		name: "information-request: server id, client id, DNS, domains",
		mode: ModeSLAACDHCPv6, kind: KindDHCPv6InformationRequest,
		pkt: func(t *testing.T) []byte {
			return dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest, cid, oro, mkopt6(layers.DHCPv6OptElapsedTime, []byte{0, 0}))
		},
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 23, 24},
		opts: map[uint16][]byte{2: serverDUIDOf(tapMAC), 1: clientDUID, 23: dns, 24: doms},
	}, {
		name: "information-request without client id, configured DUID",
		duid: []byte{0, 2, 0, 0, 0x7f, 0xff, 1, 2}, kind: KindDHCPv6InformationRequest,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest) },
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 23, 24},
		opts: map[uint16][]byte{2: {0, 2, 0, 0, 0x7f, 0xff, 1, 2}},
	}, {
		name: "information-request for another server is ignored", kind: KindDHCPv6InformationRequest,
		pkt: func(t *testing.T) []byte {
			return dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest, cid, otherSID)
		},
		outcome: Ignored, reasonIn: "another server",
	}, {
		name: "stateless mode: solicit unsupported", mode: ModeSLAACDHCPv6, kind: KindDHCPv6Solicit,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, cid, iaNA(1)) },
		outcome: Unsupported, reasonIn: "stateful",
	}, {
		name: "stateful solicit gets advertise with IA_NA", mode: ModeDHCPv6, kind: KindDHCPv6Solicit,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, cid, iaNA(1), oro) },
		msgType: layers.DHCPv6MsgTypeAdverstise, order: []uint16{2, 1, 3, 23, 24},
		opts: map[uint16][]byte{3: ia()},
	}, {
		name: "stateful solicit with rapid commit gets reply", mode: ModeDHCPv6, kind: KindDHCPv6Solicit,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, cid, rapid, iaNA(1)) },
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 14, 3, 23, 24},
		opts: map[uint16][]byte{14: nil, 3: ia()},
	}, {
		name: "solicit without IA_NA: NoAddrsAvail", mode: ModeDHCPv6, kind: KindDHCPv6Solicit,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, cid) },
		msgType: layers.DHCPv6MsgTypeAdverstise, order: []uint16{2, 1, 13, 23, 24},
		opts: map[uint16][]byte{13: status(2, "no IA_NA requested")},
	}, {
		name: "second IA_NA gets NoAddrsAvail", mode: ModeDHCPv6, kind: KindDHCPv6Request,
		pkt: func(t *testing.T) []byte {
			return dhcp6Packet(t, layers.DHCPv6MsgTypeRequest, cid, sid, iaNA(1), iaNA(2))
		},
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 3, 3, 23, 24},
		opts: map[uint16][]byte{3: append(append(u32(2), make([]byte, 8)...), append([]byte{0, 13, 0, 20}, status(2, "one address per VM")...)...)},
	}, {
		name: "request gets reply with IA_NA", mode: ModeDHCPv6, kind: KindDHCPv6Request,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRequest, cid, sid, iaNA(1, eui)) },
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 3, 23, 24}, opts: map[uint16][]byte{3: ia()},
	}, {
		name: "request for another server is ignored", mode: ModeDHCPv6, kind: KindDHCPv6Request,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRequest, cid, otherSID, iaNA(1)) },
		outcome: Ignored, reasonIn: "another server",
	}, {
		name: "request without server id is malformed", mode: ModeDHCPv6, kind: KindDHCPv6Request,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRequest, cid, iaNA(1)) },
		outcome: Malformed,
	}, {
		name: "renew drops a stale address with zero lifetimes", mode: ModeDHCPv6, kind: KindDHCPv6Renew,
		pkt: func(t *testing.T) []byte {
			return dhcp6Packet(t, layers.DHCPv6MsgTypeRenew, cid, sid, iaNA(1, stale, eui))
		},
		msgType: layers.DHCPv6MsgTypeReply, opts: map[uint16][]byte{3: ia(stale)},
	}, {
		name: "rebind gets reply", mode: ModeDHCPv6, kind: KindDHCPv6Rebind,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRebind, cid, iaNA(1, eui)) },
		msgType: layers.DHCPv6MsgTypeReply, opts: map[uint16][]byte{3: ia()},
	}, {
		name: "rebind with a server id is malformed", mode: ModeDHCPv6, kind: KindDHCPv6Rebind,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRebind, cid, sid, iaNA(1, eui)) },
		outcome: Malformed,
	}, {
		name: "confirm on-link: Success", mode: ModeDHCPv6, kind: KindDHCPv6Confirm,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeConfirm, cid, iaNA(1, eui)) },
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 13, 23, 24},
		opts: map[uint16][]byte{13: status(0, "addresses on link")},
	}, {
		name: "confirm off-link: NotOnLink", mode: ModeDHCPv6, kind: KindDHCPv6Confirm,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeConfirm, cid, iaNA(1, offLink)) },
		msgType: layers.DHCPv6MsgTypeReply, opts: map[uint16][]byte{13: status(4, "address not on link")},
	}, {
		name: "confirm without addresses: no reply", mode: ModeDHCPv6, kind: KindDHCPv6Confirm,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeConfirm, cid, iaNA(1)) },
		outcome: Ignored,
	}, {
		name: "release: Success", mode: ModeDHCPv6, kind: KindDHCPv6Release,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRelease, cid, sid, iaNA(1, eui)) },
		msgType: layers.DHCPv6MsgTypeReply, order: []uint16{2, 1, 13, 23, 24}, opts: map[uint16][]byte{13: status(0, "ok")},
	}, {
		name: "decline: Success", mode: ModeDHCPv6, kind: KindDHCPv6Decline,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeDecline, cid, sid, iaNA(1, eui)) },
		msgType: layers.DHCPv6MsgTypeReply, opts: map[uint16][]byte{13: status(0, "ok")},
	}, {
		name: "solicit without client id is malformed", mode: ModeDHCPv6, kind: KindDHCPv6Solicit,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, iaNA(1)) },
		outcome: Malformed,
	}, {
		name: "stateful without EUI64 is unsupported", mode: ModeDHCPv6, kind: KindDHCPv6Solicit,
		lease:   func(l *Lease) { l.EUI64 = netip.Addr{} },
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, cid, iaNA(1)) },
		outcome: Unsupported,
	}, {
		name: "advertise from a client is unsupported", kind: KindDHCPv6Other,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeAdverstise, cid) },
		outcome: Unsupported,
	}, {
		name: "relay-forward is unsupported", kind: KindDHCPv6Other,
		pkt:     func(t *testing.T) []byte { return dhcp6Packet(t, layers.DHCPv6MsgTypeRelayForward) },
		outcome: Unsupported,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.Mode, s.ServerDUID = tc.mode, tc.duid
			l := testLease()
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(s).Respond(tc.pkt(t), vmMAC, l)
			if res.Outcome != tc.outcome || res.Kind != tc.kind {
				t.Fatalf("outcome %v kind %v (%q), want %v %v", res.Outcome, res.Kind, res.Reason, tc.outcome, tc.kind)
			}
			if !strings.Contains(res.Reason, tc.reasonIn) {
				t.Errorf("reason %q, want %q in it", res.Reason, tc.reasonIn)
			}
			if tc.outcome != Answered {
				if res.Frame != nil || res.Reason == "" {
					t.Errorf("frame %x reason %q", res.Frame, res.Reason)
				}
				return
			}
			if res.XID != 0xabcdef || !bytes.Equal(res.ClientMAC, vmMAC) {
				t.Errorf("xid %#x client MAC %v", res.XID, res.ClientMAC)
			}
			d := decode(t, res.Frame)
			if !bytes.Equal(d.eth.DstMAC, vmMAC) || !bytes.Equal(d.eth.SrcMAC, tapMAC) {
				t.Errorf("Ethernet %v -> %v", d.eth.SrcMAC, d.eth.DstMAC)
			}
			if d.ip6.SrcIP.String() != routerLL.String() || d.ip6.DstIP.String() != vmLL.String() {
				t.Errorf("IPv6 %v -> %v", d.ip6.SrcIP, d.ip6.DstIP)
			}
			if d.udp.SrcPort != 547 || d.udp.DstPort != 546 {
				t.Errorf("UDP %d -> %d", d.udp.SrcPort, d.udp.DstPort)
			}
			if d.d6.MsgType != tc.msgType || !bytes.Equal(d.d6.TransactionID, []byte{0xab, 0xcd, 0xef}) {
				t.Errorf("DHCPv6 type %v xid %x, want %v", d.d6.MsgType, d.d6.TransactionID, tc.msgType)
			}
			order, got := opts6(d.d6)
			if tc.order != nil && !slices.Equal(order, tc.order) {
				t.Errorf("option order %v, want %v", order, tc.order)
			}
			for c, v := range tc.opts {
				if _, ok := got[c]; !ok {
					t.Errorf("option %d missing", c)
				}
				eqBytes(t, layers.DHCPv6Opt(c).String(), got[c], v)
			}
		})
	}
}

// A DHCPv6 reply fits the link MTU (at least 1280) and the buffer: the DNS
// servers, then the search domains, take the room left, in order, each
// whole, and what does not fit is counted.
func TestDHCPv6Fits(t *testing.T) {
	s6 := testSettings().Nameservers6
	// The reply's start: Reply, xid, server id, client id.
	head := append([]byte{7, 0xab, 0xcd, 0xef, 0, 2, 0, 10}, serverDUIDOf(tapMAC)...)
	head = append(append(head, 0, 1, 0, 10), clientDUID...)
	dnsOpt := func(as []netip.Addr) []byte {
		b := []byte{0, 23, byte(16 * len(as) >> 8), byte(16 * len(as))}
		for _, a := range as {
			b = append(b, a.AsSlice()...)
		}
		return b
	}
	domOpt := func(names ...string) []byte {
		w := wantDNSSL(0, names...)[8:]
		w = bytes.TrimRight(w, "\x00") // DNSSL's padding; the last name's root label goes too
		w = append(w, 0)
		return append([]byte{0, 24, byte(len(w) >> 8), byte(len(w))}, w...)
	}
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, longName(byte('a'+i), 253))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		lease func(*Lease)
		opts  []byte // after the client id, exactly
		left  LeftOut
	}{
		{"100 servers without MTU: the first 88 fill the frame",
			func(l *Lease) { l.Nameservers6 = addrs6(100) },
			dnsOpt(addrs6(88)), LeftOut{Nameservers: 12, Domains: 1}},
		{"MTU 1280: the first 74 fill the link's packet",
			func(l *Lease) { l.MTU = 1280; l.Nameservers6 = addrs6(100) },
			dnsOpt(addrs6(74)), LeftOut{Nameservers: 26, Domains: 1}},
		{"MTU below 1280: a 1280-byte link all the same",
			func(l *Lease) { l.MTU = 600; l.Nameservers6 = addrs6(100) },
			dnsOpt(addrs6(74)), LeftOut{Nameservers: 26, Domains: 1}},
		{"a name that does not fit is skipped, later ones that do are kept",
			func(l *Lease) { l.MTU = 1280; l.DomainSearch = append(names(5), "example.org") },
			append(dnsOpt(s6), domOpt(append(names(4), "example.org")...)...), LeftOut{Domains: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			tc.lease(l)
			res := New(testSettings()).Respond(dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest,
				mkopt6(layers.DHCPv6OptClientID, clientDUID)), vmMAC, l)
			if res.Outcome != Answered || res.LeftOut != tc.left {
				t.Fatalf("%v (%s), left out %+v, want %+v", res.Outcome, res.Reason, res.LeftOut, tc.left)
			}
			decode(t, res.Frame)
			if limit := linkBound(l.MTU, 1280); len(res.Frame)-ethLen > limit {
				t.Errorf("IPv6 packet of %d bytes over the link's %d", len(res.Frame)-ethLen, limit)
			}
			msg := res.Frame[ethLen+ip6Len+udpLen:]
			eqBytes(t, "reply head", msg[:len(head)], head)
			eqBytes(t, "DNS options", msg[len(head):], tc.opts)
		})
	}
}
