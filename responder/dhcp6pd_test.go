package responder

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket/layers"
)

// iaPD encodes an IA_PD holding the given prefixes (lifetimes 0), as a
// client sends it: hints in a Solicit or Request, what it holds in a
// Renew, Rebind or Release.
func iaPD(iaid uint32, prefixes ...netip.Prefix) layers.DHCPv6Option {
	b := binary.BigEndian.AppendUint32(nil, iaid)
	b = append(b, make([]byte, 8)...)
	for _, p := range prefixes {
		b = append(b, iaPrefixOpt(p, 0, 0)...)
	}
	return mkopt6(layers.DHCPv6OptIAPD, b)
}

// o6 is one DHCPv6 option, code, length and payload, on the wire.
func o6(code uint16, parts ...[]byte) []byte {
	v := bytes.Join(parts, nil)
	return append([]byte{byte(code >> 8), byte(code), byte(len(v) >> 8), byte(len(v))}, v...)
}

func iaPrefixOpt(p netip.Prefix, preferred, valid uint32) []byte {
	return o6(o6IAPrefix, u32(preferred), u32(valid), []byte{byte(p.Bits())}, p.Addr().AsSlice())
}

func statusOpt(code uint16, msg string) []byte {
	return o6(o6StatusCode, []byte{byte(code >> 8), byte(code)}, []byte(msg))
}

// TestDHCPv6PrefixDelegation checks every IA_PD exchange of RFC 8415 byte
// for byte: the whole DHCPv6 message of each reply, and what the reply
// tells the caller to route.
func TestDHCPv6PrefixDelegation(t *testing.T) {
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	sid := mkopt6(layers.DHCPv6OptServerID, serverDUIDOf(tapMAC))
	rapid := mkopt6(layers.DHCPv6OptRapidCommit, nil)
	eui := testLease().EUI64
	p56 := netip.MustParsePrefix("2001:db8:cccc::/56")
	p64 := netip.MustParsePrefix("2001:db8:dddd:1::/64")
	stale := netip.MustParsePrefix("2001:db8:eeee::/48")
	hostBits := netip.PrefixFrom(netip.MustParseAddr("2001:db8:cccc::1"), 56)

	// The reply's fixed parts: server id, client id, and the DNS options
	// that close every reply.
	head := func(mt byte) []byte {
		return append([]byte{mt, 0xab, 0xcd, 0xef}, append(o6(o6ServerID, serverDUIDOf(tapMAC)), o6(o6ClientID, clientDUID)...)...)
	}
	dns := append(o6(o6DNS, netip.MustParseAddr("2001:db8:100::1").AsSlice(), netip.MustParseAddr("2001:db8:200::2").AsSlice()),
		o6(o6Domains, []byte("\x07example\x03com\x00"))...)
	msg := func(mt byte, opts ...[]byte) []byte {
		return append(append(head(mt), bytes.Join(opts, nil)...), dns...)
	}
	// pd_lifetime 3600: T1 1800, T2 2880.
	given := func(iaid uint32, extra ...[]byte) []byte {
		parts := [][]byte{u32(iaid), u32(1800), u32(2880), iaPrefixOpt(p56, 3600, 3600), iaPrefixOpt(p64, 3600, 3600)}
		return o6(o6IAPD, append(parts, extra...)...)
	}
	none := func(iaid uint32, extra ...[]byte) []byte {
		return o6(o6IAPD, append([][]byte{u32(iaid), u32(0), u32(0)}, extra...)...)
	}
	noPrefix := statusOpt(stNoPrefixAvail, "no prefix delegated to this VM")
	// IA_NA for IAID 1 in mode dhcpv6 (lease_lifetime 604800, renewal 3600).
	naGiven := o6(o6IANA, u32(1), u32(3600), u32(529200), o6(o6IAAddr, eui.AsSlice(), u32(604800), u32(604800)))
	both := []netip.Prefix{p56, p64}

	for _, tc := range []struct {
		name     string
		mode     IPv6Mode
		life     uint32
		lease    func(*Lease)
		mt       layers.DHCPv6MsgType
		opts     []layers.DHCPv6Option
		want     []byte // the whole DHCPv6 message
		op       DelegationOp
		prefixes []netip.Prefix
	}{{
		name: "solicit: advertise offers every prefix, taken by no one yet", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeSolicit, opts: []layers.DHCPv6Option{cid, iaPD(1)},
		want: msg(d6Advertise, given(1)),
	}, {
		name: "solicit with rapid commit: reply, taken", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeSolicit, opts: []layers.DHCPv6Option{cid, rapid, iaPD(7)},
		want: msg(d6Reply, o6(o6RapidCommit), given(7)), op: Delegated, prefixes: both,
	}, {
		name: "request with a hint: reply, taken", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56)},
		want: msg(d6Reply, given(1)), op: Delegated, prefixes: both,
	}, {
		name: "renew: the same prefixes, lifetimes refreshed; a stale one at lifetimes 0", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRenew, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56, stale, p64)},
		want: msg(d6Reply, given(1, iaPrefixOpt(stale, 0, 0))), op: Delegated, prefixes: both,
	}, {
		name: "rebind: reply, taken", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRebind, opts: []layers.DHCPv6Option{cid, iaPD(1, p56, p64)},
		want: msg(d6Reply, given(1)), op: Delegated, prefixes: both,
	}, {
		name: "renew after the binding lost a prefix: it comes back at lifetimes 0", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Delegated = []netip.Prefix{p64} },
		mt:    layers.DHCPv6MsgTypeRenew, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56, p64)},
		want: msg(d6Reply, o6(o6IAPD, u32(1), u32(1800), u32(2880), iaPrefixOpt(p64, 3600, 3600), iaPrefixOpt(p56, 0, 0))),
		op:   Delegated, prefixes: []netip.Prefix{p64},
	}, {
		name: "renew after the binding lost every prefix: lifetimes 0, and no status, which would void them", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Delegated = nil },
		mt:    layers.DHCPv6MsgTypeRenew, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56)},
		want: msg(d6Reply, none(1, iaPrefixOpt(p56, 0, 0))),
	}, {
		name: "an empty renew, binding without prefixes: NoPrefixAvail", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Delegated = nil },
		mt:    layers.DHCPv6MsgTypeRebind, opts: []layers.DHCPv6Option{cid, iaPD(1)},
		want: msg(d6Reply, none(1, noPrefix)),
	}, {
		name: "a second IA_PD holding a stale prefix: lifetimes 0, no status", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRenew, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56), iaPD(2, stale)},
		want: msg(d6Reply, given(1), none(2, iaPrefixOpt(stale, 0, 0))), op: Delegated, prefixes: both,
	}, {
		name: "a hint with host bits set is not the binding's prefix", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRebind, opts: []layers.DHCPv6Option{cid, iaPD(1, hostBits)},
		want: msg(d6Reply, given(1, iaPrefixOpt(hostBits, 0, 0))), op: Delegated, prefixes: both,
	}, {
		name: "solicit, binding without prefixes: NoPrefixAvail", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Delegated = nil },
		mt:    layers.DHCPv6MsgTypeSolicit, opts: []layers.DHCPv6Option{cid, iaPD(1)},
		want: msg(d6Advertise, none(1, noPrefix)),
	}, {
		name: "request, binding without prefixes: NoPrefixAvail, nothing taken", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Delegated = nil },
		mt:    layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1)},
		want: msg(d6Reply, none(1, noPrefix)),
	}, {
		name: "the prefixes go to the first IA_PD", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1), iaPD(2)},
		want: msg(d6Reply, given(1), none(2, statusOpt(stNoPrefixAvail, "the prefixes go to the first IA_PD"))),
		op:   Delegated, prefixes: both,
	}, {
		name: "mode slaac: served too", mode: ModeSLAAC,
		mt: layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1)},
		want: msg(d6Reply, given(1)), op: Delegated, prefixes: both,
	}, {
		name: "mode dhcpv6: IA_NA and IA_PD side by side", mode: ModeDHCPv6,
		mt: layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaNA(1, eui), iaPD(1, p56)},
		want: msg(d6Reply, naGiven, given(1)), op: Delegated, prefixes: both,
	}, {
		name: "mode slaac+dhcpv6: IA_NA beside IA_PD gets NoAddrsAvail", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeSolicit, opts: []layers.DHCPv6Option{cid, iaNA(1), iaPD(1)},
		want: msg(d6Advertise, o6(o6IANA, u32(1), u32(0), u32(0), statusOpt(stNoAddrsAvail, "addresses by SLAAC (mode is not dhcpv6)")), given(1)),
	}, {
		name: "mode dhcpv6 without EUI64: IA_NA gets NoAddrsAvail, IA_PD its prefixes", mode: ModeDHCPv6,
		lease: func(l *Lease) { l.EUI64 = netip.Addr{} },
		mt:    layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaNA(1), iaPD(1)},
		want: msg(d6Reply, o6(o6IANA, u32(1), u32(0), u32(0), statusOpt(stNoAddrsAvail, "no EUI64 address for this VM")), given(1)),
		op:   Delegated, prefixes: both,
	}, {
		name: "binding without SUBNET6: prefixes still delegated", mode: ModeSLAACDHCPv6,
		lease: func(l *Lease) { l.Subnet6, l.Gateway6, l.EUI64 = netip.Prefix{}, netip.Addr{}, netip.Addr{} },
		mt:    layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1)},
		want: msg(d6Reply, given(1)), op: Delegated, prefixes: both,
	}, {
		name: "infinite pd_lifetime: infinite T1 and T2", mode: ModeSLAACDHCPv6, life: 0xffffffff,
		lease: func(l *Lease) { l.Delegated = []netip.Prefix{p64} },
		mt:    layers.DHCPv6MsgTypeRequest, opts: []layers.DHCPv6Option{cid, sid, iaPD(1)},
		want: msg(d6Reply, o6(o6IAPD, u32(1), u32(0xffffffff), u32(0xffffffff), iaPrefixOpt(p64, 0xffffffff, 0xffffffff))),
		op:   Delegated, prefixes: []netip.Prefix{p64},
	}, {
		name: "release: Success, the prefix given back", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRelease, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p64)},
		want: msg(d6Reply, statusOpt(stSuccess, "ok")), op: Released, prefixes: []netip.Prefix{p64},
	}, {
		name: "release of another prefix: NoBinding in its IA_PD, Success", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeRelease, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56, p64), iaPD(2, stale)},
		want: msg(d6Reply, none(2, statusOpt(stNoBinding, "no prefix of this VM's in this IA_PD")), statusOpt(stSuccess, "ok")),
		op:   Released, prefixes: both,
	}, {
		name: "decline: Success, prefixes untouched (RFC 3633: no Decline for prefixes)", mode: ModeSLAACDHCPv6,
		mt: layers.DHCPv6MsgTypeDecline, opts: []layers.DHCPv6Option{cid, sid, iaPD(1, p56)},
		want: msg(d6Reply, statusOpt(stSuccess, "ok")),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.Mode, s.PDLifetime = tc.mode, 3600
			if tc.life != 0 {
				s.PDLifetime = tc.life
			}
			l := testLease()
			l.Delegated = both
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(s).Respond(dhcp6Packet(t, tc.mt, tc.opts...), vmMAC, l)
			if res.Outcome != Answered {
				t.Fatalf("%v (%s)", res.Outcome, res.Reason)
			}
			decode(t, res.Frame)
			eqBytes(t, "DHCPv6 message", res.Frame[ethLen+ip6Len+udpLen:], tc.want)
			d := res.Delegation
			wantHop := netip.Addr{}
			if tc.op != NoDelegation {
				wantHop = vmLL
			}
			if d.Op != tc.op || !slices.Equal(d.Prefixes, tc.prefixes) || d.NextHop != wantHop {
				t.Errorf("delegation %v %v via %v, want %v %v via %v", d.Op, d.Prefixes, d.NextHop, tc.op, tc.prefixes, wantHop)
			}
			if wantValid := map[bool]uint32{true: s.PDLifetime}[tc.op == Delegated]; d.Valid != wantValid {
				t.Errorf("valid %d, want %d", d.Valid, wantValid)
			}
		})
	}
}

// Requests that are not answered: an IA_PD that breaks RFC 8415's layout,
// and a message that asks for no prefix where IA_NA is not served.
func TestDHCPv6PrefixDelegationRefused(t *testing.T) {
	cid := mkopt6(layers.DHCPv6OptClientID, clientDUID)
	sid := mkopt6(layers.DHCPv6OptServerID, serverDUIDOf(tapMAC))
	raw := func(payload ...[]byte) layers.DHCPv6Option {
		return mkopt6(layers.DHCPv6OptIAPD, bytes.Join(payload, nil))
	}
	for _, tc := range []struct {
		name    string
		opts    []layers.DHCPv6Option
		outcome Outcome
		reason  string
	}{
		{"IA_PD of 11 bytes", []layers.DHCPv6Option{cid, raw(make([]byte, 11))}, Malformed, "IA_PD shorter than 12 bytes"},
		{"IA Prefix of 24 bytes", []layers.DHCPv6Option{cid, raw(make([]byte, 12), o6(o6IAPrefix, make([]byte, 24)))}, Malformed, "IA Prefix shorter than 25 bytes"},
		{"IA Prefix of 129 bits", []layers.DHCPv6Option{cid, raw(make([]byte, 12), o6(o6IAPrefix, make([]byte, 8), []byte{129}, make([]byte, 16)))}, Malformed, "IA Prefix longer than 128 bits"},
		{"sub-option overruns the IA_PD", []layers.DHCPv6Option{cid, raw(make([]byte, 12), []byte{0, 26, 0, 40}, make([]byte, 10))}, Malformed, "IA_PD option overruns the IA"},
		{"IA_NA alone in mode slaac+dhcpv6", []layers.DHCPv6Option{cid, iaNA(1)}, Unsupported, "stateful DHCPv6 is off (mode is not dhcpv6)"},
		{"IA_PD with a server id in a Solicit", []layers.DHCPv6Option{cid, sid, iaPD(1)}, Malformed, "DHCPv6 message with a Server ID it must not carry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			l := testLease()
			l.Delegated = []netip.Prefix{netip.MustParsePrefix("2001:db8:cccc::/56")}
			res := New(s).Respond(dhcp6Packet(t, layers.DHCPv6MsgTypeSolicit, tc.opts...), vmMAC, l)
			if res.Outcome != tc.outcome || res.Reason != tc.reason || res.Frame != nil || res.Delegation.Op != NoDelegation {
				t.Errorf("%v (%q), frame %v, delegation %v; want %v (%q)", res.Outcome, res.Reason, res.Frame != nil, res.Delegation.Op, tc.outcome, tc.reason)
			}
		})
	}
}

// One Responder serves many VMs: a reply never carries, nor reports,
// another binding's prefixes, whatever DUID and IAID the client reuses.
func TestDHCPv6PrefixPerVM(t *testing.T) {
	r := New(testSettings())
	a, b := testLease(), testLease()
	a.Delegated = []netip.Prefix{netip.MustParsePrefix("2001:db8:a::/48")}
	b.Delegated = []netip.Prefix{netip.MustParsePrefix("2001:db8:b::/48")}
	req := dhcp6Packet(t, layers.DHCPv6MsgTypeRebind, mkopt6(layers.DHCPv6OptClientID, clientDUID), iaPD(1, a.Delegated[0]))
	for _, tc := range []struct {
		l    *Lease
		give netip.Prefix
		drop []netip.Prefix
	}{{a, a.Delegated[0], nil}, {b, b.Delegated[0], a.Delegated}, {a, a.Delegated[0], nil}} {
		res := r.Respond(req, vmMAC, tc.l)
		var got [][]byte
		iaPrefixes(res.Frame[ethLen+ip6Len+udpLen+4+14+14+16:], func(p netip.Prefix) { got = append(got, []byte(p.String())) })
		want := [][]byte{[]byte(tc.give.String())}
		for _, d := range tc.drop {
			want = append(want, []byte(d.String()))
		}
		if !slices.EqualFunc(got, want, bytes.Equal) || !slices.Equal(res.Delegation.Prefixes, []netip.Prefix{tc.give}) {
			t.Errorf("lease %v: IA_PD holds %q, delegation %v; want %q", tc.l.Delegated, got, res.Delegation.Prefixes, want)
		}
	}
}
