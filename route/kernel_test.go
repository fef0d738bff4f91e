package route

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNetns makes a network namespace with two veth links up (the TAPs)
// and returns a netlink handle in it and the links' indexes; it is removed
// when the test ends.
func testNetns(t *testing.T) (*netlink.Handle, string, [2]int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("nfdt-rt%d", os.Getpid()%10000)
	exec.Command("ip", "netns", "del", name).Run() // left over from a killed run
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	var idx [2]int
	for i, n := range []string{"tap1", "tap2"} {
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n}, PeerName: n + "p"}); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n + "p"}}); err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		idx[i] = l.Attrs().Index
	}
	return h, name, idx
}

func ipRoutes(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-6", "route", "show", "proto", "78").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// Netlink installs exactly the documented route, lists only ours, and
// never overwrites nor deletes another's route for the same prefix.
func TestNetlink(t *testing.T) {
	h, ns, idx := testNetns(t)
	k := Netlink{Handle: h}
	a := Route{pA, idx[0], ll1}
	b := Route{pB, idx[1], ll2}
	for _, r := range []Route{a, b} {
		if err := k.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := ipRoutes(t, ns); got != "2001:db8:a::/48 via fe80::1 dev tap1 metric 1024 pref medium\n2001:db8:b::/56 via fe80::2 dev tap2 metric 1024 pref medium" {
		t.Errorf("ip -6 route show proto 78:\n%s", got)
	}
	// Someone else's route, beside ours, must be neither listed nor touched.
	other := &netlink.Route{LinkIndex: idx[1], Dst: &net.IPNet{IP: pC.Addr().AsSlice(), Mask: net.CIDRMask(64, 128)}, Protocol: 4}
	if err := h.RouteAdd(other); err != nil {
		t.Fatal(err)
	}
	got, err := k.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []Route{a, b}) {
		t.Errorf("List = %v", got)
	}
	if err := k.Add(Route{pC, idx[0], ll1}); err == nil || !strings.Contains(err.Error(), "add route 2001:db8:c::/64 via fe80::1 dev") {
		t.Errorf("adding over another's route: %v", err)
	}
	if err := k.Delete(Route{pC, idx[1], netip.Addr{}}); err != nil {
		t.Errorf("deleting ours where only another's is: %v", err)
	}
	if rs, _ := h.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Protocol: 4}, netlink.RT_FILTER_PROTOCOL); len(rs) != 1 {
		t.Errorf("another's route was touched: %v", rs)
	}
	moved := Route{pA, idx[1], ll2}
	if err := k.Replace(moved); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(b); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(b); err != nil {
		t.Errorf("deleting a route already gone: %v", err)
	}
	if got := ipRoutes(t, ns); got != "2001:db8:a::/48 via fe80::2 dev tap2 metric 1024 pref medium" {
		t.Errorf("after replace and delete:\n%s", got)
	}
}
