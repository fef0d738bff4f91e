package binding

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
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

// drain takes the changes already queued.
func drain(ch <-chan Change) []Change {
	var out []Change
	for {
		select {
		case c := <-ch:
			out = append(out, c)
		case <-time.After(50 * time.Millisecond):
			return out
		}
	}
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

	// Leaving the bridge is an update, not a deactivation (the bridge's
	// own RTM_DELLINK for its port is not the link going away).
	drain(changes)
	if err := h.LinkSetNoMaster(port); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tap1 no longer bridged", func() bool {
		e := s.ByName("tap1")
		return e != nil && !e.Bridged
	})
	time.Sleep(100 * time.Millisecond)
	for _, c := range drain(changes) {
		if c.Kind != Updated || c.Entry.Binding.TAP != "tap1" {
			t.Errorf("leaving the bridge: change %v %s, want only updates of tap1", c.Kind, c.Entry.Binding.TAP)
		}
	}
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

// TestStoreNetlinkVMPorts: on real links, bindings named after a dummy
// "eth0", a bridge, lo and a TUN device are refused, while a TAP, a macvtap
// and a veth are bound; a veth re-created as a bridge is refused in turn.
func TestStoreNetlinkVMPorts(t *testing.T) {
	ns, h := testNetns(t, "vp")
	nsName := fmt.Sprintf("nfdt-vp%d", os.Getpid()%10000)
	try := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"-n", nsName}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
		return nil
	}
	ip := func(args ...string) {
		t.Helper()
		if err := try(args...); err != nil {
			t.Fatal(err)
		}
	}
	// A host-like device named eth0: a dummy where the kernel has the
	// driver, else an ifb (some test kernels build neither macvtap nor
	// dummy).
	host := "dummy"
	if try("link", "add", "eth0", "type", "dummy") != nil {
		host = "ifb"
		ip("link", "add", "eth0", "type", "ifb")
	}
	ip("link", "add", "br5", "type", "bridge")
	ip("tuntap", "add", "dev", "tun0", "mode", "tun")
	ip("tuntap", "add", "dev", "tap3", "mode", "tap")
	addVeth(t, h, "tap4", "vm4")
	names := []string{"eth0", "br5", "lo", "tun0", "tap3", "tap4"}
	if err := try("link", "add", "link", "eth0", "name", "mvtap0", "type", "macvtap"); err != nil {
		t.Logf("no macvtap here: %v", err)
	} else {
		names = append(names, "mvtap0")
	}

	dir := t.TempDir()
	for i, name := range names {
		writeFile(t, dir, name, bindingText(fmt.Sprintf("aa:00:00:00:02:%02x", i), ""))
	}
	s, changes := startStore(t, dir, Netlink{Namespace: &ns})
	active := []string{"activated tap3", "activated tap4"}
	if len(names) > 6 {
		active = append(active, "activated mvtap0")
	}
	nextChanges(t, changes, active...)
	noChange(t, changes)
	status := func() map[string]string {
		out := map[string]string{}
		for _, st := range s.Status() {
			switch {
			case st.Active:
				out[st.TAP] = "active " + s.ByName(st.TAP).TAP.Kind
			case st.Err != nil:
				out[st.TAP] = st.Err.Error()
			default:
				out[st.TAP] = "waiting: " + st.Waiting
			}
		}
		return out
	}
	want := map[string]string{
		"eth0": map[string]string{"dummy": "eth0: a dummy device, not a VM port", "ifb": "eth0: an ifb device, not a VM port"}[host],
		"br5":  "br5: a bridge, not a VM port",
		"lo":   "lo: the loopback device, not a VM port",
		"tun0": "tun0: a TUN device (layer 3, no Ethernet), not a VM port",
		"tap3": "active tuntap",
		"tap4": "active veth",
	}
	if len(names) > 6 {
		want["mvtap0"] = "active macvtap"
	}
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Errorf("Status = %v\nwant %v", got, want)
	}

	ip("link", "del", "tap4")
	nextChange(t, changes, Deactivated, "tap4")
	ip("link", "add", "tap4", "type", "bridge")
	want["tap4"] = "tap4: a bridge, not a VM port"
	waitFor(t, "tap4 refused as a bridge", func() bool { return status()["tap4"] == want["tap4"] })
	noChange(t, changes)
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Errorf("Status = %v\nwant %v", got, want)
	}
}
