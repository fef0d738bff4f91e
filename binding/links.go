package binding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	Kind        string // "bridge", "tuntap", "veth", ... as netlink names it
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
			kind := LinksChanged
			if u.Header.Type == unix.RTM_DELLINK {
				kind = LinksRemoved
			}
			update(LinkUpdate{Kind: kind, Links: []Link{fromNetlink(u.Link)}})
		}
	}
}

func (n Netlink) list() ([]Link, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if n.Namespace != nil {
		h, err = netlink.NewHandleAt(*n.Namespace, unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
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
	return Link{
		Index:       a.Index,
		Name:        a.Name,
		MAC:         bytes.Clone(a.HardwareAddr),
		MasterIndex: a.MasterIndex,
		Kind:        l.Type(),
	}
}
