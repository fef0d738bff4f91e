package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// legacyIptables makes the daemon run iptables-legacy (through $PATH), as a
// host that never moved to nf_tables does, and returns the lab's command
// prefix for it. Legacy iptables serialises on the xtables lock, which
// every iptables -w waits for without end.
func legacyIptables(t *testing.T) []string {
	t.Helper()
	multi, err := exec.LookPath("xtables-legacy-multi")
	if err != nil {
		t.Skip("no iptables-legacy (xtables-legacy-multi) here: only it waits on the xtables lock")
	}
	bin := t.TempDir()
	os.Chmod(bin, 0o755)
	for _, name := range []string{"iptables", "ip6tables", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save"} {
		if err := os.Symlink(multi, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"env", "PATH=" + bin + ":" + os.Getenv("PATH")}
}

// holdXtablesLock takes the xtables lock, as an `iptables -L` resolving
// names or another hung iptables holds it, until the test ends or release
// is called. `ip netns exec` shares /run, so the lab's daemon waits on it.
func holdXtablesLock(t *testing.T) (release func()) {
	t.Helper()
	f, err := os.OpenFile("/run/xtables.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	release = func() { f.Close() }
	t.Cleanup(release)
	return release
}

// noChain checks that neither the nf_tables nor the legacy mangle table of
// the lab holds the daemon's chain.
func noChain(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, save := range []string{"iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"} {
		if _, err := exec.LookPath(save); err != nil {
			continue
		}
		if out, _ := l.HostTry(save, "-t", "mangle"); strings.Contains(out, "NFDHCPD") {
			t.Errorf("%s: the daemon's chain is left:\n%s", save, out)
		}
	}
}

// A start-up that cannot finish (legacy iptables waiting on an xtables
// lock another program holds) still obeys SIGTERM: the daemon stops within
// a second, kills the iptables it ran, and leaves no pidfile, chain or
// child behind. Before, signals were held until the set-up was done, and
// this one never was.
func TestStopDuringHungStart(t *testing.T) {
	wrap := legacyIptables(t)
	l := lab.New(t)
	conf, _ := l.SeedConfig(tcMode.setup(l)...)
	holdXtablesLock(t)
	l.Wrapper = wrap
	d := l.StartDaemonUntil(conf, `msg="classifier ready"`)
	time.Sleep(lab.Within(500 * time.Millisecond))
	if strings.Contains(d.Log(), "netfilter rules installed") {
		t.Fatalf("the rules were installed with the xtables lock held:\n%s", d.Log())
	}
	pidfile := filepath.Join(l.Dir, "run", "nfdhcpd.pid")
	if _, err := os.Stat(pidfile); err != nil {
		t.Fatalf("no pidfile while starting: %v", err)
	}
	took, err := d.Stop()
	if err != nil || took > lab.Within(time.Second) {
		t.Fatalf("SIGTERM during a hung start: exit %v after %v, want a clean exit within 1 s:\n%s", err, took, d.Log())
	}
	t.Logf("exit %v after SIGTERM", took)
	for _, want := range []string{`msg="stopping during start-up" signal=terminated`, "msg=stopped"} {
		if !strings.Contains(d.Log(), want) {
			t.Errorf("the log does not say %q:\n%s", want, d.Log())
		}
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left: %v", err)
	}
	if out, _ := exec.Command("ip", "netns", "pids", l.HostNS).Output(); strings.TrimSpace(string(out)) != "" {
		ps, _ := exec.Command("ps", "-o", "pid,ppid,stat,args", "-p", strings.Join(strings.Fields(string(out)), ",")).CombinedOutput()
		t.Errorf("processes left in the lab (the daemon's iptables?):\n%s", ps)
	}
	noChain(t, l)
}

// The slowest real start there is, thousands of TAPs with attach = tcx
// (an RCU grace period each), is stopped by SIGTERM within a second too.
// What it leaves is what a stop leaves: no rules, chain or pidfile, and
// for the classifier, each TAP attached so far with its map entry (the
// daemon's memory for the next start, which steers every TAP).
func TestStopDuringSlowStart(t *testing.T) {
	if rel, tcx := kernelRelease(t); !tcx {
		t.Skipf("TCX needs Linux 6.6 or later; this kernel is %s", rel)
	}
	lab.RequireTools(t, "tc")
	normalRCU(t)
	l := lab.New(t)
	conf, datapath := l.SeedConfig(append(tcMode.setup(l), "attach", "tcx")...)
	const n = 240
	var batch strings.Builder
	var taps []string
	for i := range n {
		tap := fmt.Sprintf("slow%d", i)
		taps = append(taps, tap)
		fmt.Fprintf(&batch, "tuntap add dev %[1]s mode tap\nlink set dev %[1]s up\n", tap)
		lab.WriteBinding(datapath, tap, lab.SeedBindingFor(tap, fmt.Sprintf("192.0.2.%d", 10+i), fmt.Sprintf("aa:6b:39:22:36:%02x", i), "slow-vm"))
	}
	l.Host("ip", "-batch", l.WriteFile("slow.batch", batch.String()))

	d := l.StartDaemonUntil(conf, `msg="bindings loaded"`)
	time.Sleep(200 * time.Millisecond) // into the attaching
	took, err := d.Stop()
	if err != nil || took > lab.Within(time.Second) {
		t.Fatalf("SIGTERM while attaching: exit %v after %v, want a clean exit within 1 s:\n%s", err, took, d.Log())
	}
	if strings.Contains(d.Log(), "msg=ready") {
		t.Fatalf("the start finished before SIGTERM: attaching %d TAPs was too fast to test this", n)
	}
	if !strings.Contains(d.Log(), `msg="stopping during start-up"`) {
		t.Errorf("no stop during start-up logged:\n%s", d.Log())
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "run", "nfdhcpd.pid")); !os.IsNotExist(err) {
		t.Errorf("pidfile left: %v", err)
	}
	noChain(t, l)
	entries := map[int]bool{}
	for _, k := range ifaceKeys(t, l) {
		entries[k] = true
	}
	attached := 0
	for _, tap := range taps {
		idx := l.Ifindex(tap)
		a := attachments(t, l, tap, idx)
		if a > 1 || a == 1 && !entries[idx] {
			t.Errorf("%s: %d attachments, map entry %v", tap, a, entries[idx])
		}
		attached += a
	}
	t.Logf("stopped after %v with %d of %d TAPs attached", took, attached, n)
	if attached == n {
		t.Errorf("every TAP was attached: the stop did not interrupt the attaching")
	}

	// The next start, with the default attach (the rest on cls_bpf at
	// once, as the bulk start does), steers every TAP.
	conf, _ = l.SeedConfig("steering", "tc", "bpf_pin_path", l.PinPath)
	// 240 TAPs: a second on the host, but a minute in make vmtest's VMs.
	d = l.StartDaemonWithin(conf, "msg=ready", 30*time.Second)
	m := regexp.MustCompile(`msg="classifier attached" taps=(\d+) tcx=(\d+) cls_bpf=(\d+)`).FindStringSubmatch(d.Log())
	if m == nil || m[1] != strconv.Itoa(n) || atoi(m[2])+atoi(m[3]) != n {
		t.Errorf("the next start did not steer every TAP (%q):\n%s", m, d.Log())
	}
}

// normalRCU turns off expedited RCU grace periods (the kernel's default)
// while the test runs, where the host has them on: with them a TCX attach
// takes 50 µs instead of 10-15 ms, and no start is slow.
func normalRCU(t *testing.T) {
	t.Helper()
	const knob = "/sys/kernel/rcu_expedited"
	b, err := os.ReadFile(knob)
	if err != nil || strings.TrimSpace(string(b)) == "0" {
		return
	}
	if err := os.WriteFile(knob, []byte("0"), 0o644); err != nil {
		t.Skipf("expedited RCU is on and cannot be turned off (%v): TCX attaches are too fast to test a slow start", err)
	}
	t.Logf("%s was %s: 0 while this test runs", knob, strings.TrimSpace(string(b)))
	t.Cleanup(func() { os.WriteFile(knob, b, 0o644) })
}

// The detached launcher is bounded: it gives up on a start that does not
// finish after --start-timeout, and obeys SIGTERM (here from `timeout`, as
// an init script's watchdog sends it). Either way it stops the daemon the
// orderly way, prints the daemon's last log line, and leaves neither
// process behind. Before, both stayed, the daemon as root, for good.
func TestLauncherBounded(t *testing.T) {
	for _, tt := range []struct {
		name    string
		command func(bin, conf string) []string
		within  time.Duration
		want    string
	}{
		{"start-timeout", func(bin, conf string) []string {
			return []string{bin, "-c", conf, "--start-timeout", "2s"}
		}, 2 * time.Second, "nfdhcpd: the daemon was not ready within 2s (--start-timeout), and was stopped; its last log line: "},
		{"SIGTERM", func(bin, conf string) []string {
			return []string{"timeout", "2", bin, "-c", conf}
		}, 2 * time.Second, "nfdhcpd: SIGTERM while the daemon was starting: it was stopped; its last log line: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wrap := legacyIptables(t)
			lab.RequireTools(t, "timeout")
			l := lab.New(t)
			conf, _ := l.SeedConfig(tcMode.setup(l)...)
			holdXtablesLock(t)
			pidfile := filepath.Join(l.Dir, "run", "nfdhcpd.pid")
			child := make(chan int, 1)
			go func() { // the daemon's pid, from its pidfile, while it hangs
				for range 100 {
					if b, err := os.ReadFile(pidfile); err == nil {
						if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
							child <- pid
							return
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				child <- 0
			}()
			start := time.Now()
			out, err := l.HostTry(append(wrap, tt.command(lab.Binary(t), conf)...)...)
			took := time.Since(start)
			t.Logf("the launcher returned after %v", took)
			pid := <-child
			if pid > 0 {
				t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
			}
			if err == nil {
				t.Fatalf("the launcher succeeded:\n%s", out)
			}
			// The bound, then the daemon's orderly stop (within a second).
			if took > lab.Within(tt.within+time.Second+500*time.Millisecond) {
				t.Errorf("the launcher returned after %v", took)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, `msg="classifier ready"`) {
				t.Errorf("launcher output:\n%s\nwant %q and the daemon's last line (classifier ready)", out, tt.want)
			}
			if pid == 0 {
				t.Fatal("no pidfile appeared while the daemon was starting")
			}
			if running(pid) {
				t.Errorf("the daemon (pid %d) is still running", pid)
			}
			if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
				t.Errorf("pidfile left: %v", err)
			}
			b, _ := os.ReadFile(filepath.Join(l.Dir, "log", "nfdhcpd.log"))
			if !strings.Contains(string(b), `msg="stopping during start-up" signal=terminated`) {
				t.Errorf("the daemon did not stop the orderly way:\n%s", b)
			}
			noChain(t, l)
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
