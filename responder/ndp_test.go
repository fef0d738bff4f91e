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
	checkRA(t, r.RouterAdvertisement(testLease()), allNodes, allNodesMAC, 0x40, 0xc0, 900, false)
	l := testLease()
	l.Subnet6 = netip.Prefix{}
	if f := r.RouterAdvertisement(l); f != nil {
		t.Errorf("RA without SUBNET6: %x", f)
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
