package binding

import (
	"fmt"
	"net/netip"
)

// MaxDelegatedPrefixes bounds DELEGATED_PREFIX6: every prefix goes in one
// DHCPv6 reply (29 bytes each) and gets a host route.
const MaxDelegatedPrefixes = 16

// MaxDelegatedBits is the longest delegated prefix: a VM numbers whole
// links from it, and SLAAC needs a /64.
const MaxDelegatedBits = 64

// notDelegable are the ranges no VM may be routed: the host's own
// link-local and multicast traffic, and ::/8 (unspecified, loopback,
// IPv4-mapped). A route for one of them would take that traffic from the
// host; ::/0 or 8000::/1 would take its default route.
var notDelegable = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("::/8"), "reserved"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// parseDelegated parses DELEGATED_PREFIX6: a comma- or space-separated
// list of IPv6 prefixes, each /64 or shorter, none overlapping another.
func parseDelegated(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(v) {
		p, err := parsePrefix(f, 6)
		if err != nil {
			return nil, err
		}
		if p.Bits() > MaxDelegatedBits {
			return nil, fmt.Errorf("%s is longer than /%d", p, MaxDelegatedBits)
		}
		for _, n := range notDelegable {
			if p.Overlaps(n.p) {
				return nil, fmt.Errorf("%s overlaps %s (%s)", p, n.p, n.what)
			}
		}
		for _, o := range out {
			if p.Overlaps(o) {
				return nil, fmt.Errorf("%s overlaps %s, also delegated", p, o)
			}
		}
		out = append(out, p)
	}
	if len(out) > MaxDelegatedPrefixes {
		return nil, fmt.Errorf("%d prefixes, at most %d", len(out), MaxDelegatedPrefixes)
	}
	return out, nil
}
