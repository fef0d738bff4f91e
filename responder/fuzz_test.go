package responder

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket/layers"
)

// The fuzz targets feed the upper-layer payload and let the harness wrap
// it in a consistent IP header, so the fuzzer spends its effort inside the
// protocol parsers; a flag byte varies the binding and mode. Any reply must
// pass checkFrame: gopacket decodes it and every checksum verifies.

func fuzzLease(flags byte) *Lease {
	l := goldenLease()
	l.MACSpoof = flags&1 != 0
	l.Private = flags&2 != 0
	if flags&4 != 0 {
		l.IP = netip.Addr{}
	}
	if flags&8 != 0 {
		l.Options = []Option{{42, ip4b("192.0.2.5")}, {224, make([]byte, 300)}}
	}
	l.Bridged = flags&16 != 0
	return l
}

func fuzzCheck(t *testing.T, r *Responder, pkt []byte, src net.HardwareAddr, l *Lease) {
	res := r.Respond(pkt, src, l)
	if res.Frame == nil {
		if res.Outcome == Answered || res.Outcome == NAK {
			t.Fatalf("%v without a frame", res.Outcome)
		}
		return
	}
	if res.Outcome != Answered && res.Outcome != NAK {
		t.Fatalf("frame with outcome %v", res.Outcome)
	}
	if bad := checkFrame(res.Frame); bad != "" {
		t.Fatalf("reply: %s\nrequest %x\nreply %x", bad, pkt, res.Frame)
	}
	if Classify(pkt) != res.Kind {
		t.Fatalf("Classify %v, Respond %v", Classify(pkt), res.Kind)
	}
	checkDelegation(t, res, l)
}

// checkDelegation: a reply reports only the binding's own prefixes, and
// only for the messages that take or give them back.
func checkDelegation(t *testing.T, res Result, l *Lease) {
	d := res.Delegation
	for _, p := range d.Prefixes {
		if !slices.Contains(l.Delegated, p) {
			t.Fatalf("delegation of %s, not among the binding's %v", p, l.Delegated)
		}
	}
	switch {
	case d.Op == NoDelegation:
		if d.Prefixes != nil || d.NextHop.IsValid() {
			t.Fatalf("no delegation, yet %v via %v", d.Prefixes, d.NextHop)
		}
	case len(d.Prefixes) == 0 || !d.NextHop.IsValid():
		t.Fatalf("%v of %v via %v", d.Op, d.Prefixes, d.NextHop)
	case d.Op == Released && res.Kind != KindDHCPv6Release,
		d.Op == Delegated && res.Kind != KindDHCPv6Solicit && res.Kind != KindDHCPv6Request && res.Kind != KindDHCPv6Renew && res.Kind != KindDHCPv6Rebind:
		t.Fatalf("%v in a reply to %v", d.Op, res.Kind)
	case d.Op == Delegated && res.Frame[ethLen+ip6Len+udpLen] != d6Reply:
		t.Fatalf("delegated by a message of type %d, not a Reply", res.Frame[ethLen+ip6Len+udpLen])
	}
}

func wrap4(payload []byte) []byte {
	pkt := make([]byte, 28+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	pkt[8], pkt[9] = 64, protoUDP
	copy(pkt[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(pkt[20:22], 68)
	binary.BigEndian.PutUint16(pkt[22:24], 67)
	binary.BigEndian.PutUint16(pkt[24:26], uint16(8+len(payload)))
	copy(pkt[28:], payload)
	return pkt
}

func wrap6(src netip.Addr, dst netip.Addr, hop, proto byte, seg []byte) []byte {
	pkt := make([]byte, 40+len(seg))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:6], uint16(len(seg)))
	pkt[6], pkt[7] = proto, hop
	s, d := src.As16(), dst.As16()
	copy(pkt[8:24], s[:])
	copy(pkt[24:40], d[:])
	copy(pkt[40:], seg)
	return pkt
}

func FuzzRespondDHCPv4(f *testing.F) {
	for _, c := range replyCases()[:4] {
		f.Add(c.pkt(f)[28:], byte(0))
	}
	f.Add(dhcp4Packet(f, layers.DHCPMsgTypeDiscover, func(d *layers.DHCPv4) { d.Flags = 0x8000 },
		opt(layers.DHCPOptMaxMessageSize, 0x02, 0x40), opt(layers.DHCPOpt(optOverload), 3))[28:], byte(8))
	f.Add(dhcp4Packet(f, layers.DHCPMsgTypeRelease, nil)[28:], byte(1))
	f.Fuzz(func(t *testing.T, payload []byte, flags byte) {
		if len(payload) > 0xffff-28 {
			return
		}
		s := testSettings()
		s.ServerOnLink = flags&16 != 0
		fuzzCheck(t, New(s), wrap4(payload), vmMAC, fuzzLease(flags))
	})
}

func FuzzRespondDHCPv6(f *testing.F) {
	for _, c := range replyCases()[7:] {
		f.Add(c.pkt(f)[48:], byte(c.mode))
	}
	f.Add([]byte{12, 0, 0, 0}, byte(2))
	f.Fuzz(func(t *testing.T, msg []byte, flags byte) {
		if len(msg) > 0xffff-8 {
			return
		}
		s := testSettings()
		s.Mode = IPv6Mode(flags % 3)
		if flags&4 != 0 {
			s.ServerDUID = []byte{0, 4, 1, 2, 3, 4}
			s.RouterAddress = netip.MustParseAddr("fe80::1")
		}
		udp := make([]byte, 8+len(msg))
		binary.BigEndian.PutUint16(udp[0:2], 546)
		binary.BigEndian.PutUint16(udp[2:4], 547)
		binary.BigEndian.PutUint16(udp[4:6], uint16(len(udp)))
		copy(udp[8:], msg)
		fuzzCheck(t, New(s), wrap6(vmLL, netip.MustParseAddr("ff02::1:2"), 1, protoUDP, udp), vmMAC, fuzzLease(flags>>3))
	})
}

func FuzzRespondICMPv6(f *testing.F) {
	gw := testLease().Gateway6
	seeds := [][]byte{
		rsPacket(f, vmLL, vmMAC), rsPacket(f, netip.IPv6Unspecified(), nil),
		nsPacket(f, vmLL, solicitedNode(gw), gw, vmMAC), nsPacket(f, netip.IPv6Unspecified(), solicitedNode(gw), gw, nil),
	}
	for i, p := range seeds {
		f.Add(p[40:], p[8:24], byte(i))
		f.Add(p[40:], p[8:24], byte(i)|16<<3) // on a bridge
	}
	f.Fuzz(func(t *testing.T, msg, src []byte, flags byte) {
		if len(msg) > 0xffff || len(src) != 16 {
			return
		}
		s := testSettings()
		s.Mode = IPv6Mode(flags % 3)
		if src[1]&1 != 0 { // fe81:: and the like: the seeds' fe80:: keep the TAP's own
			s.RouterAddress = netip.MustParseAddr("fe80::1")
		}
		dst := allNodes
		if len(msg) >= 24 {
			dst = solicitedNode(netip.AddrFrom16([16]byte(msg[8:24])))
		}
		pkt := wrap6(netip.AddrFrom16([16]byte(src)), dst, 255, protoICMPv6, msg)
		var mac net.HardwareAddr
		if flags&4 != 0 {
			mac = vmMAC
		}
		fuzzCheck(t, New(s), pkt, mac, fuzzLease(flags>>3))
	})
}

// FuzzRespondPacket fuzzes whole IP packets, headers and extension
// headers included, as NFQUEUE hands them over.
func FuzzRespondPacket(f *testing.F) {
	for _, c := range replyCases() {
		if c.pkt != nil {
			f.Add(c.pkt(f), byte(c.mode))
		}
	}
	// RS behind a hop-by-hop header
	rs := rsPacket(f, vmLL, vmMAC)
	hbh := append(append(append([]byte(nil), rs[:40]...), protoICMPv6, 0, 1, 4, 0, 0, 0, 0), rs[40:]...)
	hbh[6] = 0
	binary.BigEndian.PutUint16(hbh[4:6], uint16(len(hbh)-40))
	f.Add(hbh, byte(0))
	f.Fuzz(func(t *testing.T, pkt []byte, flags byte) {
		s := testSettings()
		s.Mode = IPv6Mode(flags % 3)
		fuzzCheck(t, New(s), pkt, vmMAC, fuzzLease(flags>>2))
	})
}
