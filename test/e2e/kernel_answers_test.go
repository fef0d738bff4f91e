package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// Answers in the kernel: in tc steering the classifier answers RS and NS
// itself. What proves it is where the answers come from: the classifier's
// answered counters move, while the daemon, which logs every request it
// gets (-d), sees none and its marked counters stay.

// daemonRequests counts the requests of kind the daemon logged.
func daemonRequests(d *lab.Daemon, kind string) int {
	n := 0
	for _, line := range strings.Split(d.Log(), "\n") {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, " kind="+kind+" ") {
			n++
		}
	}
	return n
}

// askRouter runs rdisc6 and ndisc6 for GATEWAY6 and the router link-local
// in vm, and checks what they were told: the RA, and the TAP's MAC (mac)
// for both targets.
func askRouter(t *testing.T, vm *lab.VM, mac string) {
	t.Helper()
	askRouterAt(t, vm, mac, routerLinkLocal(t, mac))
}

// askRouterAt is askRouter for a router whose link-local address is rll
// ([ipv6] router_address).
func askRouterAt(t *testing.T, vm *lab.VM, mac, rll string) {
	t.Helper()
	out, err := vm.Rdisc6()
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, out)
	}
	expectLines(t, "rdisc6", out,
		"Stateful other conf. : Yes",
		"Source link-layer address: "+strings.ToUpper(mac),
		"Prefix : 2001:db8:aaaa:bbbb::/64",
		"MTU : 1450 bytes (valid)",
		"Recursive DNS server : 2001:db8:100::1",
		"Recursive DNS server : 2001:db8:200::2",
		"DNS search list : example.com",
		"from "+rll,
	)
	for _, target := range []string{"2001:db8:aaaa:bbbb::1", rll} {
		out, err := vm.Ndisc6(target)
		if err != nil {
			t.Fatalf("ndisc6 %s: %v\n%s", target, err, out)
		}
		expectLines(t, "ndisc6 "+target, out, "Target link-layer address: "+strings.ToUpper(mac))
	}
}

// answeredInKernel checks that since before the classifier answered at
// least rs RS and ns NS itself and passed none to the daemon, and the
// daemon got none.
func answeredInKernel(t *testing.T, l *lab.Lab, d *lab.Daemon, before loader.Stats, rs, ns uint64) {
	t.Helper()
	after := counters(t, l)
	if got := after.RS.Answered - before.RS.Answered; got < rs {
		t.Errorf("RS answered in the kernel: %d, want at least %d", got, rs)
	}
	if got := after.NS.Answered - before.NS.Answered; got < ns {
		t.Errorf("NS answered in the kernel: %d, want at least %d", got, ns)
	}
	if after.RS.Marked != before.RS.Marked || after.NS.Marked != before.NS.Marked {
		t.Errorf("RS/NS passed to the daemon: rs %d, ns %d", after.RS.Marked-before.RS.Marked, after.NS.Marked-before.NS.Marked)
	}
	if after.AnswerErrors != before.AnswerErrors {
		t.Errorf("answer errors: %d", after.AnswerErrors-before.AnswerErrors)
	}
	if d != nil && daemonRequests(d, "rs")+daemonRequests(d, "ns") != 0 {
		t.Errorf("the daemon got %d RS and %d NS", daemonRequests(d, "rs"), daemonRequests(d, "ns"))
	}
}

// rdisc6 and ndisc6 get their answers from the classifier, on a routed TAP
// (with the TAP's link-local or router_address as the router's) and on a
// bridge port (br_netfilter on and off), the frame redirected out of the
// TAP it came in on.
func TestKernelAnswers(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	forEachTCMode(t, func(t *testing.T, m steering) {
		for _, setup := range []string{"routed", "router_address", "bridge", "bridge_no_br_netfilter"} {
			t.Run(setup, func(t *testing.T) {
				l := lab.New(t)
				vm := l.AddVM("tap10", lab.SeedMAC)
				b := lab.SeedBinding
				settings := m.setup(l)
				rll := routerLinkLocal(t, vm.HostMAC())
				switch setup {
				case "bridge", "bridge_no_br_netfilter":
					l.Bridge("br0", setup == "bridge", "tap10")
					b = strings.Replace(b, "INDEV=tap10", "INDEV=br0", 1)
				case "router_address":
					rll = "fe80::1"
					settings = append(settings, "ipv6.router_address", rll)
				}
				conf, datapath := l.SeedConfig(settings...)
				lab.WriteBinding(datapath, "tap10", b)
				d := l.StartDaemon(conf)
				if !strings.Contains(d.Log(), "kernel_answers=rs|ns") {
					t.Errorf("the daemon does not log kernel_answers=rs|ns")
				}
				before := counters(t, l)
				askRouterAt(t, vm, vm.HostMAC(), rll)
				answeredInKernel(t, l, d, before, 1, 2)

				a, err := loader.PinnedAnswers(l.PinPath)
				if err != nil {
					t.Fatal(err)
				}
				if got := a[l.Ifindex("tap10")]; got.RA == nil || len(got.NA) != 2 {
					t.Errorf("pinned answers of tap10: RA %d bytes, %d NAs; want an RA and 2 NAs", len(got.RA), len(got.NA))
				}
			})
		}
	})
}

// The templates are pinned: with the daemon killed, or stopped (its rules
// gone), NS and RS are still answered. A binding removed while the daemon
// is down is answered until the next start, which removes its templates
// with its attachment: from then on nothing answers for it.
func TestKernelAnswersDaemonDown(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		d := l.StartDaemon(conf)

		d.Kill()
		before := counters(t, l)
		askRouter(t, vm, vm.HostMAC())
		answeredInKernel(t, l, nil, before, 1, 2)

		// Stopped: its rules are removed as it exits (under emulation
		// that may take longer than the daemon waits; TestTCRestart holds
		// it to that), and the classifier still answers.
		d = l.StartDaemon(conf)
		if _, err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		before = counters(t, l)
		askRouter(t, vm, vm.HostMAC())
		answeredInKernel(t, l, nil, before, 1, 2)

		// Removed while the daemon is down: still answered, by what the
		// last run left...
		if err := os.Remove(filepath.Join(datapath, "tap10")); err != nil {
			t.Fatal(err)
		}
		before = counters(t, l)
		askRouter(t, vm, vm.HostMAC())
		answeredInKernel(t, l, nil, before, 1, 2)

		// ...until the next start, which removes its entries and attachment.
		l.StartDaemon(conf)
		if a, err := loader.PinnedAnswers(l.PinPath); err != nil || len(a) != 0 {
			t.Errorf("pinned answers after the start: %v, %v; want none", a, err)
		}
		if n := attachments(t, l, "tap10", l.Ifindex("tap10")); n != 0 {
			t.Errorf("tap10 (binding removed): %d attachments", n)
		}
		// One try each: no answer is expected.
		if out, err := vm.Try(5*time.Second, "ndisc6", "-1", "-r", "1", "-w", "1000", "2001:db8:aaaa:bbbb::1", "eth0"); err == nil {
			t.Errorf("GATEWAY6 of a removed binding still answered:\n%s", out)
		}
		if out, err := vm.Try(5*time.Second, "rdisc6", "-1", "-r", "1", "-w", "1000", "eth0"); err == nil {
			t.Errorf("a removed binding still gets RAs:\n%s", out)
		}
	})
}

// A new MAC on the TAP rebuilds its templates: the router's link-local
// address, the SLLA and the TLLA follow it, still answered in the kernel.
func TestKernelAnswersTAPMACChange(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l, vm, d, _ := seedLab(t, m)
		askRouter(t, vm, vm.HostMAC())

		const newMAC = "02:00:5e:10:00:99"
		l.Host("ip", "link", "set", "tap10", "address", newMAC)
		hw, _ := net.ParseMAC(newMAC)
		deadline := time.Now().Add(lab.Within(5 * time.Second))
		for {
			a, err := loader.PinnedAnswers(l.PinPath)
			if err != nil {
				t.Fatal(err)
			}
			var tlla []string // each NA's Target Link-Layer Address
			for _, na := range a[l.Ifindex("tap10")].NA {
				tlla = append(tlla, net.HardwareAddr(na[80:86]).String())
			}
			if len(tlla) == 2 && tlla[0] == hw.String() && tlla[1] == hw.String() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("templates not rebuilt for the TAP's new MAC %s: the NAs carry %v", hw, tlla)
			}
			time.Sleep(20 * time.Millisecond)
		}
		before := counters(t, l)
		askRouter(t, vm, newMAC)
		answeredInKernel(t, l, d, before, 1, 2)
	})
}

// kernel_answers = no: every RS and NS goes to the daemon, as before, and
// no template is written.
func TestKernelAnswersOff(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l, vm, d, _ := seedLab(t, m, "kernel_answers", "no")
		if !strings.Contains(d.Log(), "kernel_answers=none") {
			t.Errorf("the daemon does not log kernel_answers=none")
		}
		before := counters(t, l)
		askRouter(t, vm, vm.HostMAC())
		after := counters(t, l)
		if after.RS.Answered != before.RS.Answered || after.NS.Answered != before.NS.Answered {
			t.Errorf("answered in the kernel with kernel_answers = no: rs %d, ns %d",
				after.RS.Answered-before.RS.Answered, after.NS.Answered-before.NS.Answered)
		}
		if after.RS.Marked-before.RS.Marked < 1 || after.NS.Marked-before.NS.Marked < 2 {
			t.Errorf("marked for the daemon: rs %d, ns %d; want at least 1 and 2",
				after.RS.Marked-before.RS.Marked, after.NS.Marked-before.NS.Marked)
		}
		if daemonRequests(d, "rs") < 1 || daemonRequests(d, "ns") < 2 {
			t.Errorf("the daemon got %d RS and %d NS, want at least 1 and 2", daemonRequests(d, "rs"), daemonRequests(d, "ns"))
		}
		if a, err := loader.PinnedAnswers(l.PinPath); err != nil || len(a) != 0 {
			t.Errorf("pinned answers with kernel_answers = no: %v, %v", a, err)
		}
	})
}

// An upgrade from the release before answers in the kernel (layout 2: its
// maps, program and TCX link left pinned on the TAP): the start recreates
// the pins, and RS and NS are answered by the classifier from then on.
func TestKernelAnswersAfterUpgrade(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		mac, _ := net.ParseMAC(lab.SeedMAC)
		pinLayout(t, 2, l.PinPath, l.HostNS, l.Ifindex("tap10"), "tap10", mac)
		d := l.StartDaemon(conf)
		if !strings.Contains(d.Log(), "pinned maps from another layout, recreating") {
			t.Errorf("the log does not say the layout-2 pins were recreated")
		}
		before := counters(t, l)
		askRouter(t, vm, vm.HostMAC())
		answeredInKernel(t, l, d, before, 1, 2)
		if n := attachments(t, l, "tap10", l.Ifindex("tap10")); n != 1 {
			t.Errorf("tap10: %d attachments, want 1", n)
		}
	})
}

// iptables steering is unchanged: kernel_answers (on by default) has no
// classifier to answer with, and the daemon answers every RS and NS.
func TestKernelAnswersIPTablesUnchanged(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "ndisc6")
	if !lab.Selected("NFDHCPD_E2E_STEERING", iptablesMode.name) {
		t.Skip("iptables steering is not among the selected modes")
	}
	_, vm, d, _ := seedLab(t, iptablesMode, "kernel_answers", "yes")
	askRouter(t, vm, vm.HostMAC())
	if daemonRequests(d, "rs") < 1 || daemonRequests(d, "ns") < 2 {
		t.Errorf("the daemon got %d RS and %d NS, want at least 1 and 2", daemonRequests(d, "rs"), daemonRequests(d, "ns"))
	}
}
