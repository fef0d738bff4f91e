package responder

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

func TestAppendName(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		want string
		ok   bool
	}{
		{"example.com", 255, "\x07example\x03com\x00", true},
		{"example.com.", 255, "\x07example\x03com\x00", true},
		{"a", 255, "\x01a\x00", true},
		{"", 255, "", false},
		{".", 255, "", false},
		{"a..b", 255, "", false},
		{".a", 255, "", false},
		{strings.Repeat("x", 63) + ".com", 255, "\x3f" + strings.Repeat("x", 63) + "\x03com\x00", true},
		{strings.Repeat("x", 64) + ".com", 255, "", false},
		{"example.com", 12, "", false}, // needs 13 bytes
		{"example.com", 13, "\x07example\x03com\x00", true},
	} {
		got, ok := appendName([]byte("pre"), tc.name, 3+tc.max)
		if ok != tc.ok || string(got) != "pre"+tc.want {
			t.Errorf("appendName(%q, %d) = %q %v, want %q %v", tc.name, tc.max, got, ok, "pre"+tc.want, tc.ok)
		}
	}
}

func TestLeaseTimers(t *testing.T) {
	for _, tc := range []struct {
		lease, renewal        uint32
		wantL, wantT1, wantT2 uint32
	}{
		{604800, 3600, 604800, 3600, 529200},
		{0, 0, 604800, 302400, 529200}, // defaults
		{3600, 3600, 3600, 1800, 3150}, // renewal not before T2: halve
		{0xffffffff, 3600, 0xffffffff, 0xffffffff, 0xffffffff},
	} {
		s := Settings{LeaseLifetime: tc.lease, LeaseRenewal: tc.renewal}
		l, t1, t2 := leaseTimers(&s)
		if l != tc.wantL || t1 != tc.wantT1 || t2 != tc.wantT2 {
			t.Errorf("lease %d renewal %d: %d %d %d, want %d %d %d", tc.lease, tc.renewal, l, t1, t2, tc.wantL, tc.wantT1, tc.wantT2)
		}
	}
}

func TestClassify(t *testing.T) {
	gw := testLease().Gateway6
	rs := rsPacket(t, vmLL, vmMAC)
	// the same RS behind a hop-by-hop options header
	hbh := append(append(append([]byte(nil), rs[:40]...), protoICMPv6, 0, 1, 4, 0, 0, 0, 0), rs[40:]...)
	hbh[6] = 0
	binary.BigEndian.PutUint16(hbh[4:6], uint16(len(hbh)-40))
	frag := dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil)
	frag[6] = 0x20 // more fragments
	for _, tc := range []struct {
		name string
		pkt  []byte
		want Kind
	}{
		{"discover", dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil), KindDHCPDiscover},
		{"request", dhcp4Packet(t, layers.DHCPMsgTypeRequest, nil), KindDHCPRequest},
		{"inform", dhcp4Packet(t, layers.DHCPMsgTypeInform, nil), KindDHCPInform},
		{"release", dhcp4Packet(t, layers.DHCPMsgTypeRelease, nil), KindDHCPRelease},
		{"decline", dhcp4Packet(t, layers.DHCPMsgTypeDecline, nil), KindDHCPDecline},
		{"offer", dhcp4Packet(t, layers.DHCPMsgTypeOffer, nil), KindDHCPOther},
		{"fragment", frag, KindUnknown},
		{"rs", rs, KindRS},
		{"rs behind hop-by-hop", hbh, KindRS},
		{"ns", nsPacket(t, vmLL, solicitedNode(gw), gw, vmMAC), KindNS},
		{"solicit", dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit), KindDHCPv6Solicit},
		{"request6", dhcp6Packet(t, layers.DHCPv6MsgTypeRequest), KindDHCPv6Request},
		{"renew", dhcp6Packet(t, layers.DHCPv6MsgTypeRenew), KindDHCPv6Renew},
		{"rebind", dhcp6Packet(t, layers.DHCPv6MsgTypeRebind), KindDHCPv6Rebind},
		{"information-request", dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest), KindDHCPv6InformationRequest},
		{"confirm", dhcp6Packet(t, layers.DHCPv6MsgTypeConfirm), KindDHCPv6Confirm},
		{"release6", dhcp6Packet(t, layers.DHCPv6MsgTypeRelease), KindDHCPv6Release},
		{"decline6", dhcp6Packet(t, layers.DHCPv6MsgTypeDecline), KindDHCPv6Decline},
		{"relay-forward", dhcp6Packet(t, layers.DHCPv6MsgTypeRelayForward), KindDHCPv6Other},
		{"empty", nil, KindUnknown},
		{"garbage", []byte{0x45, 1, 2}, KindUnknown},
	} {
		if got := Classify(tc.pkt); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Respond agrees, and answers the RS behind the extension header.
	if res := New(testSettings()).Respond(hbh, vmMAC, testLease()); res.Outcome != Answered {
		t.Errorf("RS behind hop-by-hop: %v (%q)", res.Outcome, res.Reason)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{KindDHCPv6InformationRequest.String(), "dhcpv6-information-request"},
		{KindNS.String(), "ns"},
		{Kind(200).String(), "unknown"},
		{Spoofed.String(), "spoofed"},
		{Passed.String(), "passed"}, // the metric's outcome label
		{Outcome(200).String(), "unknown"},
		{ModeSLAACDHCPv6.String(), "slaac+dhcpv6"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
	for k := KindUnknown; k <= KindRA; k++ {
		if k.String() == "" || k != KindUnknown && k.String() == "unknown" {
			t.Errorf("Kind %d has no name", k)
		}
	}
}

func TestNoBinding(t *testing.T) {
	gw := testLease().Gateway6
	r := New(testSettings())
	for _, pkt := range [][]byte{
		dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil),
		rsPacket(t, vmLL, vmMAC),
		nsPacket(t, vmLL, solicitedNode(gw), gw, vmMAC),
		dhcp6Packet(t, layers.DHCPv6MsgTypeInformationRequest),
	} {
		if res := r.Respond(pkt, vmMAC, nil); res.Outcome != Ignored || res.Frame != nil || res.Kind == KindUnknown {
			t.Errorf("%v: %v (%q)", res.Kind, res.Outcome, res.Reason)
		}
	}
	noTAP := testLease()
	noTAP.TAPMAC = nil
	if res := r.Respond(dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil), vmMAC, noTAP); res.Outcome != Ignored || res.Frame != nil {
		t.Errorf("lease without TAP MAC: %v (%q)", res.Outcome, res.Reason)
	}
	if res := r.RouterAdvertisement(noTAP); res.Frame != nil || res.Outcome != Ignored {
		t.Errorf("RA for lease without TAP MAC: %v %x", res.Outcome, res.Frame)
	}
	if res := r.RouterAdvertisement(nil); res.Frame != nil || res.Outcome != Ignored {
		t.Errorf("RA for nil lease: %v %x", res.Outcome, res.Frame)
	}
}

func TestIPv6ModeText(t *testing.T) {
	for _, m := range []IPv6Mode{ModeSLAAC, ModeSLAACDHCPv6, ModeDHCPv6} {
		b, _ := m.MarshalText()
		var got IPv6Mode
		if err := got.UnmarshalText(b); err != nil || got != m {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, got, err, m)
		}
	}
	var m IPv6Mode
	if err := m.UnmarshalText([]byte("auto")); err == nil || err.Error() != `"auto" is not one of slaac, slaac+dhcpv6, dhcpv6` {
		t.Errorf("UnmarshalText(auto) = %v", err)
	}
}
