package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// checkBindings runs `nfdhcpd -t` on conf in the lab's host namespace,
// bounded: a check that hangs fails the test instead of stalling the suite.
func checkBindings(t *testing.T, l *lab.Lab, conf string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lab.Within(10*time.Second))
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.HostNS, lab.Binary(t), "-t", "-c", conf).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("nfdhcpd -t did not finish within 10s:\n%s", out)
	}
	return string(out), err
}

// A FIFO in datapath, there at start or made later, stops nothing: the
// daemon becomes ready and serves, and a binding written after the later
// FIFO and a SIGHUP (a full read of the folder) is followed. -t names it.
func TestFIFOInDatapath(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		if err := syscall.Mkfifo(filepath.Join(datapath, "tap11"), 0o644); err != nil {
			t.Fatal(err)
		}
		d := l.StartDaemon(conf) // waits a bounded time for ready
		if _, err := vm.UdhcpcTries(2); err != nil {
			t.Fatalf("not served with a FIFO beside its binding: %v", err)
		}
		if !strings.Contains(d.Log(), `level=WARN msg="not a regular file, ignored" part=bindings file=`+datapath+`/tap11`) {
			t.Errorf("no warning about the FIFO:\n%s", d.Log())
		}

		if err := syscall.Mkfifo(filepath.Join(datapath, "tap13"), 0o644); err != nil {
			t.Fatal(err)
		}
		d.Signal(syscall.SIGHUP)
		if !d.WaitLog("file="+datapath+"/tap13", lab.Within(2*time.Second)) {
			t.Fatalf("SIGHUP's full read did not reach the later FIFO:\n%s", d.Log())
		}
		vm12 := l.AddVM("tap12", "aa:6b:39:22:33:12")
		lab.WriteBinding(datapath, "tap12", lab.SeedBindingFor("tap12", "192.0.2.112", "aa:6b:39:22:33:12", "vm-twelve"))
		got, err := vm12.UdhcpcTries(2)
		if err != nil {
			t.Fatalf("a binding written after a FIFO and a SIGHUP is not served: %v", err)
		}
		want(t, "udhcpc tap12", got, map[string]string{"ip": "192.0.2.112", "hostname": "vm-twelve"})

		out, err := checkBindings(t, l, conf)
		if err == nil || !strings.Contains(out, datapath+"/tap11: a FIFO, not a regular file") {
			t.Errorf("-t with FIFOs in datapath: %v\n%s", err, out)
		}
	})
}

// addHostDevice makes a link named name in the lab's host namespace that
// stands for the host's own uplink: a dummy, else an ifb, else a bridge
// (whichever the kernel has), up, with IPv6 off so that the kernel itself
// sends nothing on it: what it sends is then the daemon's. It returns how the daemon describes it.
func addHostDevice(t *testing.T, l *lab.Lab, name string) string {
	t.Helper()
	what := ""
	for _, kind := range []struct{ kind, what string }{{"dummy", "a dummy device"}, {"ifb", "an ifb device"}, {"bridge", "a bridge"}} {
		args := []string{"ip", "link", "add", name, "type", kind.kind}
		if kind.kind == "bridge" {
			// Without snooping a bridge joins no multicast group of its
			// own, so it sends no IGMP report either.
			args = append(args, "mcast_snooping", "0")
		}
		if _, err := l.HostTry(args...); err == nil {
			what = kind.what
			break
		}
	}
	if what == "" {
		t.Fatalf("cannot make a link named %s", name)
	}
	l.Host("sysctl", "-qw", "net.ipv6.conf."+name+".disable_ipv6=1")
	l.Host("ip", "link", "set", name, "up")
	return what
}

// txPackets is what the host namespace's link has sent or dropped on the
// way out.
func txPackets(t *testing.T, l *lab.Lab, name string) int {
	t.Helper()
	n := 0
	for _, f := range []string{"tx_packets", "tx_dropped"} {
		v, err := strconv.Atoi(strings.TrimSpace(l.Host("cat", "/sys/class/net/"+name+"/statistics/"+f)))
		if err != nil {
			t.Fatal(err)
		}
		n += v
	}
	return n
}

// A binding file named after one of the host's own links (its uplink, a
// bridge, lo) is refused: no classifier is attached there, no RA is sent on
// it, the log, -t and the SIGUSR1 table say why, and the VMs are served.
func TestHostLinkNotBound(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "rdisc6")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		hosts := map[string]string{"eth0": addHostDevice(t, l, "eth0"), "lo": "the loopback device"}
		l.Host("ip", "link", "add", "br9", "type", "bridge", "mcast_snooping", "0")
		l.Host("sysctl", "-qw", "net.ipv6.conf.br9.disable_ipv6=1")
		l.Host("ip", "link", "set", "br9", "up")
		hosts["br9"] = "a bridge"
		// Unsolicited RAs every second, so that one sent on a wrong link
		// would show within the test.
		conf, datapath := l.SeedConfig(append(m.setup(l), "ipv6.ra_period", "1")...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		i := 0
		for name := range hosts {
			i++
			lab.WriteBinding(datapath, name, lab.SeedBindingFor(name, fmt.Sprintf("192.0.2.%d", 10+i), fmt.Sprintf("aa:6b:39:22:33:%02x", i), "host-"+strconv.Itoa(i)))
		}
		tx := map[string]int{}
		for name := range hosts {
			if name != "lo" {
				tx[name] = txPackets(t, l, name)
			}
		}
		d := l.StartDaemon(conf)
		got, err := vm.Udhcpc()
		if err != nil {
			t.Fatalf("the VM is not served beside refused bindings: %v", err)
		}
		want(t, "udhcpc", got, map[string]string{"ip": "192.0.2.100"})
		if out, err := vm.Rdisc6(); err != nil || !strings.Contains(out, "2001:db8:aaaa:bbbb::/64") {
			t.Errorf("rdisc6: %v\n%s", err, out)
		}
		for name, what := range hosts {
			msg := name + ": " + what + ", not a VM port"
			if !strings.Contains(d.Log(), `level=WARN msg="binding refused" part=bindings err="`+msg+`"`) {
				t.Errorf("the log does not say %q:\n%s", msg, d.Log())
			}
		}
		time.Sleep(lab.Within(2500 * time.Millisecond)) // two RA periods and more
		if !strings.Contains(d.Log(), `msg="periodic RA" part=ra iface=tap10`) {
			t.Errorf("no periodic RA to tap10 (the check below would prove nothing):\n%s", d.Log())
		}
		for name := range hosts {
			if strings.Contains(d.Log(), "iface="+name+" ") || strings.Contains(d.Log(), "iface="+name+"\n") {
				t.Errorf("the daemon acted on %s:\n%s", name, d.Log())
			}
			if before, ok := tx[name]; ok {
				if after := txPackets(t, l, name); after != before {
					t.Errorf("%s sent %d packets while the daemon ran", name, after-before)
				}
			}
			if m.name != "iptables" {
				if n := attachments(t, l, name, l.Ifindex(name)); n != 0 {
					t.Errorf("%s has %d classifier attachments, want none", name, n)
				}
			}
		}
		if m.name != "iptables" {
			if keys := ifaceKeys(t, l); len(keys) != 1 || keys[0] != l.Ifindex("tap10") {
				t.Errorf("pinned ifaces = %v, want only tap10's %d", keys, l.Ifindex("tap10"))
			}
		}

		out, err := checkBindings(t, l, conf)
		for name, what := range hosts {
			if !regexp.MustCompile(`(?m)^`+name+`\s+-\s+-\s+-\s+-\s+refused$`).MatchString(out) || !strings.Contains(out, "\n"+name+": "+what+", not a VM port\n") {
				t.Errorf("-t does not refuse %s as %s:\n%s", name, what, out)
			}
		}
		if err == nil {
			t.Errorf("-t passed with refused bindings:\n%s", out)
		}

		off := len(d.Log())
		d.Signal(syscall.SIGUSR1)
		if !d.WaitLog("\ntap10 ", lab.Within(2*time.Second)) {
			t.Fatalf("no binding table after SIGUSR1:\n%s", d.Log())
		}
		table := d.Log()[off:]
		for name, what := range hosts {
			if !regexp.MustCompile(`(?m)^` + name + `\s+rejected\s.*\s` + regexp.QuoteMeta(name+": "+what+", not a VM port") + `$`).MatchString(table) {
				t.Errorf("the SIGUSR1 table does not show %s refused:\n%s", name, table)
			}
		}
	})
}
