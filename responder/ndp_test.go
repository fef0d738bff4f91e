package responder

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestRouterAdvertisement(t *testing.T) {
	unspec := netip.IPv6Unspecified()
	for _, tc := range []struct {
		name       string
		mode       IPv6Mode
		lease      func(*Lease)
		src        netip.Addr
		slla       net.HardwareAddr
		ethSrc     net.HardwareAddr
		outcome    Outcome
		dst        netip.Addr
		dstMAC     net.HardwareAddr
		flags      uint8
		pflags     uint8
		lifetime   uint16
		clientMAC  net.HardwareAddr
		mtu        bool
		reasonPart string
	}{
		{name: "RS from link-local with SLLA: unicast RA, O flag for slaac+dhcpv6",
			mode: ModeSLAACDHCPv6, src: vmLL, slla: vmMAC, ethSrc: vmMAC,
			dst: vmLL, dstMAC: vmMAC, flags: 0x40, pflags: 0xc0, lifetime: 900, clientMAC: vmMAC},
		{name: "RS without SLLA takes the MAC from Ethernet, never from the address",
			mode: ModeSLAAC, src: netip.MustParseAddr("fe80::1234:5678:9abc:def0"), ethSrc: vmMAC,
			dst: netip.MustParseAddr("fe80::1234:5678:9abc:def0"), dstMAC: vmMAC, flags: 0, pflags: 0xc0, lifetime: 900, clientMAC: vmMAC},
		{name: "RS from :: gets the all-nodes RA",
			mode: ModeSLAAC, src: unspec, ethSrc: vmMAC,
			dst: allNodes, dstMAC: allNodesMAC, pflags: 0xc0, lifetime: 900, clientMAC: vmMAC},
		{name: "dhcpv6 mode sets M and O and clears A; MTU option when MTU",
			mode: ModeDHCPv6, lease: func(l *Lease) { l.MTU = 1450 }, src: vmLL, slla: vmMAC,
			dst: vmLL, dstMAC: vmMAC, flags: 0xc0, pflags: 0x80, lifetime: 900, clientMAC: vmMAC, mtu: true},
		{name: "private binding: router lifetime 0",
			mode: ModeSLAAC, lease: func(l *Lease) { l.Private = true }, src: vmLL, slla: vmMAC,
			dst: vmLL, dstMAC: vmMAC, pflags: 0xc0, lifetime: 0, clientMAC: vmMAC},
		{name: "SLLA of another MAC is spoofed", src: vmLL, slla: otherMAC, ethSrc: vmMAC, outcome: Spoofed, clientMAC: otherMAC},
		{name: "MACSPOOF answers another MAC", lease: func(l *Lease) { l.MACSpoof = true }, src: vmLL, slla: otherMAC,
			dst: vmLL, dstMAC: otherMAC, pflags: 0xc0, lifetime: 900, clientMAC: otherMAC},
		{name: "no SUBNET6: ignored", lease: func(l *Lease) { l.Subnet6 = netip.Prefix{} }, src: vmLL, slla: vmMAC,
			outcome: Ignored, clientMAC: vmMAC, reasonPart: "no IPv6 subnet"},
		{name: "RS from :: with SLLA is malformed", src: unspec, slla: vmMAC, outcome: Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.Mode = tc.mode
			l := testLease()
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(s).Respond(rsPacket(t, tc.src, tc.slla), tc.ethSrc, l)
			if res.Outcome != tc.outcome || res.Kind != KindRS || res.XID != 0 {
				t.Fatalf("outcome %v kind %v xid %d (%q), want %v", res.Outcome, res.Kind, res.XID, res.Reason, tc.outcome)
			}
			if !bytes.Equal(res.ClientMAC, tc.clientMAC) {
				t.Errorf("client MAC %v, want %v", res.ClientMAC, tc.clientMAC)
			}
			if tc.outcome != Answered {
				if res.Frame != nil || !strings.Contains(res.Reason, tc.reasonPart) {
					t.Errorf("frame %x reason %q", res.Frame, res.Reason)
				}
				return
			}
			checkRA(t, res.Frame, tc.dst, tc.dstMAC, tc.flags, tc.pflags, tc.lifetime, tc.mtu)
		})
	}
}

func checkRA(t *testing.T, frame []byte, dst netip.Addr, dstMAC net.HardwareAddr, flags, pflags uint8, lifetime uint16, mtu bool) {
	t.Helper()
	d := decode(t, frame)
	if !bytes.Equal(d.eth.DstMAC, dstMAC) || !bytes.Equal(d.eth.SrcMAC, tapMAC) {
		t.Errorf("Ethernet %v -> %v", d.eth.SrcMAC, d.eth.DstMAC)
	}
	if d.ip6.SrcIP.String() != routerLL.String() || d.ip6.DstIP.String() != dst.String() || d.ip6.HopLimit != 255 {
		t.Errorf("IPv6 %v -> %v hop %d", d.ip6.SrcIP, d.ip6.DstIP, d.ip6.HopLimit)
	}
	ra := d.ra
	if ra.HopLimit != 64 || ra.Flags != flags || ra.RouterLifetime != lifetime || ra.ReachableTime != 0 || ra.RetransTimer != 0 {
		t.Errorf("RA hop %d flags %#x lifetime %d reachable %d retrans %d", ra.HopLimit, ra.Flags, ra.RouterLifetime, ra.ReachableTime, ra.RetransTimer)
	}
	o := ndOpts(ra.Options)
	eqBytes(t, "SLLA", o[ndoptSLLA], tapMAC)
	pi := append([]byte{64, pflags}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
	pi = append(pi, netip.MustParseAddr("2001:db8:aaaa:bbbb::").AsSlice()...)
	eqBytes(t, "prefix information", o[ndoptPrefix], pi)
	rdnss := append([]byte{0, 0}, u32(900)...)
	rdnss = append(rdnss, netip.MustParseAddr("2001:db8:100::1").AsSlice()...)
	rdnss = append(rdnss, netip.MustParseAddr("2001:db8:200::2").AsSlice()...)
	eqBytes(t, "RDNSS", o[ndoptRDNSS], rdnss)
	dnssl := append([]byte{0, 0}, u32(900)...)
	dnssl = append(dnssl, "\x07example\x03com\x00\x00\x00\x00"...)
	eqBytes(t, "DNSSL", o[ndoptDNSSL], dnssl)
	if mtu {
		eqBytes(t, "MTU", o[ndoptMTU], []byte{0, 0, 0, 0, 0x05, 0xaa})
	} else if o[ndoptMTU] != nil {
		t.Errorf("MTU option without MTU: %x", o[ndoptMTU])
	}
}

func TestPeriodicRouterAdvertisement(t *testing.T) {
	r := New(testSettings())
	checkRA(t, r.RouterAdvertisement(testLease()).Frame, allNodes, allNodesMAC, 0x40, 0xc0, 900, false)
	l := testLease()
	l.Subnet6 = netip.Prefix{}
	if res := r.RouterAdvertisement(l); res.Frame != nil || res.Outcome != Ignored || res.Kind != KindRA {
		t.Errorf("RA without SUBNET6: %v %x", res.Outcome, res.Frame)
	}
}

func TestRATimers(t *testing.T) {
	for _, tc := range []struct {
		period uint32
		router uint16
		dns    uint32
	}{
		{0, 900, 900}, // unset: 300 s
		{300, 900, 900},
		{1800, 5400, 5400},
		{4000, 9000, 12000}, // RFC 4861 caps the router lifetime at 9000 s
		{0xffffffff, 9000, 0xffffffff},
	} {
		s := Settings{RAPeriod: tc.period}
		if r, d := raTimers(&s); r != tc.router || d != tc.dns {
			t.Errorf("ra_period %d: router %d dns %d, want %d %d", tc.period, r, d, tc.router, tc.dns)
		}
	}
}

func TestNeighborAdvertisement(t *testing.T) {
	unspec := netip.IPv6Unspecified()
	gw6 := netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	other := netip.MustParseAddr("2001:db8:aaaa:bbbb::55")
	eui := netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344")
	privacy := netip.MustParseAddr("2001:db8:aaaa:bbbb:1111:2222:3333:4444")
	for _, tc := range []struct {
		name       string
		src        netip.Addr
		dst        netip.Addr // zero: solicited-node of target
		target     netip.Addr
		slla       net.HardwareAddr
		ethSrc     net.HardwareAddr
		outcome    Outcome
		flags      uint8
		ipDst      netip.Addr
		ethDst     net.HardwareAddr
		reasonPart string
		bridged    bool
		lease      func(*Lease)
	}{
		{name: "gateway6: R S O, to the solicitor", src: vmLL, target: gw6, slla: vmMAC,
			flags: 0xe0, ipDst: vmLL, ethDst: vmMAC},
		{name: "router link-local", src: eui, target: routerLL, slla: vmMAC,
			flags: 0xe0, ipDst: eui, ethDst: vmMAC},
		{name: "other subnet address is proxied without O", src: vmLL, target: other, slla: vmMAC,
			flags: 0xc0, ipDst: vmLL, ethDst: vmMAC},
		{name: "unicast NUD without SLLA uses the Ethernet source", src: vmLL, dst: gw6, target: gw6, ethSrc: vmMAC,
			flags: 0xe0, ipDst: vmLL, ethDst: vmMAC},
		{name: "no MAC known at all falls back to the binding's", src: vmLL, dst: gw6, target: gw6,
			flags: 0xe0, ipDst: vmLL, ethDst: vmMAC},
		{name: "the VM's own address is not answered", src: vmLL, target: eui, slla: vmMAC,
			outcome: Ignored, reasonPart: "own address"},
		{name: "DAD for the VM's own address is not answered", src: unspec, target: eui,
			outcome: Ignored, reasonPart: "DAD"},
		{name: "DAD for a privacy address is not answered", src: unspec, target: privacy,
			outcome: Ignored, reasonPart: "DAD"},
		{name: "DAD for the gateway is defended to all nodes without S", src: unspec, target: gw6, ethSrc: vmMAC,
			flags: 0xa0, ipDst: allNodes, ethDst: allNodesMAC},
		{name: "target outside SUBNET6", src: vmLL, target: netip.MustParseAddr("2001:db8:ffff::1"), slla: vmMAC,
			outcome: Ignored, reasonPart: "outside"},
		{name: "SLLA of another MAC is spoofed", src: vmLL, target: gw6, slla: otherMAC,
			outcome: Spoofed},
		{name: "DAD with SLLA is malformed", src: unspec, target: gw6, slla: vmMAC, outcome: Malformed},
		{name: "DAD not to solicited-node is malformed", src: unspec, dst: allNodes, target: gw6, outcome: Malformed},
		{name: "multicast target is malformed", src: vmLL, target: allNodes, slla: vmMAC, outcome: Malformed},
		{name: "no SUBNET6: ignored", src: vmLL, target: gw6, slla: vmMAC, lease: func(l *Lease) { l.Subnet6 = netip.Prefix{} },
			outcome: Ignored, reasonPart: "no IPv6 subnet"},

		// On a bridge other hosts answer for themselves: only the router's
		// own addresses are answered, every other NS goes on.
		{name: "bridged: gateway6 is answered", bridged: true, src: vmLL, target: gw6, slla: vmMAC,
			flags: 0xe0, ipDst: vmLL, ethDst: vmMAC},
		{name: "bridged: router link-local is answered", bridged: true, src: eui, target: routerLL, slla: vmMAC,
			flags: 0xe0, ipDst: eui, ethDst: vmMAC},
		{name: "bridged: unicast NUD for gateway6 is answered", bridged: true, src: vmLL, dst: gw6, target: gw6, ethSrc: vmMAC,
			flags: 0xe0, ipDst: vmLL, ethDst: vmMAC},
		{name: "bridged: DAD for the gateway is defended", bridged: true, src: unspec, target: gw6, ethSrc: vmMAC,
			flags: 0xa0, ipDst: allNodes, ethDst: allNodesMAC},
		{name: "bridged: another host in SUBNET6 is passed on", bridged: true, src: vmLL, target: other, slla: vmMAC,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: unicast NUD for another host is passed on", bridged: true, src: eui, dst: other, target: other, ethSrc: vmMAC,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: a host outside SUBNET6 is passed on", bridged: true, src: vmLL, target: netip.MustParseAddr("2001:db8:ffff::1"), slla: vmMAC,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: the VM's own address is passed on", bridged: true, src: vmLL, target: eui, slla: vmMAC,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: DAD for the VM's own address reaches the bridge", bridged: true, src: unspec, target: eui,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: DAD for a privacy address reaches the bridge", bridged: true, src: unspec, target: privacy,
			outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: no SUBNET6, even the router link-local is passed on", bridged: true, src: vmLL, target: routerLL, slla: vmMAC,
			lease: func(l *Lease) { l.Subnet6 = netip.Prefix{} }, outcome: Passed, reasonPart: "bridged"},
		{name: "bridged: SLLA of another MAC is still spoofed", bridged: true, src: vmLL, target: other, slla: otherMAC,
			outcome: Spoofed},
		{name: "bridged: DAD with SLLA is still malformed", bridged: true, src: unspec, target: other, slla: vmMAC,
			outcome: Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst
			if !dst.IsValid() {
				dst = solicitedNode(tc.target)
			}
			l := testLease()
			l.Bridged = tc.bridged
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(testSettings()).Respond(nsPacket(t, tc.src, dst, tc.target, tc.slla), tc.ethSrc, l)
			if res.Outcome != tc.outcome || res.Kind != KindNS {
				t.Fatalf("outcome %v kind %v (%q), want %v", res.Outcome, res.Kind, res.Reason, tc.outcome)
			}
			if tc.outcome != Answered {
				if res.Frame != nil || !strings.Contains(res.Reason, tc.reasonPart) {
					t.Errorf("frame %x reason %q", res.Frame, res.Reason)
				}
				return
			}
			d := decode(t, res.Frame)
			if !bytes.Equal(d.eth.DstMAC, tc.ethDst) || !bytes.Equal(d.eth.SrcMAC, tapMAC) {
				t.Errorf("Ethernet %v -> %v", d.eth.SrcMAC, d.eth.DstMAC)
			}
			wantSrc := routerLL
			if tc.flags&naFlagO != 0 {
				wantSrc = tc.target // the router's own address answers from itself
			}
			if d.ip6.SrcIP.String() != wantSrc.String() || d.ip6.DstIP.String() != tc.ipDst.String() || d.ip6.HopLimit != 255 {
				t.Errorf("IPv6 %v -> %v hop %d", d.ip6.SrcIP, d.ip6.DstIP, d.ip6.HopLimit)
			}
			if d.na.Flags != tc.flags || d.na.TargetAddress.String() != tc.target.String() {
				t.Errorf("NA flags %#x target %v, want %#x %v", d.na.Flags, d.na.TargetAddress, tc.flags, tc.target)
			}
			if len(d.na.Options) != 1 || d.na.Options[0].Type != layers.ICMPv6OptTargetAddress {
				t.Fatalf("NA options %v", d.na.Options)
			}
			eqBytes(t, "TLLA", d.na.Options[0].Data, tapMAC)
		})
	}
}

func TestNDPValidation(t *testing.T) {
	good := rsPacket(t, vmLL, vmMAC)
	hop := append([]byte(nil), good...)
	hop[7] = 64
	zeroLenOpt := append([]byte(nil), good...)
	zeroLenOpt[40+8+1] = 0
	for name, pkt := range map[string][]byte{
		"hop limit not 255": hop,
		"option length 0":   zeroLenOpt,
		"truncated RS":      good[:40+4],
	} {
		t.Run(name, func(t *testing.T) {
			if res := New(testSettings()).Respond(pkt, vmMAC, testLease()); res.Outcome != Malformed || res.Frame != nil {
				t.Errorf("outcome %v (%q)", res.Outcome, res.Reason)
			}
		})
	}
}

func TestRouterLinkLocal(t *testing.T) {
	if got := routerLinkLocal(tapMAC); got != routerLL {
		t.Errorf("routerLinkLocal(%v) = %v, want %v", tapMAC, got, routerLL)
	}
	if got := routerLinkLocal(vmMAC); got != vmLL {
		t.Errorf("routerLinkLocal(%v) = %v, want %v", vmMAC, got, vmLL)
	}
}

// addrs6 returns n distinct IPv6 addresses, 2001:db8:53::1 on.
func addrs6(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x53, 14: byte((i + 1) >> 8), 15: byte(i + 1)})
	}
	return out
}

// longName is a valid name of n bytes (wire form n+2): labels of up to 63.
func longName(c byte, n int) string {
	b := bytes.Repeat([]byte{c}, n)
	for i := 63; i < n-1; i += 64 {
		b[i] = '.'
	}
	return string(b)
}

// wantRDNSS and wantDNSSL encode the options as RFC 8106 lays them out,
// independently of the builder.
func wantRDNSS(life uint32, as []netip.Addr) []byte {
	b := append([]byte{ndoptRDNSS, byte(1 + 2*len(as)), 0, 0}, u32(life)...)
	for _, a := range as {
		b = append(b, a.AsSlice()...)
	}
	return b
}

func wantDNSSL(life uint32, names ...string) []byte {
	var w []byte
	for _, n := range names {
		for _, label := range strings.Split(n, ".") {
			w = append(append(w, byte(len(label))), label...)
		}
		w = append(w, 0)
	}
	for (8+len(w))%8 != 0 {
		w = append(w, 0)
	}
	return append(append([]byte{ndoptDNSSL, byte((8 + len(w)) / 8), 0, 0}, u32(life)...), w...)
}

// An RA never overflows its buffer or the link MTU: the DNS servers, then
// the search domains, fill the room left, in order, each whole, and what
// does not fit is counted. The first two cases crashed the daemon (slice
// bounds out of range [:1464:1460]) on an RS and in the periodic RA.
func TestRouterAdvertisementFits(t *testing.T) {
	s6 := testSettings().Nameservers6
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, longName(byte('a'+i), 253))
		}
		return out
	}
	crash := []string{longName('a', 198), longName('b', 198), longName('c', 198), longName('d', 198),
		longName('e', 198), longName('f', 198), longName('g', 154)} // 1,356 bytes in wire form
	for _, tc := range []struct {
		name   string
		lease  func(*Lease)
		fixed  int    // RA bytes before the DNS options
		dns    []byte // the DNS options, exactly
		left   LeftOut
		length int // IPv6 packet length
	}{
		{name: "87 servers without MTU: all in one RDNSS, no room for the search domain",
			lease: func(l *Lease) { l.Nameservers6 = addrs6(87) }, fixed: 56,
			dns: wantRDNSS(900, addrs6(87)), left: LeftOut{Domains: 1}, length: 40 + 1456},
		{name: "1,356 bytes of search domains without MTU: the names that fit",
			lease: func(l *Lease) { l.DomainSearch = crash }, fixed: 56,
			dns:  append(wantRDNSS(900, s6), wantDNSSL(900, crash[:6]...)...),
			left: LeftOut{Domains: 1}, length: 40 + 56 + 40 + 1208},
		{name: "100 servers: the first 87 fill the frame",
			lease: func(l *Lease) { l.Nameservers6 = addrs6(100) }, fixed: 56,
			dns: wantRDNSS(900, addrs6(87)), left: LeftOut{Nameservers: 13, Domains: 1}, length: 40 + 1456},
		{name: "MTU 1280: the link's packet, exactly full",
			lease: func(l *Lease) { l.MTU = 1280; l.Nameservers6 = addrs6(80) }, fixed: 64,
			dns: wantRDNSS(900, addrs6(73)), left: LeftOut{Nameservers: 7, Domains: 1}, length: 1280},
		{name: "MTU below IPv6's 1280: a 1280-byte link all the same",
			lease: func(l *Lease) { l.MTU = 1000; l.Nameservers6 = addrs6(80) }, fixed: 64,
			dns: wantRDNSS(900, addrs6(73)), left: LeftOut{Nameservers: 7, Domains: 1}, length: 1280},
		{name: "MTU above the buffer: the buffer bounds it",
			lease: func(l *Lease) { l.MTU = 9000; l.Nameservers6 = addrs6(90) }, fixed: 64,
			dns: wantRDNSS(900, addrs6(86)), left: LeftOut{Nameservers: 4, Domains: 1}, length: 40 + 1448},
		{name: "a name that does not fit is skipped, later ones that do are kept",
			lease: func(l *Lease) {
				l.MTU = 1280
				l.DomainSearch = append(names(5), "example.org", "x.example")
			}, fixed: 64,
			dns:  append(wantRDNSS(900, s6), wantDNSSL(900, append(names(4), "example.org", "x.example")...)...),
			left: LeftOut{Domains: 1}, length: 40 + 64 + 40 + 1056},
		{name: "names that fill the room exactly",
			lease: func(l *Lease) {
				l.MTU = 1280
				// room: (1240-104)/8*8-8 = 1128 = 4*255 + 108
				l.DomainSearch = append(names(4), longName('z', 106))
			}, fixed: 64,
			dns:    append(wantRDNSS(900, s6), wantDNSSL(900, append(names(4), longName('z', 106))...)...),
			length: 40 + 64 + 40 + 1136},
		{name: "addresses that are not IPv6 are left out",
			lease: func(l *Lease) {
				l.Nameservers6 = []netip.Addr{netip.MustParseAddr("192.0.2.53"), s6[0], netip.MustParseAddr("::ffff:192.0.2.53")}
			}, fixed: 56,
			dns:  append(wantRDNSS(900, s6[:1]), wantDNSSL(900, "example.com")...),
			left: LeftOut{Nameservers: 2}, length: 40 + 56 + 24 + 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(testSettings())
			l := testLease()
			tc.lease(l)
			periodic := r.RouterAdvertisement(l)
			if periodic.Outcome != Answered || periodic.LeftOut != tc.left {
				t.Errorf("periodic RA: %v, left out %+v, want %+v", periodic.Outcome, periodic.LeftOut, tc.left)
			}
			frame := append([]byte(nil), periodic.Frame...)
			// An RS from :: is answered to all nodes: the same frame.
			rs := r.Respond(rsPacket(t, netip.IPv6Unspecified(), nil), vmMAC, l)
			if rs.Outcome != Answered || rs.LeftOut != tc.left || !bytes.Equal(rs.Frame, frame) {
				t.Errorf("solicited RA: %v, left out %+v, differs from the periodic one: %v",
					rs.Outcome, rs.LeftOut, !bytes.Equal(rs.Frame, frame))
			}
			decode(t, frame)
			if got := len(frame) - ethLen; got != tc.length {
				t.Errorf("IPv6 packet of %d bytes, want %d", got, tc.length)
			}
			if limit := linkBound(l.MTU, 1280); len(frame)-ethLen > limit {
				t.Errorf("IPv6 packet of %d bytes over the link's %d", len(frame)-ethLen, limit)
			}
			eqBytes(t, "DNS options", frame[ethLen+ip6Len+tc.fixed:], tc.dns)
		})
	}
}
