package responder

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestTemplates(t *testing.T) {
	unspec := netip.IPv6Unspecified()
	gw6 := netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	for _, tc := range []struct {
		name     string
		settings func(*Settings)
		lease    func(*Lease)
		ra       bool
		targets  []netip.Addr
	}{
		{name: "binding with GATEWAY6", ra: true, targets: []netip.Addr{routerLL, gw6}},
		{name: "no GATEWAY6: the router link-local only", lease: func(l *Lease) { l.Gateway6 = netip.Addr{} },
			ra: true, targets: []netip.Addr{routerLL}},
		{name: "GATEWAY6 is the router link-local: one NA", lease: func(l *Lease) { l.Gateway6 = routerLL },
			ra: true, targets: []netip.Addr{routerLL}},
		{name: "GATEWAY6 is the VM's own address: never answered", lease: func(l *Lease) { l.Gateway6 = l.EUI64 },
			ra: true, targets: []netip.Addr{routerLL}},
		{name: "no SUBNET6: nothing", lease: func(l *Lease) { l.Subnet6 = netip.Prefix{} }},
		{name: "no TAP MAC: nothing", lease: func(l *Lease) { l.TAPMAC = nil }},
		{name: "PRIVATE and MTU: the RA says so", lease: func(l *Lease) { l.Private, l.MTU = true, 1450 },
			ra: true, targets: []netip.Addr{routerLL, gw6}},
		{name: "router_address: its NA, not the TAP's link-local",
			settings: func(s *Settings) { s.RouterAddress = netip.MustParseAddr("fe80::1") },
			ra:       true, targets: []netip.Addr{netip.MustParseAddr("fe80::1"), gw6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			if tc.lease != nil {
				tc.lease(l)
			}
			s := testSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			got := New(s).Templates(l)
			// Each template is, byte for byte, the responder's reply to the
			// request from the unspecified address it stands for.
			wantRA := New(s).Respond(rsPacket(t, unspec, nil), vmMAC, l)
			if tc.ra != (got.RA != nil) || tc.ra && !bytes.Equal(got.RA, wantRA.Frame) {
				t.Errorf("RA template\n%x\nwant (%v)\n%x", got.RA, tc.ra, wantRA.Frame)
			}
			if len(got.NA) != len(tc.targets) {
				t.Fatalf("%d NA templates, want %d", len(got.NA), len(tc.targets))
			}
			for i, target := range tc.targets {
				want := New(s).Respond(nsPacket(t, unspec, solicitedNode(target), target, nil), vmMAC, l)
				if want.Outcome != Answered || !bytes.Equal(got.NA[i], want.Frame) {
					t.Errorf("NA template for %v\n%x\nwant (%v)\n%x", target, got.NA[i], want.Outcome, want.Frame)
				}
				d := decode(t, got.NA[i])
				if d.na.Flags != naFlagR|naFlagO || d.ip6.DstIP.String() != "ff02::1" {
					t.Errorf("NA template for %v: flags %#x to %v, want R|O to ff02::1", target, d.na.Flags, d.ip6.DstIP)
				}
			}
		})
	}
}

// The templates are copies: building another reply does not change them.
func TestTemplatesAreCopies(t *testing.T) {
	r := New(testSettings())
	got := r.Templates(testLease())
	ra, na := bytes.Clone(got.RA), bytes.Clone(got.NA[0])
	r.Respond(nsPacket(t, vmLL, solicitedNode(routerLL), routerLL, vmMAC), vmMAC, testLease())
	r.Respond(rsPacket(t, vmLL, vmMAC), vmMAC, testLease())
	if !bytes.Equal(got.RA, ra) || !bytes.Equal(got.NA[0], na) {
		t.Error("templates changed with the responder's next replies")
	}
}
