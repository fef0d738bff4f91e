package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// tcModes are the steering modes that attach the classifier.
func tcModes(t *testing.T) []steering {
	var out []steering
	for _, m := range modes(t) {
		if m.name != "iptables" {
			out = append(out, m)
		}
	}
	return out
}

func forEachTCMode(t *testing.T, fn func(t *testing.T, m steering)) {
	for _, m := range tcModes(t) {
		t.Run(m.name, func(t *testing.T) { fn(t, m) })
	}
}

var attachRE = regexp.MustCompile(`msg=steering iface=(\S+) change=\S+ ifindex=\d+ attach=(\S*)`)

// attachMethod is the method the daemon last logged for tap: tcx or cls_bpf.
func attachMethod(d *lab.Daemon, tap string) string {
	m := ""
	for _, sm := range attachRE.FindAllStringSubmatch(d.Log(), -1) {
		if sm[1] == tap {
			m = sm[2]
		}
	}
	return m
}

// attachments counts the classifier's attachments on tap, both ways: pinned
// TCX links on its ifindex and cls_bpf filters named nfdhcpd on its ingress.
func attachments(t *testing.T, l *lab.Lab, tap string, ifindex int) int {
	t.Helper()
	links, err := lab.PinnedTCXLinks(l.PinPath, ifindex)
	if err != nil {
		t.Fatalf("pinned links: %v", err)
	}
	n := len(links)
	if out, err := l.HostTry("tc", "filter", "show", "dev", tap, "ingress"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " nfdhcpd ") || strings.HasSuffix(line, " nfdhcpd") {
				n++
				t.Logf("cls_bpf on %s: %s", tap, line)
			}
		}
	}
	return n
}

func ifaceKeys(t *testing.T, l *lab.Lab) []int {
	t.Helper()
	m, err := loader.PinnedIfaces(l.PinPath)
	if err != nil {
		t.Fatalf("pinned ifaces map: %v", err)
	}
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func counters(t *testing.T, l *lab.Lab) loader.Stats {
	t.Helper()
	c, err := loader.PinnedStats(l.PinPath)
	if err != nil {
		t.Fatalf("pinned stats map: %v", err)
	}
	return c
}

// The classifier is on the bound TAP only, the pinned map names the TAP's
// ifindex and MAC, and the counters move by exactly the requests made.
func TestTCState(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "tc")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		l.AddVM("tap11", "aa:00:00:00:00:11")
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		d := l.StartDaemon(conf)
		idx10, idx11 := l.Ifindex("tap10"), l.Ifindex("tap11")

		ifaces, err := loader.PinnedIfaces(l.PinPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(ifaces) != 1 || ifaces[idx10].String() != lab.SeedMAC {
			t.Fatalf("pinned ifaces = %v, want only ifindex %d → %s", ifaces, idx10, lab.SeedMAC)
		}
		if n := attachments(t, l, "tap10", idx10); n != 1 {
			t.Errorf("tap10 has %d attachments, want 1", n)
		}
		if n := attachments(t, l, "tap11", idx11); n != 0 {
			t.Errorf("unbound tap11 has %d attachments, want 0", n)
		}
		method := attachMethod(d, "tap10")
		if m.name == "tc-clsbpf" && method != "cls_bpf" {
			t.Errorf("attach = tc: method %q, want cls_bpf", method)
		}
		if method == "cls_bpf" {
			if out, err := l.HostTry("bpftool", "net", "show", "dev", "tap10"); err == nil && !strings.Contains(out, "nfdhcpd") {
				t.Errorf("bpftool net show dev tap10 does not show the classifier:\n%s", out)
			}
		}
		t.Logf("attach method on this kernel: %s", method)

		before := counters(t, l)
		if _, err := vm.UdhcpcTries(1); err != nil {
			t.Fatal(err)
		}
		after := counters(t, l)
		if got := after.DHCP.Marked - before.DHCP.Marked; got != 2 {
			t.Errorf("dhcp marked rose by %d, want 2 (DISCOVER, REQUEST)", got)
		}

		// Another MAC on the bound TAP: dropped in the kernel, counted.
		vm.Run("ip", "link", "set", "eth0", "address", "aa:6b:39:22:33:45")
		vm.UdhcpcTries(1)
		spoofed := counters(t, l)
		if got := spoofed.DHCP.Spoofed - after.DHCP.Spoofed; got != 1 {
			t.Errorf("dhcp spoofed rose by %d, want 1", got)
		}
		if spoofed.DHCP.Marked != after.DHCP.Marked {
			t.Errorf("a spoofed DISCOVER was marked")
		}
	})
}

// A restart reuses the pinned state: exactly one attachment per bound TAP,
// and whatever belonged to a binding deleted while the daemon was down is
// gone. The daemon's netfilter chain exists only while it runs.
func TestTCRestart(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "tc")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		l.AddVM("tap11", "aa:6b:39:22:33:11")
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		lab.WriteBinding(datapath, "tap11", lab.SeedBindingFor("tap11", "192.0.2.111", "aa:6b:39:22:33:11", "testing-vm"))
		idx10, idx11 := l.Ifindex("tap10"), l.Ifindex("tap11")

		d := l.StartDaemon(conf)
		if got := ifaceKeys(t, l); len(got) != 2 {
			t.Fatalf("pinned ifaces %v, want tap10 and tap11", got)
		}
		if took, err := d.Stop(); err != nil || took > lab.Within(time.Second) {
			t.Fatalf("SIGTERM: exit after %v, %v; want within 1 s", took, err)
		}
		if out := l.Host("iptables-save", "-t", "mangle"); strings.Contains(out, "NFDHCPD") {
			t.Errorf("the daemon's chain is left after exit:\n%s", out)
		}
		os.Remove(filepath.Join(datapath, "tap11"))

		for i := 0; i < 2; i++ {
			d = l.StartDaemon(conf)
			if got := ifaceKeys(t, l); len(got) != 1 || got[0] != idx10 {
				t.Errorf("restart %d: pinned ifaces %v, want only tap10 (%d)", i, got, idx10)
			}
			if n := attachments(t, l, "tap10", idx10); n != 1 {
				t.Errorf("restart %d: tap10 has %d attachments, want 1", i, n)
			}
			if n := attachments(t, l, "tap11", idx11); n != 0 {
				t.Errorf("restart %d: tap11, whose binding is gone, has %d attachments", i, n)
			}
			if rules := strings.Count(l.Host("iptables-save", "-t", "mangle"), "-j NFDHCPD"); rules != 1 {
				t.Errorf("restart %d: %d jumps to the daemon's chain, want 1", i, rules)
			}
			if _, err := vm.UdhcpcTries(2); err != nil {
				t.Fatalf("restart %d: %v", i, err)
			}
			d.Stop()
		}
	})
}

// kill -9 leaves the classifier and the rules behind: the VMs' traffic goes
// on (the rules carry --queue-bypass), and a restarted daemon serves again
// with exactly one attachment per TAP.
func TestTCKill9(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "ndisc6", "tc")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		d := l.StartDaemon(conf)
		d.Kill()

		// An NS is marked and steered to a queue nobody reads: bypassed, the
		// host's kernel answers for its own link-local address.
		hostLL := routerLinkLocal(t, vm.HostMAC())
		out, err := vm.Ndisc6(hostLL)
		if err != nil {
			t.Fatalf("with the daemon killed, an NS to the host did not get through: %v\n%s", err, out)
		}
		expectLines(t, "ndisc6", out, "Target link-layer address: "+strings.ToUpper(vm.HostMAC()))

		start := time.Now()
		l.StartDaemon(conf)
		if _, err := vm.UdhcpcTries(2); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		t.Logf("served again %v after the restart began", time.Since(start).Round(time.Millisecond))
		if n := attachments(t, l, "tap10", l.Ifindex("tap10")); n != 1 {
			t.Errorf("after kill -9 and restart: %d attachments, want 1", n)
		}
	})
}

// How long from a binding write to its TAP being steered: measured and
// logged (the README states it), never asserted.
func TestTCAttachLatency(t *testing.T) {
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		l.StartDaemon(conf)
		idx := l.Ifindex("tap10")
		var took []time.Duration
		for i := 0; i < 20; i++ {
			start := time.Now()
			lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
			for attachments(t, l, "tap10", idx) != 1 || len(ifaceKeys(t, l)) != 1 {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("write %d: not steered within 5 s", i)
				}
				time.Sleep(time.Millisecond)
			}
			took = append(took, time.Since(start))
			os.Remove(filepath.Join(datapath, "tap10"))
			for len(ifaceKeys(t, l)) != 0 {
				if time.Since(start) > 10*time.Second {
					t.Fatalf("delete %d: map entry not removed within 5 s", i)
				}
				time.Sleep(time.Millisecond)
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("binding write → attached and in the map: p50 %v, max %v (20 writes)",
			took[len(took)/2].Round(100*time.Microsecond), took[len(took)-1].Round(100*time.Microsecond))
	})
}

// A start with more TAPs than the loader attaches TCX to one by one
// (bulkTCX, 32) steers them all with cls_bpf at once, then moves them to
// TCX in the background, and a VM is served before and after the move. On
// a kernel without TCX they stay on cls_bpf.
func TestTCBulkStart(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "tc")
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	conf, datapath := l.SeedConfig(tcMode.setup(l)...)
	lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
	const extra = 40
	var batch strings.Builder
	taps := []string{"tap10"}
	for i := range extra {
		tap := fmt.Sprintf("blk%d", i)
		taps = append(taps, tap)
		fmt.Fprintf(&batch, "tuntap add dev %[1]s mode tap\nlink set dev %[1]s up\n", tap)
		mac := fmt.Sprintf("aa:6b:39:22:35:%02x", i)
		lab.WriteBinding(datapath, tap, lab.SeedBindingFor(tap, fmt.Sprintf("192.0.2.%d", 150+i), mac, "testing-vm"))
	}
	l.Host("ip", "-batch", l.WriteFile("bulk.batch", batch.String()))

	d := l.StartDaemon(conf)
	if !strings.Contains(d.Log(), "cls_bpf first, tcx in the background") {
		t.Errorf("a start with %d TAPs without tcx did not take the bulk path:\n%s", len(taps), d.Log())
	}
	// While a TAP moves, its TCX link is attached a moment before its filter
	// goes: one or two attachments then, never none.
	check := func(when string, most int) {
		t.Helper()
		for _, tap := range taps {
			if n := attachments(t, l, tap, l.Ifindex(tap)); n < 1 || n > most {
				t.Errorf("%s: %s has %d attachments, want 1 to %d", when, tap, n, most)
			}
		}
	}
	check("at ready", 2)
	if _, err := vm.UdhcpcTries(2); err != nil {
		t.Fatalf("at ready: %v", err)
	}

	var moved bool
	deadline := time.Now().Add(lab.Within(30 * time.Second))
	for {
		moved = strings.Contains(d.Log(), `msg="moved cls_bpf attachments to tcx"`)
		if moved || strings.Contains(d.Log(), `msg="tcx unsupported, staying on cls_bpf"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the move to tcx neither finished nor gave up:\n%s", d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	check("after the move", 1)
	for _, tap := range taps {
		links, err := lab.PinnedTCXLinks(l.PinPath, l.Ifindex(tap))
		if err != nil {
			t.Fatal(err)
		}
		if moved && len(links) != 1 {
			t.Errorf("%s: %d tcx links after the move, want 1", tap, len(links))
		}
		// The ingress qdisc the loader added for cls_bpf goes with it.
		if q := l.Host("tc", "qdisc", "show", "dev", tap, "ingress"); moved && strings.TrimSpace(q) != "" {
			t.Errorf("%s: qdisc left after the move to tcx: %s", tap, q)
		}
	}
	if _, err := vm.UdhcpcTries(2); err != nil {
		t.Fatalf("after the move: %v", err)
	}
}
