package responder

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
)

// DHCPv6 message types, options and status codes (RFC 8415 §7, §21).
const (
	d6Solicit     = 1
	d6Advertise   = 2
	d6Request     = 3
	d6Confirm     = 4
	d6Renew       = 5
	d6Rebind      = 6
	d6Reply       = 7
	d6Release     = 8
	d6Decline     = 9
	d6InfoRequest = 11

	o6ClientID    = 1
	o6ServerID    = 2
	o6IANA        = 3
	o6IAAddr      = 5
	o6StatusCode  = 13
	o6RapidCommit = 14
	o6DNS         = 23
	o6Domains     = 24
	o6IAPD        = 25 // RFC 8415 §21.21
	o6IAPrefix    = 26 // RFC 8415 §21.22

	stSuccess       = 0
	stNoAddrsAvail  = 2
	stNoBinding     = 3
	stNotOnLink     = 4
	stNoPrefixAvail = 6

	dhcp6HopLimit = 64
	maxIANA       = 8
	maxIAPD       = 8
	iaPrefixLen   = 25 // preferred, valid, prefix-length, prefix
)

func dhcp6Kind(t byte) Kind {
	switch t {
	case d6Solicit:
		return KindDHCPv6Solicit
	case d6Request:
		return KindDHCPv6Request
	case d6Confirm:
		return KindDHCPv6Confirm
	case d6Renew:
		return KindDHCPv6Renew
	case d6Rebind:
		return KindDHCPv6Rebind
	case d6Release:
		return KindDHCPv6Release
	case d6Decline:
		return KindDHCPv6Decline
	case d6InfoRequest:
		return KindDHCPv6InformationRequest
	}
	return KindDHCPv6Other
}

// dhcp6Request holds what a reply depends on; slices alias the packet.
type dhcp6Request struct {
	msgType     byte
	xid         uint32
	clientID    []byte
	serverID    []byte
	hasServerID bool
	rapidCommit bool
	iana        [maxIANA][]byte // IA_NA payloads: IAID, T1, T2, sub-options
	nIANA       int
	iapd        [maxIAPD][]byte // IA_PD payloads: IAID, T1, T2, sub-options
	nIAPD       int
}

func (q *dhcp6Request) parse(b []byte) string {
	*q = dhcp6Request{}
	if len(b) < 4 {
		return "DHCPv6 message truncated"
	}
	q.msgType = b[0]
	q.xid = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if dhcp6Kind(q.msgType) == KindDHCPv6Other {
		return "" // relay and server messages have other layouts; not parsed
	}
	for b = b[4:]; len(b) > 0; {
		code, v, rest, ok := opt6(b)
		if !ok {
			return "DHCPv6 option overruns the message"
		}
		b = rest
		switch code {
		case o6ClientID:
			if q.clientID == nil && len(v) > 0 {
				q.clientID = v
			}
		case o6ServerID:
			if !q.hasServerID {
				q.serverID, q.hasServerID = v, true
			}
		case o6RapidCommit:
			q.rapidCommit = true
		case o6IANA:
			if len(v) < 12 {
				return "IA_NA shorter than 12 bytes"
			}
			if _, ok := iaAddrs(v[12:], nil); !ok {
				return "IA_NA option overruns the IA"
			}
			if q.nIANA < maxIANA {
				q.iana[q.nIANA] = v
				q.nIANA++
			}
		case o6IAPD:
			if len(v) < 12 {
				return "IA_PD shorter than 12 bytes"
			}
			if _, bad := iaPrefixes(v[12:], nil); bad != "" {
				return bad
			}
			if q.nIAPD < maxIAPD {
				q.iapd[q.nIAPD] = v
				q.nIAPD++
			}
		}
	}
	return ""
}

// opt6 splits the first option off b.
func opt6(b []byte) (code uint16, v, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if len(b) < 4+n {
		return 0, nil, nil, false
	}
	return binary.BigEndian.Uint16(b[0:2]), b[4 : 4+n], b[4+n:], true
}

// iaAddrs calls f (when not nil) for each IAADDR's address in an IA_NA's
// sub-options and reports how many there were and whether they parsed.
func iaAddrs(b []byte, f func(netip.Addr)) (int, bool) {
	n := 0
	for len(b) > 0 {
		code, v, rest, ok := opt6(b)
		if !ok {
			return n, false
		}
		b = rest
		if code == o6IAAddr {
			if len(v) < 24 {
				return n, false
			}
			n++
			if f != nil {
				f(netip.AddrFrom16([16]byte(v[:16])))
			}
		}
	}
	return n, true
}

// iaPrefixes calls f (when not nil) for each IA Prefix in an IA_PD's
// sub-options, as the client wrote it (host bits and all), and reports
// how many there were, or why they do not parse.
func iaPrefixes(b []byte, f func(netip.Prefix)) (int, string) {
	n := 0
	for len(b) > 0 {
		code, v, rest, ok := opt6(b)
		if !ok {
			return n, "IA_PD option overruns the IA"
		}
		b = rest
		if code == o6IAPrefix {
			if len(v) < iaPrefixLen {
				return n, "IA Prefix shorter than 25 bytes"
			}
			if v[8] > 128 {
				return n, "IA Prefix longer than 128 bits"
			}
			n++
			if f != nil {
				f(netip.PrefixFrom(netip.AddrFrom16([16]byte(v[9:25])), int(v[8])))
			}
		}
	}
	return n, ""
}

func (r *Responder) respondDHCPv6(p *ip6, srcMAC net.HardwareAddr, l *Lease) Result {
	res := Result{Kind: KindDHCPv6Other}
	q := &r.q6
	if bad := q.parse(p.payload); bad != "" {
		res.Outcome, res.Reason = Malformed, bad
		return res
	}
	res.Kind, res.XID, res.ClientMAC = dhcp6Kind(q.msgType), q.xid, srcMAC
	if res.Kind == KindDHCPv6Other {
		res.Outcome, res.Reason = Unsupported, "not a client DHCPv6 message type"
		return res
	}
	if p.src.IsUnspecified() || p.src.IsMulticast() {
		res.Outcome, res.Reason = Malformed, "DHCPv6 source address unusable"
		return res
	}
	// RFC 8415 §16: which messages need or forbid the two identifiers.
	needServer := q.msgType == d6Request || q.msgType == d6Renew || q.msgType == d6Release || q.msgType == d6Decline
	forbidServer := q.msgType == d6Solicit || q.msgType == d6Rebind || q.msgType == d6Confirm
	switch {
	case q.clientID == nil && q.msgType != d6InfoRequest:
		res.Outcome, res.Reason = Malformed, "DHCPv6 message without Client ID"
		return res
	case forbidServer && q.hasServerID:
		res.Outcome, res.Reason = Malformed, "DHCPv6 message with a Server ID it must not carry"
		return res
	case needServer && !q.hasServerID:
		res.Outcome, res.Reason = Malformed, "DHCPv6 message without Server ID"
		return res
	case noLease(l) != "":
		res.Outcome, res.Reason = Ignored, noLease(l)
		return res
	case !l.MACSpoof && srcMAC != nil && !sameMAC(srcMAC, l.MAC):
		res.Outcome, res.Reason = Spoofed, "client MAC is not the binding's"
		return res
	case q.hasServerID && string(q.serverID) != string(r.serverDUID(l)):
		res.Outcome, res.Reason = Ignored, "message for another server"
		return res
	// IA_NA is served in mode dhcpv6 only, IA_PD in every mode: a
	// message that asks for no prefix needs the former.
	case q.msgType != d6InfoRequest && q.nIAPD == 0 && r.s.Mode != ModeDHCPv6:
		res.Outcome, res.Reason = Unsupported, "stateful DHCPv6 is off (mode is not dhcpv6)"
		return res
	case q.msgType != d6InfoRequest && q.nIAPD == 0 && !servesNA(&r.s, l):
		res.Outcome, res.Reason = Unsupported, "binding has no EUI64 address or IPv6 subnet"
		return res
	}

	status, statusMsg := -1, ""
	if q.msgType == d6Confirm {
		n, onLink := 0, true
		for _, ia := range q.iana[:q.nIANA] {
			k, _ := iaAddrs(ia[12:], func(a netip.Addr) {
				onLink = onLink && l.Subnet6.Contains(a)
			})
			n += k
		}
		if n == 0 {
			// RFC 8415 §18.3.3: no addresses, no reply.
			res.Outcome, res.Reason = Ignored, "Confirm without addresses"
			return res
		}
		status, statusMsg = stSuccess, "addresses on link"
		if !onLink {
			status, statusMsg = stNotOnLink, "address not on link"
		}
	}
	if q.msgType == d6Release || q.msgType == d6Decline {
		status, statusMsg = stSuccess, "ok"
	}
	res.Outcome = Answered
	res.Frame, res.LeftOut = r.build6(p, q, l, srcMAC, status, statusMsg)
	res.Delegation = r.delegation
	if res.Delegation.Op != NoDelegation {
		res.Delegation.NextHop = p.src
	}
	return res
}

// servesNA reports whether IA_NA gets the binding's address: in mode
// dhcpv6, for a binding with EUI64 and SUBNET6.
func servesNA(s *Settings, l *Lease) bool {
	return s.Mode == ModeDHCPv6 && l.EUI64.Is6() && l.Subnet6.Addr().Is6()
}

// delegated reports whether the binding delegates p (as a client wrote
// it: a prefix with host bits set is not the binding's).
func delegated(l *Lease, p netip.Prefix) bool {
	for _, d := range l.Delegated {
		if d == p {
			return true
		}
	}
	return false
}

// walkIAAddrs is iaAddrs for sub-options already checked by parse.
func walkIAAddrs(b []byte, f func(netip.Addr)) { iaAddrs(b, f) }

// serverDUID is the configured DUID, else DUID-LL (RFC 8415 §11.4) of the
// TAP's MAC: stable across replies and restarts. It aliases r.duid.
func (r *Responder) serverDUID(l *Lease) []byte {
	if len(r.s.ServerDUID) > 0 {
		return r.s.ServerDUID
	}
	r.duid = [10]byte{0, 3, 0, 1}
	copy(r.duid[4:], l.TAPMAC)
	return r.duid[:]
}

// w6 appends DHCPv6 options to a reply, dropping those that do not fit.
type w6 struct {
	b   []byte
	n   int
	lim int
}

func (w *w6) opt(code uint16, v []byte) {
	if w.n+4+len(v) > w.lim {
		return
	}
	binary.BigEndian.PutUint16(w.b[w.n:], code)
	binary.BigEndian.PutUint16(w.b[w.n+2:], uint16(len(v)))
	copy(w.b[w.n+4:], v)
	w.n += 4 + len(v)
}

// begin opens an option whose payload the caller writes; end closes it.
func (w *w6) begin(code uint16) int {
	if w.n+4 > w.lim {
		return -1
	}
	binary.BigEndian.PutUint16(w.b[w.n:], code)
	w.n += 4
	return w.n - 4
}

func (w *w6) end(at int) {
	if at >= 0 {
		binary.BigEndian.PutUint16(w.b[at+2:], uint16(w.n-at-4))
	}
}

func (w *w6) u32(v uint32) {
	if w.n+4 <= w.lim {
		binary.BigEndian.PutUint32(w.b[w.n:], v)
		w.n += 4
	}
}

func (w *w6) bytes(v []byte) {
	if w.n+len(v) <= w.lim {
		copy(w.b[w.n:], v)
		w.n += len(v)
	}
}

func (w *w6) status(code int, msg string) {
	at := w.begin(o6StatusCode)
	if at < 0 {
		return
	}
	if w.n+2+len(msg) > w.lim {
		w.n = at
		return
	}
	binary.BigEndian.PutUint16(w.b[w.n:], uint16(code))
	copy(w.b[w.n+2:], msg)
	w.n += 2 + len(msg)
	w.end(at)
}

// build6 writes the reply within the buffer and the link MTU; the DNS
// servers, then the search domains, take the room left, in order.
func (r *Responder) build6(p *ip6, q *dhcp6Request, l *Lease, srcMAC net.HardwareAddr, status int, statusMsg string) ([]byte, LeftOut) {
	const off = ethLen + ip6Len + udpLen
	w := w6{b: r.buf[off:], lim: ipLimit(l, minMTU6) - ip6Len - udpLen}
	mt := byte(d6Reply)
	if q.msgType == d6Solicit && !q.rapidCommit {
		mt = d6Advertise
	}
	w.b[0] = mt
	w.b[1], w.b[2], w.b[3] = byte(q.xid>>16), byte(q.xid>>8), byte(q.xid)
	w.n = 4
	w.opt(o6ServerID, r.serverDUID(l))
	if q.clientID != nil {
		w.opt(o6ClientID, q.clientID)
	}
	if q.msgType == d6Solicit && q.rapidCommit {
		w.opt(o6RapidCommit, nil) // RFC 8415 §18.3.1
	}
	r.delegation = Delegation{}
	switch q.msgType {
	case d6Solicit, d6Request, d6Renew, d6Rebind:
		if q.nIANA == 0 && q.nIAPD == 0 {
			w.status(stNoAddrsAvail, "no IA_NA requested")
		}
		lease, t1, t2 := leaseTimers(&r.s)
		na := servesNA(&r.s, l)
		for i, ia := range q.iana[:q.nIANA] {
			at := w.begin(o6IANA)
			w.bytes(ia[:4]) // IAID
			if i > 0 || !na {
				// One address per binding: it goes to the first IA_NA;
				// none at all but in mode dhcpv6 (the request is here
				// for its IA_PD).
				w.u32(0)
				w.u32(0)
				switch {
				case r.s.Mode != ModeDHCPv6:
					w.status(stNoAddrsAvail, "addresses by SLAAC (mode is not dhcpv6)")
				case !na:
					w.status(stNoAddrsAvail, "no EUI64 address for this VM")
				default:
					w.status(stNoAddrsAvail, "one address per VM")
				}
				w.end(at)
				continue
			}
			w.u32(t1)
			w.u32(t2)
			r.iaAddr(&w, l.EUI64, lease, lease)
			// RFC 8415 §18.3.4-5: addresses the client holds that are not
			// the binding's get zero lifetimes, so it drops them.
			walkIAAddrs(ia[12:], func(a netip.Addr) {
				if a != l.EUI64 {
					r.iaAddr(&w, a, 0, 0)
				}
			})
			w.end(at)
		}
		r.buildIAPD(&w, q, l)
	case d6Release:
		r.releaseIAPD(&w, q, l)
	}
	if status >= 0 {
		w.status(status, statusMsg)
	}
	var left LeftOut
	ns := l.Nameservers6
	if len(ns) == 0 {
		ns = r.s.Nameservers6
	}
	left.Nameservers = len(ns)
	if at := w.begin(o6DNS); at >= 0 {
		for _, a := range ns {
			if a.Is6() && !a.Is4In6() && w.n+16 <= w.lim {
				v := a.As16()
				w.bytes(v[:])
				left.Nameservers--
			}
		}
		if w.n == at+4 {
			w.n = at
		} else {
			w.end(at)
		}
	}
	doms, one := r.domains6(l)
	left.Domains = len(doms)
	if one != "" {
		left.Domains = 1
	}
	if at := w.begin(o6Domains); at >= 0 {
		b := w.b[w.n:w.n:w.lim]
		var ok bool
		if one != "" {
			if b, ok = appendName(b, one, cap(b)); ok {
				left.Domains--
			}
		}
		for _, d := range doms {
			if b, ok = appendName(b, d, cap(b)); ok {
				left.Domains--
			}
		}
		if len(b) == 0 {
			w.n = at
		} else {
			w.n += len(b)
			w.end(at)
		}
	}

	dmac := srcMAC
	if dmac == nil {
		dmac = l.MAC
	}
	putEthernet(r.buf[:], dmac, l.TAPMAC, etherV6)
	putUDPHeader(r.buf[ethLen+ip6Len:], portDHCPv6Server, p.srcPort, w.n)
	putIPv6(r.buf[ethLen:], r.RouterAddress(l), p.src, protoUDP, dhcp6HopLimit, udpLen+w.n, 6)
	return r.buf[:off+w.n], left
}

// buildIAPD answers each IA_PD of a Solicit, Request, Renew or Rebind:
// every prefix of the binding goes to the first, for pd_lifetime; the
// others, and the first when the binding delegates none, get NoPrefixAvail.
// A Renew or Rebind's prefixes that are not the binding's (any longer)
// come back with lifetimes 0, so the VM drops them (RFC 8415 §18.3.4-5),
// in an IA_PD without a status.
// A Reply that gives prefixes is reported in r.delegation: the VM takes
// them.
func (r *Responder) buildIAPD(w *w6, q *dhcp6Request, l *Lease) {
	life, t1, t2 := pdTimers(&r.s)
	renewing := q.msgType == d6Renew || q.msgType == d6Rebind
	taking := q.msgType != d6Solicit || q.rapidCommit
	for i, ia := range q.iapd[:q.nIAPD] {
		at := w.begin(o6IAPD)
		w.bytes(ia[:4]) // IAID
		give := i == 0 && len(l.Delegated) > 0
		if give {
			w.u32(t1)
			w.u32(t2)
			n := 0
			for _, p := range l.Delegated {
				if r.iaPrefix(w, p, life, life) {
					n++
				}
			}
			if taking && n > 0 {
				r.delegation = Delegation{Op: Delegated, Prefixes: l.Delegated[:n], Valid: life}
			}
		} else {
			w.u32(0)
			w.u32(0)
		}
		dropped := 0
		if renewing {
			iaPrefixes(ia[12:], func(p netip.Prefix) {
				if !delegated(l, p) && r.iaPrefix(w, p, 0, 0) {
					dropped++
				}
			})
		}
		// An IA_PD that gives nothing says why, unless it takes prefixes
		// back: dhclient discards an IA_PD with a status, zero
		// lifetimes and all, and would hold on to them.
		switch {
		case dropped > 0:
		case len(l.Delegated) == 0:
			w.status(stNoPrefixAvail, "no prefix delegated to this VM")
		case i > 0:
			w.status(stNoPrefixAvail, "the prefixes go to the first IA_PD")
		}
		w.end(at)
	}
}

// releaseIAPD takes back the binding's prefixes a Release names, reported
// in r.delegation; an IA_PD that holds none of them is answered NoBinding
// (RFC 8415 §18.3.7).
func (r *Responder) releaseIAPD(w *w6, q *dhcp6Request, l *Lease) {
	r.pd = r.pd[:0]
	for _, ia := range q.iapd[:q.nIAPD] {
		ours := false
		iaPrefixes(ia[12:], func(p netip.Prefix) {
			if delegated(l, p) {
				ours = true
				if !slices.Contains(r.pd, p) {
					r.pd = append(r.pd, p)
				}
			}
		})
		if ours {
			continue
		}
		at := w.begin(o6IAPD)
		w.bytes(ia[:4])
		w.u32(0)
		w.u32(0)
		w.status(stNoBinding, "no prefix of this VM's in this IA_PD")
		w.end(at)
	}
	if len(r.pd) > 0 {
		r.delegation = Delegation{Op: Released, Prefixes: r.pd}
	}
}

// iaPrefix writes an IA Prefix option, or nothing when it does not fit,
// and reports which.
func (r *Responder) iaPrefix(w *w6, p netip.Prefix, preferred, valid uint32) bool {
	if w.n+4+iaPrefixLen > w.lim {
		return false
	}
	at := w.begin(o6IAPrefix)
	w.u32(preferred)
	w.u32(valid)
	w.b[w.n] = byte(p.Bits())
	w.n++
	a := p.Addr().As16()
	w.bytes(a[:])
	w.end(at)
	return true
}

func (r *Responder) iaAddr(w *w6, a netip.Addr, preferred, valid uint32) {
	if w.n+28 > w.lim {
		return
	}
	at := w.begin(o6IAAddr)
	v := a.As16()
	w.bytes(v[:])
	w.u32(preferred)
	w.u32(valid)
	w.end(at)
}
