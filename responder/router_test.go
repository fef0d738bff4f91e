package responder

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

// fixedRouter is [ipv6] router_address = fe80::1, byte by byte.
var fixedRouter = []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}

// movedTAP is the MAC of the TAP a VM moved to.
var movedTAP = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}

// ip6Src is the IPv6 source address of a reply frame.
func ip6Src(frame []byte) []byte { return frame[ethLen+8 : ethLen+24] }

// Every reply the router sends comes from RouterAddress: router_address when
// set, whatever the TAP's MAC; else the TAP's own EUI-64 link-local address.
func TestRouterAddressIsEveryReplysSource(t *testing.T) {
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	replies := map[string]func(*testing.T, *Responder, *Lease) Result{
		"periodic RA": func(_ *testing.T, r *Responder, l *Lease) Result { return r.RouterAdvertisement(l) },
		"RA to an RS": func(t *testing.T, r *Responder, l *Lease) Result {
			return r.Respond(rsPacket(t, vmLL, vmMAC), vmMAC, l)
		},
		"DHCPv6 Reply": func(t *testing.T, r *Responder, l *Lease) Result {
			return r.Respond(dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest, cid), vmMAC, l)
		},
		"NA proxied for the subnet": func(t *testing.T, r *Responder, l *Lease) Result {
			other := netip.MustParseAddr("2001:db8:aaaa:bbbb::55")
			return r.Respond(nsPacket(t, vmLL, solicitedNode(other), other, vmMAC), vmMAC, l)
		},
	}
	for _, tc := range []struct {
		name   string
		router netip.Addr
		tap    net.HardwareAddr
		want   []byte
	}{
		{"router_address", netip.MustParseAddr("fe80::1"), tapMAC, fixedRouter},
		{"router_address on the TAP moved to", netip.MustParseAddr("fe80::1"), movedTAP, fixedRouter},
		{"unset: the TAP's EUI-64", netip.Addr{}, tapMAC,
			[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x42, 0xac, 0xff, 0xfe, 0x11, 0x00, 0x01}},
		{"unset, the TAP moved to: another address", netip.Addr{}, movedTAP,
			[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x42, 0xac, 0xff, 0xfe, 0x11, 0x00, 0x02}},
	} {
		for what, reply := range replies {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				s := testSettings()
				s.RouterAddress = tc.router
				l := testLease()
				l.TAPMAC = tc.tap
				r := New(s)
				res := reply(t, r, l)
				if res.Outcome != Answered {
					t.Fatalf("%v (%q)", res.Outcome, res.Reason)
				}
				decode(t, res.Frame) // checksums cover the source
				eqBytes(t, "IPv6 source", ip6Src(res.Frame), tc.want)
				eqBytes(t, "RouterAddress", r.RouterAddress(l).AsSlice(), tc.want)
				eqBytes(t, "Ethernet source", res.Frame[6:12], tc.tap)
			})
		}
	}
}

// With router_address set, NS are answered for it and no longer for the
// TAP's own EUI-64 link-local address: a VM has one router, the same on
// every TAP, and its neighbour entry for that router is the one an RA
// updates when the VM moves.
func TestNSForRouterAddress(t *testing.T) {
	fe80_1 := netip.MustParseAddr("fe80::1")
	for _, tc := range []struct {
		name    string
		router  netip.Addr
		src     netip.Addr
		target  netip.Addr
		bridged bool
		outcome Outcome
		flags   uint8
		ipDst   netip.Addr
		reason  string
	}{
		{name: "router_address: R S O from itself", router: fe80_1, src: vmLL, target: fe80_1,
			flags: 0xe0, ipDst: vmLL},
		{name: "router_address defended against DAD", router: fe80_1, src: netip.IPv6Unspecified(), target: fe80_1,
			flags: 0xa0, ipDst: allNodes},
		{name: "router_address set: the TAP's own link-local is not the router's", router: fe80_1, src: vmLL,
			target: routerLL, outcome: Ignored, reason: "outside"},
		{name: "unset: fe80::1 is nobody's", src: vmLL, target: fe80_1, outcome: Ignored, reason: "outside"},
		{name: "unset: the TAP's own link-local", src: vmLL, target: routerLL, flags: 0xe0, ipDst: vmLL},
		// On a bridge only the router's own addresses are answered: the
		// router is router_address there too.
		{name: "bridged: router_address answered", router: fe80_1, bridged: true, src: vmLL, target: fe80_1,
			flags: 0xe0, ipDst: vmLL},
		{name: "bridged: the TAP's own link-local is left to the bridge", router: fe80_1, bridged: true, src: vmLL,
			target: routerLL, outcome: Passed, reason: "bridged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.RouterAddress = tc.router
			var slla net.HardwareAddr
			if tc.src.IsLinkLocalUnicast() {
				slla = vmMAC
			}
			l := testLease()
			l.Bridged = tc.bridged
			res := New(s).Respond(nsPacket(t, tc.src, solicitedNode(tc.target), tc.target, slla), vmMAC, l)
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %v (%q), want %v", res.Outcome, res.Reason, tc.outcome)
			}
			if tc.outcome != Answered {
				if res.Frame != nil || !strings.Contains(res.Reason, tc.reason) {
					t.Errorf("frame %x reason %q", res.Frame, res.Reason)
				}
				return
			}
			d := decode(t, res.Frame)
			eqBytes(t, "IPv6 source", ip6Src(res.Frame), tc.target.AsSlice())
			if d.ip6.DstIP.String() != tc.ipDst.String() || d.na.Flags != tc.flags {
				t.Errorf("NA to %v flags %#x, want %v %#x", d.ip6.DstIP, d.na.Flags, tc.ipDst, tc.flags)
			}
			// ICMPv6 NA: type, code, checksum, flags, reserved, target, TLLA.
			na := res.Frame[ethLen+ip6Len:]
			eqBytes(t, "NA target", na[8:24], tc.target.AsSlice())
			eqBytes(t, "TLLA option", na[24:32], append([]byte{ndoptTLLA, 1}, tapMAC...))
		})
	}
}

// A Renew names the server by its DUID. With server_duid set, the VM's
// Renew is answered on the TAP it moved to, and the reply carries that DUID
// first, byte for byte; unset, the DUID is the TAP's, and the Renew the VM
// sends after a move to a TAP with another MAC is for another server.
func TestServerDUIDAcrossTAPs(t *testing.T) {
	fixed := []byte{0x00, 0x03, 0x00, 0x01, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee}
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	eui := testLease().EUI64
	for _, tc := range []struct {
		name    string
		duid    []byte
		sid     []byte // the server the VM renews with: what it got before the move
		outcome Outcome
	}{
		{"server_duid: answered after the move", fixed, fixed, Answered},
		{"unset: the old TAP's DUID is another server's", nil, serverDUIDOf(tapMAC), Ignored},
		{"unset: the new TAP's DUID is answered", nil, serverDUIDOf(movedTAP), Answered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.Mode, s.ServerDUID = ModeDHCPv6, tc.duid
			l := testLease()
			l.TAPMAC = movedTAP
			renew := dhcp6Packet(t, layers.DHCPv6MsgTypeRenew, cid, mkopt6(layers.DHCPv6OptServerID, tc.sid), iaNA(1, eui))
			res := New(s).Respond(renew, vmMAC, l)
			if res.Outcome != tc.outcome || res.Kind != KindDHCPv6Renew {
				t.Fatalf("%v %v (%q), want %v", res.Kind, res.Outcome, res.Reason, tc.outcome)
			}
			if tc.outcome != Answered {
				if !strings.Contains(res.Reason, "another server") {
					t.Errorf("reason %q", res.Reason)
				}
				return
			}
			decode(t, res.Frame)
			// Reply, transaction id, then option 2 (Server ID) first.
			msg := res.Frame[ethLen+ip6Len+udpLen:]
			want := append([]byte{7, 0xab, 0xcd, 0xef, 0, 2, 0, byte(len(tc.sid))}, tc.sid...)
			if !bytes.HasPrefix(msg, want) {
				t.Errorf("reply starts %x, want %x", msg[:len(want)], want)
			}
		})
	}
}
