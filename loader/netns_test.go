package loader

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func shortID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// lab is a network namespace named nfdt-<id> that the calling test
// goroutine's thread is locked into until the test ends, plus a pin
// directory /sys/fs/bpf/nfdt-<id>. Every interface, filter, rule and pin
// the test makes lives in one of the two, and both are removed at the end,
// whatever happened: tests running beside us on this host see none of it.
type lab struct {
	id      string
	pinPath string
}

func newLab(t testing.TB) *lab {
	t.Helper()
	requireRoot(t)
	l := &lab{id: shortID(t)}
	name := "nfdt-" + l.id
	l.pinPath = filepath.Join(bpffsRoot, name)

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.NewNamed(name) // also switches this thread into it
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("create netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Pins first: unpinning TCX links detaches them.
		if err := os.RemoveAll(l.pinPath); err != nil {
			t.Errorf("remove %s: %v", l.pinPath, err)
		}
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it with the
			// goroutine rather than reuse it in the wrong namespace.
			t.Errorf("restore netns: %v", err)
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
	})
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// veth creates hostName <-> vmName, both up; hostName plays the TAP (its
// ingress is what the VM sends). The VM end has IPv6 off so that the
// kernel's own solicitations do not reach the TAP and disturb counts; the
// tests write the VM's frames themselves.
func (l *lab) veth(t testing.TB, hostName, vmName string, vmMAC net.HardwareAddr) (host, vm netlink.Link) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: vmName, PeerHardwareAddr: vmMAC}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatalf("add veth %s: %v", hostName, err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+vmName+"/disable_ipv6", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{hostName, vmName} {
		lnk, err := netlink.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(lnk); err != nil {
			t.Fatal(err)
		}
	}
	host, _ = netlink.LinkByName(hostName)
	vm, _ = netlink.LinkByName(vmName)
	return host, vm
}

func (l *lab) config(t testing.TB, mode AttachMode) Config {
	return Config{PinPath: l.pinPath, Attach: mode, Chain: "NFDT" + l.id, Logger: testLogger(t)}
}

func removePin(dir, name string) error { return os.Remove(filepath.Join(dir, name)) }

func pinNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
