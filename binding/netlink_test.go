package binding

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNetns creates a network namespace named nfdt-<suffix> and removes it
// when the test ends, pass or fail.
func testNetns(t *testing.T, suffix string) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("nfdt-%s%d", suffix, os.Getpid()%10000)
	exec.Command("ip", "netns", "del", name).Run() // left over from a killed run
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return ns, h
}

func addVeth(t *testing.T, h *netlink.Handle, name, peer string) netlink.Link {
	t.Helper()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("%s: not within 3s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func TestStoreNetlink(t *testing.T) {
	ns, h := testNetns(t, "st")
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	writeFile(t, dir, "tap1", bindingText(macB, "INDEV=br0\n"))
	s, changes := startStore(t, dir, Netlink{Namespace: &ns})

	if st := s.Status(); st[0].Waiting != "no link tap0" {
		t.Errorf("before the TAP exists: %+v", st[0])
	}

	// Binding before TAP: the TAP appearing activates it.
	l := addVeth(t, h, "tap0", "vm0")
	c := nextChange(t, changes, Activated, "tap0")
	if c.Entry.TAP.Index != l.Attrs().Index || c.Entry.TAP.MAC.String() != l.Attrs().HardwareAddr.String() ||
		c.Entry.InDev.Index != l.Attrs().Index || c.Entry.Bridged || c.Entry.TAP.Kind != "veth" {
		t.Errorf("entry = %+v, link %+v", c.Entry, l.Attrs())
	}
	if s.ByIndex(l.Attrs().Index) != c.Entry {
		t.Error("ByIndex does not find the TAP")
	}

	// TAP removed.
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	nextChange(t, changes, Deactivated, "tap0")

	// TAP re-created: a new ifindex is followed.
	start := time.Now()
	l2 := addVeth(t, h, "tap0", "vm0")
	if l2.Attrs().Index == l.Attrs().Index {
		t.Fatalf("kernel reused ifindex %d", l.Attrs().Index)
	}
	c = nextChange(t, changes, Activated, "tap0")
	t.Logf("re-created TAP active %v after the link was requested", time.Since(start))
	if c.Entry.TAP.Index != l2.Attrs().Index || s.ByIndex(l.Attrs().Index) != nil {
		t.Errorf("re-created TAP: entry index %d, want %d", c.Entry.TAP.Index, l2.Attrs().Index)
	}

	// Bridge port: INDEV is the bridge, the TAP its port.
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := h.LinkAdd(br); err != nil {
		t.Fatalf("add bridge: %v", err)
	}
	brl, err := h.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	port := addVeth(t, h, "tap1", "vm1")
	if err := h.LinkSetMaster(port, brl); err != nil {
		t.Fatalf("enslave tap1: %v", err)
	}
	var bridged *Entry
	waitFor(t, "tap1 active as a bridge port", func() bool {
		bridged = s.ByName("tap1")
		return bridged != nil && bridged.Bridged
	})
	if bridged.InDev.Index != brl.Attrs().Index || bridged.TAP.MasterIndex != brl.Attrs().Index {
		t.Errorf("bridged entry = %+v", bridged)
	}
	mac, _ := net.ParseMAC(macB)
	if s.ByBridgeMAC(brl.Attrs().Index, mac) != bridged {
		t.Error("ByBridgeMAC does not find the bridge port")
	}

	// Leaving the bridge is an update, not a deactivation.
	if err := h.LinkSetNoMaster(port); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tap1 no longer bridged", func() bool {
		e := s.ByName("tap1")
		return e != nil && !e.Bridged
	})
	if s.ByBridgeMAC(brl.Attrs().Index, mac) != nil {
		t.Error("ByBridgeMAC still finds a port that left the bridge")
	}
}

// TestNetlinkListing: WatchLinks starts with a full listing that includes
// links created before it.
func TestNetlinkListing(t *testing.T) {
	ns, h := testNetns(t, "ls")
	addVeth(t, h, "tap9", "vm9")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan LinkUpdate, 1)
	go Netlink{Namespace: &ns}.WatchLinks(ctx, func(u LinkUpdate) {
		select {
		case got <- u:
		default:
		}
	})
	u := <-got
	if u.Kind != LinksListed {
		t.Fatalf("first update kind %d, want LinksListed", u.Kind)
	}
	names := map[string]bool{}
	for _, l := range u.Links {
		names[l.Name] = true
	}
	if !names["lo"] || !names["tap9"] || !names["vm9"] {
		t.Errorf("listing = %v", names)
	}
}
