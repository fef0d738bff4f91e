package binding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Link is a network interface as the kernel reports it.
type Link struct {
	Index       int
	Name        string
	MAC         net.HardwareAddr
	MasterIndex int    // the bridge (or other master) this link is a port of; 0 when none
	Kind        string // as netlink names it ("tuntap", "veth", "bridge", "device" when the kernel gives none), but "tun" for a TUN-mode tuntap and "loopback" for lo
}

// ErrNotVMPort is wrapped by VMPort's error.
var ErrNotVMPort = errors.New("not a VM port")

// vmPortKinds are the kinds of link a VM's traffic comes in by: a TAP
// (QEMU, Firecracker, OpenNebula, Ganeti), a macvtap, and a veth (a
// container, and the labs' stand-in for a TAP). A binding is only ever
// activated on one of these. Anything else is the host's own: a file named
// eth0, br0, bond0 or lo would otherwise have the classifier drop other
// hosts' DHCP, RS and NS on the uplink, and RAs go out of it.
//
// An operator who needs another kind (a Xen vif, which reports none) would
// extend this set from a configuration key; there is none yet.
var vmPortKinds = map[string]bool{"tuntap": true, "macvtap": true, "veth": true}

// kindNames says what a link of a refused kind is, for VMPort's error.
var kindNames = map[string]string{
	"device":      "a physical device",
	"loopback":    "the loopback device",
	"bridge":      "a bridge",
	"openvswitch": "an Open vSwitch device",
	"bond":        "a bond",
	"team":        "a team device",
	"vlan":        "a VLAN",
	"macvlan":     "a macvlan device",
	"ipvlan":      "an ipvlan device",
	"vxlan":       "a VXLAN device",
	"dummy":       "a dummy device",
	"tun":         "a TUN device (layer 3, no Ethernet)",
	"":            "a link of unknown kind",
}

// VMPort returns nil when l is a VM port (see vmPortKinds), else an error
// naming the link and what it is: "eth0: a physical device, not a VM port".
func VMPort(l Link) error {
	if vmPortKinds[l.Kind] {
		return nil
	}
	what, ok := kindNames[l.Kind]
	if !ok {
		what = "a " + QuoteName(l.Kind) + " device"
		if strings.ContainsRune("aeiou", rune(l.Kind[0])) {
			what = "an" + what[1:]
		}
	}
	return fmt.Errorf("%s: %s, %w", QuoteName(l.Name), what, ErrNotVMPort)
}

func (l Link) equal(o Link) bool {
	return l.Index == o.Index && l.Name == o.Name && bytes.Equal(l.MAC, o.MAC) &&
		l.MasterIndex == o.MasterIndex && l.Kind == o.Kind
}

// LinkUpdateKind says what a LinkUpdate carries.
type LinkUpdateKind int

const (
	LinksListed  LinkUpdateKind = iota + 1 // Links is every link that exists: replace what was known
	LinksChanged                           // Links were added or changed
	LinksRemoved                           // Links were deleted
)

// LinkUpdate is one message from a LinkSource.
type LinkUpdate struct {
	Kind  LinkUpdateKind
	Links []Link
}

// LinkSource reports the host's links to a Store. WatchLinks first sends a
// LinksListed update, then changes, until ctx is done; after losing events
// it sends LinksListed again. Tests substitute their own source.
type LinkSource interface {
	WatchLinks(ctx context.Context, update func(LinkUpdate)) error
}

// Netlink is the LinkSource for the kernel's links, in Namespace when it is
// set, else in the caller's network namespace.
type Netlink struct {
	Namespace *netns.NsHandle
	Logger    *slog.Logger
}

// errResync ends one subscription so the next starts with a full listing.
var errResync = errors.New("link subscription lost events")

// WatchLinks subscribes to link changes, lists the existing links, and
// streams changes; when the subscription fails (a receive-buffer overrun
// closes it) it subscribes and lists again, so nothing stays stale.
func (n Netlink) WatchLinks(ctx context.Context, update func(LinkUpdate)) error {
	log := n.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		err := n.once(ctx, update)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("link watch restarting with a full listing", "err", err)
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
}

func (n Netlink) once(ctx context.Context, update func(LinkUpdate)) error {
	// Subscribe before listing: a change racing the listing then arrives
	// afterwards as an update and is applied on top, never lost.
	ch := make(chan netlink.LinkUpdate, 1024)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		Namespace:         n.Namespace,
		ReceiveBufferSize: 1 << 20,
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("subscribe to links: %w", err)
	}
	links, err := n.list()
	if err != nil {
		return err
	}
	update(LinkUpdate{Kind: LinksListed, Links: links})
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("%w: %v", errResync, err)
		case u, ok := <-ch:
			if !ok {
				return errResync
			}
			if u.Family == unix.AF_BRIDGE {
				// A bridge port's own notice (joining, leaving, port
				// state): it carries no kind, so the port would look
				// like a physical device, and leaving sends RTM_DELLINK
				// though the link stays. The link's general notice,
				// which follows, says all the store needs.
				continue
			}
			kind := LinksChanged
			if u.Header.Type == unix.RTM_DELLINK {
				kind = LinksRemoved
			}
			update(LinkUpdate{Kind: kind, Links: []Link{fromNetlink(u.Link)}})
		}
	}
}

func (n Netlink) handle() (*netlink.Handle, error) {
	var h *netlink.Handle
	var err error
	if n.Namespace != nil {
		h, err = netlink.NewHandleAt(*n.Namespace, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return h, nil
}

func (n Netlink) list() ([]Link, error) {
	h, err := n.handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	for try := 0; ; try++ {
		nl, err := h.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) && try < 5 {
			continue // links changed during the dump; ask again
		}
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		out := make([]Link, len(nl))
		for i, l := range nl {
			out[i] = fromNetlink(l)
		}
		return out, nil
	}
}

func fromNetlink(l netlink.Link) Link {
	a := l.Attrs()
	kind := l.Type()
	switch {
	case a.Flags&net.FlagLoopback != 0:
		kind = "loopback" // netlink gives lo no kind, like a physical device
	case kind == "tuntap":
		if t, ok := l.(*netlink.Tuntap); ok && t.Mode == netlink.TUNTAP_MODE_TUN {
			kind = "tun"
		}
	}
	return Link{
		Index:       a.Index,
		Name:        a.Name,
		MAC:         bytes.Clone(a.HardwareAddr),
		MasterIndex: a.MasterIndex,
		Kind:        kind,
	}
}

// LinkByName returns the link of this name as a Store sees it, for a
// one-off check (-t).
func (n Netlink) LinkByName(name string) (Link, error) {
	h, err := n.handle()
	if err != nil {
		return Link{}, err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return Link{}, err
	}
	return fromNetlink(l), nil
}
