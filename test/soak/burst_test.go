package soak

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// burstBinding is file i of the burst, with a given address.
func burstBinding(i int, ip string) string {
	return fmt.Sprintf("MAC=02:5b:00:%02x:%02x:%02x\nHOSTNAME=b%d\nIP=%s\nSUBNET=10.0.0.0/8\n", i>>16&0xff, i>>8&0xff, i&0xff, i, ip)
}

// tableMatches reports whether the daemon's table holds exactly want
// (TAP → IP), and how it differs when not.
func tableMatches(t *testing.T, l *lab.Lab, want map[string]string) (bool, string) {
	rows := bindingRows(t, l)
	if len(rows) != len(want) {
		return false, fmt.Sprintf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if ip, ok := want[r.TAP]; !ok || r.IP != ip || r.Error != "" {
			return false, fmt.Sprintf("row %+v, want IP %q", r, ip)
		}
	}
	return true, ""
}

// 20,000 binding files written in one burst overflow the watcher's queue:
// the daemon rescans, says so, and its table ends exactly equal to the
// folder; then half are removed and a quarter rewritten in another burst,
// with the same result.
func TestSoakBindingBurst(t *testing.T) {
	requireSoak(t)
	const n = 20000
	l, d, datapath := start(t)
	want := map[string]string{}
	ipOf := func(i, gen int) string { return fmt.Sprintf("10.%d.%d.%d", gen, i/250, i%250+2) }
	// Stopped, the daemon cannot drain its watch: the kernel's queue
	// (max_queued_events, 16384 by default) overflows for certain.
	d.Signal(syscall.SIGSTOP)
	begin := time.Now()
	for i := range n {
		name := fmt.Sprintf("b%05d", i)
		if err := lab.WriteBinding(datapath, name, burstBinding(i, ipOf(i, 1))); err != nil {
			d.Signal(syscall.SIGCONT)
			t.Fatal(err)
		}
		want[name] = ipOf(i, 1)
	}
	wrote := time.Since(begin)
	d.Signal(syscall.SIGCONT)
	var why string
	ok := waitEvery(time.Second, 120*time.Second, func() (ok bool) { ok, why = tableMatches(t, l, want); return })
	t.Logf("%d files written in %v (daemon stopped); the table matched the folder %v after the first write (polled each second)", n, wrote.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	if !ok {
		t.Fatalf("the table does not match the folder: %s", why)
	}
	if !strings.Contains(d.Log(), "inotify queue overflowed, reading the whole directory") {
		t.Errorf("no watcher overflow logged: the burst did not test the rescan")
	}

	begin = time.Now()
	for i := range n {
		name := fmt.Sprintf("b%05d", i)
		switch i % 4 {
		case 0, 1:
			os.Remove(filepath.Join(datapath, name))
			delete(want, name)
		case 2:
			if err := lab.WriteBinding(datapath, name, burstBinding(i, ipOf(i, 2))); err != nil {
				t.Fatal(err)
			}
			want[name] = ipOf(i, 2)
		}
	}
	ok = waitEvery(time.Second, 120*time.Second, func() (ok bool) { ok, why = tableMatches(t, l, want); return })
	t.Logf("10,000 removed and 5,000 rewritten: the table matched the folder %v after the first change (polled each second)", time.Since(begin).Round(time.Millisecond))
	if !ok {
		t.Fatalf("after removals and rewrites: %s", why)
	}
	if names := dirFiles(t, datapath); len(names) != len(want) {
		t.Fatalf("the folder has %d files, want %d", len(names), len(want))
	}
}

// A storm of link changes while the daemon cannot read (stopped) overruns
// its netlink socket: it relists every link, says so, and ends right — a
// TAP removed during the storm is deactivated, one created is served, one
// untouched is still served.
func TestSoakLinkStorm(t *testing.T) {
	requireSoak(t)
	const pairs = 1500
	l, d, datapath := start(t)
	w, err := newNSWorker(l.HostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	vm := func(i int) (string, net.HardwareAddr, net.IP) {
		tap, mac, ip, text := churnVM(i)
		if err := lab.WriteBinding(datapath, tap, text); err != nil {
			t.Fatal(err)
		}
		return tap, mac, ip
	}
	keep, keepMAC, keepIP := vm(1)
	gone, goneMAC, goneIP := vm(2)
	late, lateMAC, lateIP := vm(3)
	keepF, err := w.openTAP(keep)
	if err != nil {
		t.Fatal(err)
	}
	defer keepF.Close()
	goneF, err := w.openTAP(gone)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f   *os.File
		mac net.HardwareAddr
		ip  net.IP
	}{{keepF, keepMAC, keepIP}, {goneF, goneMAC, goneIP}} {
		if _, err := lease(c.f, c.mac, c.ip, 0x100, 5*time.Second); err != nil {
			t.Fatalf("before the storm: %v", err)
		}
	}

	batch := new(strings.Builder)
	for i := range pairs {
		fmt.Fprintf(batch, "link add st%da type veth peer name st%db\n", i, i)
	}
	batchFile := l.WriteFile("storm.batch", batch.String())
	d.Signal(syscall.SIGSTOP)
	begin := time.Now()
	l.Host("ip", "-batch", batchFile)
	goneF.Close()
	lateF, err := w.openTAP(late)
	if err != nil {
		d.Signal(syscall.SIGCONT)
		t.Fatal(err)
	}
	defer lateF.Close()
	t.Logf("%d links made while the daemon was stopped, in %v", 2*pairs, time.Since(begin).Round(time.Millisecond))
	d.Signal(syscall.SIGCONT)

	if !d.WaitLog("link watch restarting with a full listing", 20*time.Second) {
		t.Fatalf("no resync logged after the storm")
	}
	dt, err := lease(lateF, lateMAC, lateIP, 0x200, 10*time.Second)
	if err != nil {
		t.Fatalf("the TAP created during the storm: %v", err)
	}
	t.Logf("the TAP created during the storm was served %v after the daemon resumed", dt.Round(time.Millisecond))
	if _, err := lease(keepF, keepMAC, keepIP, 0x300, 5*time.Second); err != nil {
		t.Fatalf("the TAP untouched by the storm: %v", err)
	}
	var why string
	if !waitUntil(10*time.Second, func() bool {
		why = ""
		for _, r := range bindingRows(t, l) {
			if (r.TAP == gone) == r.Active {
				why += fmt.Sprintf(" %s active=%v", r.TAP, r.Active)
			}
		}
		return why == ""
	}) {
		t.Errorf("after the storm:%s (want only %s inactive)", why, gone)
	}
	if tcMode() {
		ifaces, err := loader.PinnedIfaces(l.PinPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(ifaces) != 2 {
			t.Errorf("ifaces map: %v, want the entries of %s and %s only", ifaces, keep, late)
		}
	}
}
