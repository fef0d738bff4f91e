package responder

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// ICMPv6 types and NDP option types (RFC 4861, RFC 8106).
const (
	icmpRS = 133
	icmpRA = 134
	icmpNS = 135
	icmpNA = 136

	ndoptSLLA   = 1
	ndoptTLLA   = 2
	ndoptPrefix = 3
	ndoptMTU    = 5
	ndoptRDNSS  = 25
	ndoptDNSSL  = 31

	raFlagM      = 0x80
	raFlagO      = 0x40
	prefixFlagL  = 0x80
	prefixFlagA  = 0x40
	naFlagR      = 0x80
	naFlagS      = 0x40
	naFlagO      = 0x20
	curHopLimit  = 64
	ndpHopLimit  = 255
	infiniteLife = 0xffffffff
)

// ndOptions checks the option area of an NDP message (RFC 4861 §4.6: no
// zero lengths, nothing past the end) and returns the Source Link-Layer
// Address option's address, nil when absent.
func ndOptions(b []byte) (slla net.HardwareAddr, reason string) {
	for len(b) > 0 {
		if len(b) < 2 || b[1] == 0 || len(b) < int(b[1])*8 {
			return nil, "NDP option length invalid"
		}
		n := int(b[1]) * 8
		if b[0] == ndoptSLLA && slla == nil && n == 8 {
			slla = net.HardwareAddr(b[2:8:8])
		}
		b = b[n:]
	}
	return slla, ""
}

// checkMAC returns the client MAC to report (the NDP option's, else the
// Ethernet source) and whether it breaks the binding's MAC check.
func checkMAC(opt, src net.HardwareAddr, l *Lease) (net.HardwareAddr, bool) {
	mac := opt
	if mac == nil {
		mac = src
	}
	if l == nil || l.MACSpoof {
		return mac, false
	}
	spoofed := opt != nil && !sameMAC(opt, l.MAC) || src != nil && !sameMAC(src, l.MAC)
	return mac, spoofed
}

func (r *Responder) respondRS(p *ip6, srcMAC net.HardwareAddr, l *Lease) Result {
	res := Result{Kind: KindRS}
	m := p.payload
	// RFC 4861 §6.1.1 validity checks.
	if len(m) < 8 || p.hopLimit != ndpHopLimit || m[1] != 0 {
		res.Outcome, res.Reason = Malformed, "RS hop limit, code or length invalid"
		return res
	}
	slla, bad := ndOptions(m[8:])
	if bad != "" {
		res.Outcome, res.Reason = Malformed, bad
		return res
	}
	if p.src.IsUnspecified() && slla != nil {
		res.Outcome, res.Reason = Malformed, "RS from :: with a link-layer address"
		return res
	}
	var spoofed bool
	res.ClientMAC, spoofed = checkMAC(slla, srcMAC, l)
	switch {
	case noLease(l) != "":
		res.Outcome, res.Reason = Ignored, noLease(l)
	case spoofed:
		res.Outcome, res.Reason = Spoofed, "client MAC is not the binding's"
	case !l.Subnet6.Addr().Is6():
		res.Outcome, res.Reason = Ignored, "binding has no IPv6 subnet"
	default:
		dst, dmac := allNodes, allNodesMAC
		if p.src.IsLinkLocalUnicast() {
			dst, dmac = p.src, res.ClientMAC
			if dmac == nil {
				dmac = l.MAC
			}
		}
		res.Frame, res.LeftOut = r.buildRA(l, dst, dmac)
	}
	return res
}

// RouterAdvertisement builds the periodic unsolicited RA for l, to all
// nodes (ff02::1). The result is Ignored, with no frame, when the binding
// has no IPv6 subnet. The frame is valid until the next call on r.
func (r *Responder) RouterAdvertisement(l *Lease) Result {
	res := Result{Kind: KindRA}
	switch {
	case noLease(l) != "":
		res.Outcome, res.Reason = Ignored, noLease(l)
	case !l.Subnet6.Addr().Is6():
		res.Outcome, res.Reason = Ignored, "binding has no IPv6 subnet"
	default:
		res.Frame, res.LeftOut = r.buildRA(l, allNodes, allNodesMAC)
	}
	return res
}

// raFixed is the RA's header, SLLA, MTU and Prefix Information options:
// what every RA carries before the DNS options.
const raFixed = 16 + 8 + 8 + 32

// One RDNSS option holds 127 addresses (its length byte counts 8 octets)
// and one DNSSL 2032 bytes of names: more than any frame has room for, so
// one of each always carries all that fits. These fail to compile if the
// buffer ever grows past that.
const (
	_ uint = 127 - (frameCap-ethLen-ip6Len-raFixed-8)/16
	_ uint = 255*8 - 8 - (frameCap - ethLen - ip6Len - raFixed - 8)
)

// buildRA writes the RA within the buffer and the link MTU. The DNS
// servers, then the search domains, fill the room left in that order;
// what does not fit is counted in the LeftOut.
func (r *Responder) buildRA(l *Lease, dst netip.Addr, dmac net.HardwareAddr) ([]byte, LeftOut) {
	const off = ethLen + ip6Len
	m := r.buf[off : off+ipLimit(l, minMTU6)-ip6Len]
	routerLife, dnsLife := raTimers(&r.s)
	if l.Private {
		routerLife = 0 // like DHCPv4's missing option 3: not a default router
	}
	var flags byte
	switch r.s.Mode {
	case ModeSLAACDHCPv6:
		flags = raFlagO
	case ModeDHCPv6:
		flags = raFlagM | raFlagO
	}
	m[0], m[1], m[4], m[5] = icmpRA, 0, curHopLimit, flags
	binary.BigEndian.PutUint16(m[6:8], routerLife)
	clear(m[8:16]) // reachable time, retrans timer: unspecified
	n := 16

	m[n], m[n+1] = ndoptSLLA, 1
	copy(m[n+2:n+8], l.TAPMAC)
	n += 8
	if l.MTU > 0 {
		m[n], m[n+1], m[n+2], m[n+3] = ndoptMTU, 1, 0, 0
		binary.BigEndian.PutUint32(m[n+4:n+8], uint32(l.MTU))
		n += 8
	}
	pf := byte(prefixFlagL | prefixFlagA)
	if r.s.Mode == ModeDHCPv6 {
		pf = prefixFlagL
	}
	m[n], m[n+1], m[n+2], m[n+3] = ndoptPrefix, 4, byte(l.Subnet6.Bits()), pf
	binary.BigEndian.PutUint32(m[n+4:n+8], infiniteLife)
	binary.BigEndian.PutUint32(m[n+8:n+12], infiniteLife)
	clear(m[n+12 : n+16])
	pa := l.Subnet6.Masked().Addr().As16()
	copy(m[n+16:n+32], pa[:])
	n += 32

	var left LeftOut
	ns := l.Nameservers6
	if len(ns) == 0 {
		ns = r.s.Nameservers6
	}
	n, left.Nameservers = putRDNSS(m, n, ns, dnsLife)
	doms, one := r.domains6(l)
	n, left.Domains = putDNSSL(m, n, doms, one, dnsLife)

	putEthernet(r.buf[:], dmac, l.TAPMAC, etherV6)
	putIPv6(r.buf[ethLen:], r.RouterAddress(l), dst, protoICMPv6, ndpHopLimit, n, 2)
	return r.buf[:off+n], left
}

// putRDNSS writes an RDNSS option (RFC 8106 §5.1) at m[n:] with the
// addresses of ns that fit in m, in order. It returns the new end and how
// many addresses were left out.
func putRDNSS(m []byte, n int, ns []netip.Addr, life uint32) (end, left int) {
	room := max(len(m)-n-8, 0) / 16
	cnt := 0
	for _, a := range ns {
		if !a.Is6() || a.Is4In6() || cnt == room {
			left++
			continue
		}
		v := a.As16()
		copy(m[n+8+16*cnt:], v[:])
		cnt++
	}
	if cnt == 0 {
		return n, left
	}
	m[n], m[n+1], m[n+2], m[n+3] = ndoptRDNSS, byte(1+2*cnt), 0, 0
	binary.BigEndian.PutUint32(m[n+4:n+8], life)
	return n + 8 + 16*cnt, left
}

// putDNSSL writes a DNSSL option (RFC 8106 §5.2) at m[n:] with one (when
// set) and then doms, each name that fits in m, in order, the whole
// zero-padded to 8 octets. It returns the new end and how many names were
// left out.
func putDNSSL(m []byte, n int, doms []string, one string, life uint32) (end, left int) {
	var single [1]string
	if one != "" {
		single[0] = one
		doms = single[:]
	}
	if len(doms) == 0 {
		return n, 0
	}
	// Room for names: whole 8-octet units after the header, so that the
	// padding fits too.
	room := (len(m)-n)/8*8 - 8
	if room <= 0 {
		return n, len(doms)
	}
	b := m[n+8 : n+8 : n+8+room]
	for _, d := range doms {
		var ok bool
		if b, ok = appendName(b, d, room); !ok {
			left++
		}
	}
	if len(b) == 0 {
		return n, left
	}
	l8 := (8 + len(b) + 7) / 8
	clear(m[n+8+len(b) : n+l8*8])
	m[n], m[n+1], m[n+2], m[n+3] = ndoptDNSSL, byte(l8), 0, 0
	binary.BigEndian.PutUint32(m[n+4:n+8], life)
	return n + l8*8, left
}

// domains6 is the IPv6 search list: the binding's, else the [ipv6]
// domains, else the binding's (or [dhcp]) domain alone.
func (r *Responder) domains6(l *Lease) ([]string, string) {
	if len(l.DomainSearch) > 0 {
		return l.DomainSearch, ""
	}
	if len(r.s.Domains6) > 0 {
		return r.s.Domains6, ""
	}
	if l.Domain != "" {
		return nil, l.Domain
	}
	return nil, r.s.Domain
}

func (r *Responder) respondNS(p *ip6, srcMAC net.HardwareAddr, l *Lease) Result {
	res := Result{Kind: KindNS}
	m := p.payload
	// RFC 4861 §7.1.1 validity checks.
	if len(m) < 24 || p.hopLimit != ndpHopLimit || m[1] != 0 {
		res.Outcome, res.Reason = Malformed, "NS hop limit, code or length invalid"
		return res
	}
	target := netip.AddrFrom16([16]byte(m[8:24]))
	if target.IsMulticast() {
		res.Outcome, res.Reason = Malformed, "NS target is multicast"
		return res
	}
	slla, bad := ndOptions(m[24:])
	if bad != "" {
		res.Outcome, res.Reason = Malformed, bad
		return res
	}
	dad := p.src.IsUnspecified()
	if dad && (slla != nil || !isSolicitedNode(p.dst)) {
		res.Outcome, res.Reason = Malformed, "DAD NS with a link-layer address or not to solicited-node"
		return res
	}
	var spoofed bool
	res.ClientMAC, spoofed = checkMAC(slla, srcMAC, l)
	if bad := noLease(l); bad != "" {
		res.Outcome, res.Reason = Ignored, bad
		return res
	}
	if spoofed {
		res.Outcome, res.Reason = Spoofed, "client MAC is not the binding's"
		return res
	}
	router := r.routerOwns(l, target)
	if l.Bridged && !router {
		// Another VM or host on the bridge answers for itself. A proxied NA
		// would point the VM at the TAP's MAC, which the bridge keeps as a
		// local address and hands to the hypervisor's stack, never to that
		// host; and an NS or DAD probe stopped here would never reach it.
		res.Outcome, res.Reason = Passed, "bridged: target is not the router's, left to the bridge"
		return res
	}
	if !l.Subnet6.Addr().Is6() {
		res.Outcome, res.Reason = Ignored, "binding has no IPv6 subnet"
		return res
	}
	rll := r.RouterAddress(l)
	switch {
	case dad && !router:
		// The target may be any of the VM's addresses (EUI-64, privacy,
		// stable-privacy): answering would fail its DAD.
		res.Outcome, res.Reason = Ignored, "DAD probe for an address the router does not own"
		return res
	case target == l.EUI64:
		res.Outcome, res.Reason = Ignored, "target is the VM's own address"
		return res
	case !router && !l.Subnet6.Contains(target):
		res.Outcome, res.Reason = Ignored, "target outside the binding's subnet"
		return res
	}

	// R: we are the router. S: a solicited answer, except to DAD (RFC 4861
	// §7.2.4). O: override for the router's own addresses, not for proxied
	// ones (§7.2.8).
	flags := byte(naFlagR)
	dst, dmac := allNodes, allNodesMAC
	if !dad {
		flags |= naFlagS
		dst, dmac = p.src, res.ClientMAC
		if dmac == nil {
			dmac = l.MAC
		}
	}
	// Like Linux: the router's own addresses answer from themselves (tools
	// such as ndisc6 match the reply's source to the target), proxied ones
	// from the router's link-local address.
	src := rll
	if router {
		flags |= naFlagO
		src = target
	}
	const off = ethLen + ip6Len
	a := r.buf[off : off+32]
	a[0], a[1], a[4] = icmpNA, 0, flags
	clear(a[5:8])
	copy(a[8:24], m[8:24])
	a[24], a[25] = ndoptTLLA, 1
	copy(a[26:32], l.TAPMAC)
	putEthernet(r.buf[:], dmac, l.TAPMAC, etherV6)
	putIPv6(r.buf[ethLen:], src, dst, protoICMPv6, ndpHopLimit, 32, 2)
	res.Frame = r.buf[:off+32]
	return res
}

// isSolicitedNode reports whether a is in ff02::1:ff00:0/104.
// routerOwns reports whether a is one of the router's own addresses on
// l's TAP, GATEWAY6 and the router link-local (RouterAddress): the targets
// answered on every TAP, bridged or routed. A binding without SUBNET6 has
// no IPv6 router.
func (r *Responder) routerOwns(l *Lease, a netip.Addr) bool {
	return l.Subnet6.Addr().Is6() && (a == l.Gateway6 || a == r.RouterAddress(l))
}

func isSolicitedNode(a netip.Addr) bool {
	b := a.As16()
	return b[0] == 0xff && b[1] == 0x02 && [9]byte(b[2:11]) == [9]byte{} && b[11] == 0x01 && b[12] == 0xff
}
