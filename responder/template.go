package responder

import (
	"bytes"
	"net/netip"
)

// Templates are the replies the TC classifier sends by itself (answers in
// the kernel), built here by the code that answers queued requests: the
// daemon's replies stay the one source of truth. Each is the reply to a
// request from the unspecified address, as a DAD probe or an RS from an
// address-less VM is, and so goes to all nodes (ff02::1, 33:33:00:00:00:01)
// with an NA's S flag clear. For any other request the classifier accepts,
// the reply differs only where it patches: the destination MAC and
// address, S, and the checksum (loader's differential test holds it to
// that, byte for byte).
type Templates struct {
	RA []byte   // the solicited RA; nil when l gets none
	NA [][]byte // per target answered in every case: RouterAddress, GATEWAY6
}

// Templates builds l's templates. An NA is made for the router's own
// addresses only, which every valid NS is answered for, whatever its
// source and wherever its TAP (a bridge port too); an NS for any other
// target stays with the daemon. The frames are copies, l's to keep.
func (r *Responder) Templates(l *Lease) Templates {
	var t Templates
	if noLease(l) != "" {
		return t
	}
	rs := [8]byte{icmpRS}
	p := ip6{src: netip.IPv6Unspecified(), dst: allRouters, hopLimit: ndpHopLimit, proto: protoICMPv6, payload: rs[:]}
	if res := r.respondRS(&p, l.MAC, l); res.Outcome == Answered {
		t.RA = bytes.Clone(res.Frame)
	}
	for _, target := range []netip.Addr{r.RouterAddress(l), l.Gateway6} {
		if !target.Is6() || target.Is4In6() || t.hasNA(target) {
			continue
		}
		var ns [24]byte
		ns[0] = icmpNS
		a := target.As16()
		copy(ns[8:], a[:])
		p := ip6{src: netip.IPv6Unspecified(), dst: solicitedNodeOf(target), hopLimit: ndpHopLimit, proto: protoICMPv6, payload: ns[:]}
		if res := r.respondNS(&p, l.MAC, l); res.Outcome == Answered {
			t.NA = append(t.NA, bytes.Clone(res.Frame))
		}
	}
	return t
}

func (t *Templates) hasNA(target netip.Addr) bool {
	a := target.As16()
	for _, na := range t.NA {
		if bytes.Equal(na[ethLen+ip6Len+8:ethLen+ip6Len+24], a[:]) {
			return true
		}
	}
	return false
}

// allRouters is ff02::2, where an RS goes.
var allRouters = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 2})

// solicitedNodeOf is a's solicited-node multicast address (RFC 4291 §2.7.1).
func solicitedNodeOf(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}
