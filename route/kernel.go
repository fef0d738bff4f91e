package route

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is where the routes live: the host's main IPv6 routing table,
// through Netlink, or a test's.
type Kernel interface {
	// List returns our routes (protocol Proto) in the main table.
	List() ([]Route, error)
	// Add adds a route, failing when one of the same prefix and metric,
	// ours or anyone's, is there: another's route is never overwritten.
	Add(Route) error
	// Replace replaces our route of the same prefix.
	Replace(Route) error
	// Delete deletes our route; one already gone is not an error.
	Delete(Route) error
}

// Netlink is Kernel over rtnetlink. Each call needs CAP_NET_ADMIN, which
// the daemon keeps after dropping root.
type Netlink struct {
	// Handle is the netlink handle, for another network namespace; nil
	// means the daemon's own.
	Handle *netlink.Handle
}

func (n Netlink) h() *netlink.Handle {
	if n.Handle != nil {
		return n.Handle
	}
	return &netlink.Handle{} // a socket per request, in this namespace
}

// List dumps the IPv6 routes of the main table and keeps ours.
func (n Netlink) List() ([]Route, error) {
	rs, err := n.h().RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of proto %d: %w", Proto, err)
	}
	var out []Route
	for _, r := range rs {
		if r.Dst == nil || len(r.MultiPath) > 0 {
			continue // not of the shape we install
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok1 := netip.AddrFromSlice(r.Dst.IP)
		gw, ok2 := netip.AddrFromSlice(r.Gw)
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, Route{Prefix: netip.PrefixFrom(a.Unmap(), ones), Ifindex: r.LinkIndex, NextHop: gw})
	}
	return out, nil
}

func (n Netlink) Add(r Route) error {
	if err := n.h().RouteAdd(nlRoute(r)); err != nil {
		return fmt.Errorf("add route %s: %w", r, err)
	}
	return nil
}

func (n Netlink) Replace(r Route) error {
	if err := n.h().RouteReplace(nlRoute(r)); err != nil {
		return fmt.Errorf("replace route %s: %w", r, err)
	}
	return nil
}

// Delete names the route whole, protocol included, so that the kernel
// deletes ours and never another's of the same prefix.
func (n Netlink) Delete(r Route) error {
	err := n.h().RouteDel(nlRoute(r))
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete route %s: %w", r, err)
	}
	return nil
}

func nlRoute(r Route) *netlink.Route {
	return &netlink.Route{
		Family:    netlink.FAMILY_V6,
		Table:     unix.RT_TABLE_MAIN,
		Protocol:  Proto,
		LinkIndex: r.Ifindex,
		Dst:       &net.IPNet{IP: r.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(r.Prefix.Bits(), 128)},
		Gw:        r.NextHop.AsSlice(),
	}
}
