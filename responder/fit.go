package responder

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Every reply is built to fit three bounds: the Responder's buffer, the
// link MTU, and for DHCPv4 the client's maximum message size. Lists that
// do not fit (DNS servers, search domains) are cut short in order, each
// element whole, rather than overflow; options that do not fit are left
// out whole. LeftOut counts what was cut, for the caller to log and count.

// Floors of the link MTU: every IPv4 host takes 576-byte datagrams (RFC
// 791; a DHCP client must, RFC 2131 §2), every IPv6 link carries 1280-byte
// packets (RFC 8200 §5). A binding's smaller MTU cannot be met anyway.
const (
	minMTU4 = 576
	minMTU6 = 1280
)

// ipLimit is the largest IP packet a reply to l may be: the binding's MTU,
// raised to the family's floor, within the buffer.
func ipLimit(l *Lease, floor int) int {
	n := frameCap - ethLen
	if l.MTU > 0 {
		n = min(n, max(int(l.MTU), floor))
	}
	return n
}

// LeftOut counts what one reply had no room for.
type LeftOut struct {
	Nameservers int // DNS servers: RDNSS, DHCPv6 option 23, DHCPv4 option 6
	Domains     int // search domains: DNSSL, DHCPv6 option 24, DHCPv4 option 119
	Options     int // other DHCPv4 options, each left out whole
}

// Any reports whether anything was left out.
func (o LeftOut) Any() bool { return o != LeftOut{} }

// wholeNames returns the length of the longest run of whole wire-form
// names at the start of b whose DHCPv4 encoding (RFC 3396) fits room, and
// how many names that run holds. b is appendName's output.
func wholeNames(b []byte, room int) (n, names int) {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] != 0 {
			j += 1 + int(b[j])
		}
		j++ // the root label
		if j > len(b) || encodedLen(j) > room {
			break
		}
		i, n, names = j, j, names+1
	}
	return n, names
}

// Unfit says, in words, what of l's DNS lists and options the replies
// leave out even at their largest: an RA, a DHCPv4 ACK to a client that
// takes a whole link MTU, and a DHCPv6 Reply to an Information-request
// (a VM without IP or SUBNET6 gets no DHCPv4 or RA, so none is built for
// it). It returns nil when everything fits. `nfdhcpd -t` and the binding
// log warn with it; it uses r's buffers like any reply.
func (r *Responder) Unfit(l *Lease) []string {
	c := *l
	// Sizes do not depend on the MACs; the checker has no TAP.
	if len(c.TAPMAC) != 6 {
		c.TAPMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	}
	if len(c.MAC) != 6 {
		c.MAC = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	}
	var out []string
	ns6 := c.Nameservers6
	if len(ns6) == 0 {
		ns6 = r.s.Nameservers6
	}
	doms, one := r.domains6(&c)
	domains6 := len(doms)
	if one != "" {
		domains6 = 1
	}
	if c.Subnet6.Addr().Is6() {
		_, left := r.buildRA(&c, allNodes, allNodesMAC)
		out = appendUnfit(out, "an RA", left, len(ns6), domains6, ipLimit(&c, minMTU6))
	}
	if c.IP.Is4() {
		q := dhcp4Request{msgType: dhcpRequest, xid: 1, ciaddr: c.IP, giaddr: netip.IPv4Unspecified(),
			mac: c.MAC, maxSize: 0xffff, prl: []byte{optDNS, optDomainSearch}}
		_, left := r.build4(&q, &c, dhcpAck)
		ns := c.Nameservers
		if len(ns) == 0 {
			ns = r.s.Nameservers
		}
		out = appendUnfit(out, "a DHCPv4 reply", left, len(ns), len(c.DomainSearch), ipLimit(&c, minMTU4))
	}
	p := ip6{src: routerLinkLocal(c.MAC), srcPort: 546}
	q := dhcp6Request{msgType: d6InfoRequest, clientID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 2}}
	_, left := r.build6(&p, &q, &c, c.MAC, -1, "")
	return appendUnfit(out, "a DHCPv6 reply", left, len(ns6), domains6, ipLimit(&c, minMTU6))
}

func appendUnfit(out []string, reply string, left LeftOut, servers, domains, packet int) []string {
	if !left.Any() {
		return out
	}
	var parts []string
	if left.Nameservers > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d DNS servers", left.Nameservers, servers))
	}
	if left.Domains > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d search domains", left.Domains, domains))
	}
	if left.Options > 0 {
		parts = append(parts, fmt.Sprintf("%d options", left.Options))
	}
	return append(out, fmt.Sprintf("%s of %d bytes has no room for %s", reply, packet, strings.Join(parts, ", ")))
}
