package responder

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
