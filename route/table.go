// Package route routes each VM's delegated prefixes to it. When a VM takes
// a prefix by DHCPv6 (a Reply to its Request, Renew, Rebind or Rapid
// Commit Solicit), the host gets the route
//
//	PREFIX via <the VM's link-local address from that request> dev <TAP> proto 78
//
// which goes when the VM releases the prefix, its lifetime runs out, its
// binding no longer delegates it, or the binding or the TAP goes.
//
// The decision (Table, Plan) is pure: which routes should exist, from the
// prefixes taken and the bindings in force. Kernel is the thin netlink
// shell, and Owner the goroutine that feeds one to the other.
package route

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Proto is the rtm_protocol of every route nfdhcpd installs, so that its
// routes can be told apart from everyone else's, listed (ip -6 route show
// proto 78) and cleaned up at start. 78 ('N') is assigned to no one: the
// kernel's own list (RTPROT_* in linux/rtnetlink.h: 0-4, 8-18, 42, 84, 99,
// 186-192), iproute2's rt_protos, FRR (193-198) and BIRD (12) leave it
// free.
const Proto = 78

// Route is one delegated prefix routed to a VM: Prefix via NextHop, the
// VM's link-local address, out of the TAP with index Ifindex.
type Route struct {
	Prefix  netip.Prefix
	Ifindex int
	NextHop netip.Addr
}

func (r Route) String() string {
	return fmt.Sprintf("%s via %s dev %d", r.Prefix, r.NextHop, r.Ifindex)
}

// Lease is a prefix a VM has taken and holds until Expires (the zero time:
// never, an infinite lifetime).
type Lease struct {
	Route
	TAP     string // the TAP's name, for logs and the binding table
	Expires time.Time
}

// Justified reports whether the binding now in force on ifindex delegates
// p and may be routed (its TAP is not a bridge port).
type Justified func(ifindex int, p netip.Prefix) bool

// Table is the prefixes taken: at most one holder per prefix. It is not
// safe for concurrent use.
type Table struct {
	leases map[netip.Prefix]Lease
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{leases: map[netip.Prefix]Lease{}} }

// Take records that the VM on l's TAP took l's prefix (a Reply gave it),
// refreshing its lifetime when it already held it. It refuses, saying
// why, a next hop that is not link-local unicast (a VM asks from its
// link-local address, RFC 8415 §13), a prefix the binding on that TAP
// does not (any longer) delegate, and a prefix another TAP holds while its
// binding still delegates it: two bindings that name one prefix get one
// route, the first taker's.
func (t *Table) Take(l Lease, ok Justified) error {
	switch {
	case !l.NextHop.Is6() || !l.NextHop.IsLinkLocalUnicast():
		return fmt.Errorf("next hop %s is not a link-local address", l.NextHop)
	case !ok(l.Ifindex, l.Prefix):
		return fmt.Errorf("the binding on ifindex %d does not delegate %s", l.Ifindex, l.Prefix)
	}
	if o, held := t.leases[l.Prefix]; held && o.Ifindex != l.Ifindex && ok(o.Ifindex, o.Prefix) {
		return fmt.Errorf("%s is held by %s, whose binding delegates it too", l.Prefix, o.TAP)
	}
	t.leases[l.Prefix] = l
	return nil
}

// Release drops the prefix when the TAP with this ifindex holds it, and
// reports whether it did.
func (t *Table) Release(ifindex int, p netip.Prefix) bool {
	if o, held := t.leases[p]; held && o.Ifindex == ifindex {
		delete(t.leases, p)
		return true
	}
	return false
}

// Adopt takes over routes of ours found in the kernel at start (a daemon
// that stopped or crashed leaves them): those the bindings still justify
// are kept, as leases until expires (the lifetime the VM can hold them at
// most, since it took them before now); the rest are left for Plan to
// remove.
func (t *Table) Adopt(have []Route, ok Justified, tap func(ifindex int) string, expires time.Time) []Lease {
	var kept []Lease
	for _, r := range have {
		if _, held := t.leases[r.Prefix]; held || !r.NextHop.IsLinkLocalUnicast() || !ok(r.Ifindex, r.Prefix) {
			continue
		}
		l := Lease{Route: r, TAP: tap(r.Ifindex), Expires: expires}
		t.leases[r.Prefix] = l
		kept = append(kept, l)
	}
	return kept
}

// Prune drops the leases whose lifetime has run out by now and those no
// binding justifies any longer, and returns them.
func (t *Table) Prune(now time.Time, ok Justified) []Lease {
	var gone []Lease
	for p, l := range t.leases {
		if !l.Expires.IsZero() && !now.Before(l.Expires) || !ok(l.Ifindex, p) {
			gone = append(gone, l)
			delete(t.leases, p)
		}
	}
	sortLeases(gone)
	return gone
}

// Leases returns the leases held, sorted by prefix.
func (t *Table) Leases() []Lease {
	out := make([]Lease, 0, len(t.leases))
	for _, l := range t.leases {
		out = append(out, l)
	}
	sortLeases(out)
	return out
}

// Next is when the first lease runs out; the zero time when none will.
func (t *Table) Next() time.Time {
	var next time.Time
	for _, l := range t.leases {
		if !l.Expires.IsZero() && (next.IsZero() || l.Expires.Before(next)) {
			next = l.Expires
		}
	}
	return next
}

// Changes are what the kernel must be told: routes to add, ours to
// replace (same prefix, new TAP or next hop), and ours to delete.
type Changes struct {
	Add, Replace, Delete []Route
}

// Empty reports whether there is nothing to do.
func (c Changes) Empty() bool { return len(c.Add)+len(c.Replace)+len(c.Delete) == 0 }

// Plan compares the routes the leases want with ours in the kernel (have)
// and says what to change: the kernel applies Delete first, then Replace
// and Add. A prefix the kernel holds twice (a route of ours with another
// metric, say) keeps the route that matches, or has the first replaced.
func Plan(want []Lease, have []Route) Changes {
	wanted := make(map[netip.Prefix]Route, len(want))
	for _, l := range want {
		wanted[l.Prefix] = l.Route
	}
	done := map[netip.Prefix]bool{} // a matching route is there, or will be
	for _, r := range have {
		if wanted[r.Prefix] == r {
			done[r.Prefix] = true
		}
	}
	var c Changes
	for _, r := range have {
		w, ok := wanted[r.Prefix]
		switch {
		case ok && w == r:
		case ok && !done[r.Prefix]:
			c.Replace = append(c.Replace, w)
			done[r.Prefix] = true
		default:
			c.Delete = append(c.Delete, r)
		}
	}
	for _, l := range want {
		if !done[l.Prefix] {
			c.Add = append(c.Add, l.Route)
		}
	}
	sortRoutes(c.Add)
	sortRoutes(c.Replace)
	sortRoutes(c.Delete)
	return c
}

func sortLeases(ls []Lease) {
	slices.SortFunc(ls, func(a, b Lease) int { return comparePrefix(a.Prefix, b.Prefix) })
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		if c := comparePrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		return a.Ifindex - b.Ifindex
	})
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
