package e2e

import (
	"fmt"
	"os"
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

// procStatus returns the lines of /proc/PID/status by field name.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// After start the daemon runs as [general] user with only the capabilities
// its steering mode needs, none inheritable or ambient (the iptables it
// runs at exit gets its own), and NO_NEW_PRIVS set.
func TestPrivileges(t *testing.T) {
	want := map[string]string{
		// CAP_NET_ADMIN (12), CAP_NET_RAW (13)
		"iptables": "0000000000003000",
		// + CAP_PERFMON (38), CAP_BPF (39)
		"tc":        "000000c000003000",
		"tc-clsbpf": "000000c000003000",
	}
	forEachMode(t, func(t *testing.T, m steering) {
		_, _, d, _ := seedLab(t, m)
		st := procStatus(t, d.Pid())
		if st["Uid"] != "65534 65534 65534 65534" || st["Gid"] != "65534 65534 65534 65534" {
			t.Errorf("Uid %q Gid %q, want nobody (65534) everywhere", st["Uid"], st["Gid"])
		}
		wantCaps(t, st, want[m.name])
	})
}

// wantCaps checks a daemon's /proc status after the privilege drop: caps
// permitted and effective, nothing inheritable or ambient, NO_NEW_PRIVS.
func wantCaps(t *testing.T, st map[string]string, caps string) {
	t.Helper()
	for k, want := range map[string]string{"CapEff": caps, "CapPrm": caps,
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"} {
		if st[k] != want {
			t.Errorf("%s = %s, want %s", k, st[k], want)
		}
	}
}

// A SIGTERM that comes while the daemon is still setting up (here: as
// soon as it has read the bindings, as its user) ends it the orderly way,
// not by the signal's default action with its rules left behind: the
// iptables that removes them runs after the privilege drop. Once it was
// caught only from ready on, and a 5.10 run under emulation hit the gap.
func TestSignalDuringStart(t *testing.T) {
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		d := l.StartDaemonUntil(conf, `msg="bindings loaded"`)
		took, err := d.Stop()
		if err != nil {
			t.Fatalf("SIGTERM during start: exit %v after %v, want a clean exit:\n%s", err, took, d.Log())
		}
		if !strings.Contains(d.Log(), "msg=stopped") {
			t.Errorf("no orderly stop logged:\n%s", d.Log())
		}
		if out := l.Host("iptables-save", "-t", "mangle"); strings.Contains(out, "NFDHCPD") {
			t.Errorf("the daemon's chain is left after exit:\n%s", out)
		}
	})
}

// SIGUSR1 logs the binding table; SIGTERM ends the daemon within a second.
func TestSignalsForeground(t *testing.T) {
	l, _, d, datapath := seedLab(t, iptablesMode)
	lab.WriteBinding(datapath, "tap12", "MAC=aa:6b:39:22:33:12\nHOSTNAME=later\n")
	time.Sleep(200 * time.Millisecond)
	d.Signal(syscall.SIGUSR1)
	if !d.WaitLog("no link tap12\n", 2*time.Second) {
		t.Fatalf("SIGUSR1: no table line for tap12:\n%s", d.Log())
	}
	for _, re := range []string{
		`msg="binding table" files=2 active=1`,
		`(?m)^TAP +STATE +IFINDEX +ATTACH +MAC +IP +IPV6 PREFIX +HOSTNAME +WHY$`,
		`(?m)^tap10 +active +\d+ +- +aa:6b:39:22:33:44 +192\.0\.2\.100 +2001:db8:aaaa:bbbb::/64 +testing-vm +-$`,
		`(?m)^tap12 +waiting +- +- +aa:6b:39:22:33:12 +- +- +later +no link tap12$`,
	} {
		if !regexp.MustCompile(re).MatchString(d.Log()) {
			t.Errorf("SIGUSR1 table: no line matching %s", re)
		}
	}
	took, err := d.Stop()
	if err != nil || took > lab.Within(time.Second) {
		t.Errorf("SIGTERM: exit after %v (%v), want within 1 s", took, err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "run", "nfdhcpd.pid")); !os.IsNotExist(err) {
		t.Errorf("pidfile left after exit: %v", err)
	}
}

// Without -f the daemon detaches once ready, logs to logdir, holds its
// pidfile against a second instance, reopens its log on SIGHUP (logrotate)
// and removes the pidfile at exit.
func TestDetached(t *testing.T) {
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	l.SeedRules()
	conf, datapath := l.SeedConfig("steering", "iptables")
	lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
	bin := lab.Binary(t)
	pidfile := filepath.Join(l.Dir, "run", "nfdhcpd.pid")
	logfile := filepath.Join(l.Dir, "log", "nfdhcpd.log")

	out, err := l.HostTry(bin, "-c", conf)
	if err != nil {
		t.Fatalf("detached start: %v\n%s", err, out)
	}
	pidText, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("no pidfile after a detached start: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !running(pid) {
		t.Fatalf("pidfile names %d, which is not running", pid)
	}
	if got, err := vm.UdhcpcTries(2); err != nil || got["ip"] != "192.0.2.100" {
		t.Fatalf("detached daemon does not serve: %v %v", got, err)
	}

	out, err = l.HostTry(bin, "-c", conf)
	want := fmt.Sprintf("nfdhcpd: pidfile %s: another nfdhcpd (pid %d) is running", pidfile, pid)
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("second instance: %v, output %q; want a refusal naming pid %d", err, out, pid)
	}

	if err := os.Rename(logfile, logfile+".1"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGHUP)
	waitFor(t, 2*time.Second, "log reopened after SIGHUP", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "SIGHUP")
	})
	if b, _ := os.ReadFile(logfile + ".1"); !strings.Contains(string(b), "msg=ready") {
		t.Errorf("the rotated log lost the start lines:\n%s", b)
	}

	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(t, lab.Within(time.Second), "exit within 1 s of SIGTERM", func() bool { return !running(pid) })
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left after exit: %v", err)
	}
}

// running reports whether pid is alive; a zombie (a detached daemon's
// parent is gone, and whoever inherited it may not reap it) is not.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A bad configuration is refused at start with exactly what -t reports.
func TestBadConfigRefused(t *testing.T) {
	l := lab.New(t)
	conf, _ := l.SeedConfig("dhcp.nameservers", "192.0.2.2, 2001:db8::1", "ipv6.mode", "stateless")
	bin := lab.Binary(t)
	check, err := exec.Command(bin, "-t", "-c", conf).CombinedOutput()
	if err == nil {
		t.Fatalf("-t accepted a bad configuration:\n%s", check)
	}
	out, err := l.HostTry(bin, "-f", "-c", conf)
	if err == nil {
		t.Fatalf("the daemon started with a bad configuration:\n%s", out)
	}
	for _, want := range []string{
		`[dhcp] nameservers: "2001:db8::1" is not IPv4`,
		`[ipv6] mode: "stateless"`,
	} {
		if !strings.Contains(out, want) || !strings.Contains(string(check), want) {
			t.Errorf("%q missing from the daemon's refusal or from -t:\ndaemon: %s\n-t: %s", want, out, check)
		}
	}
}

// A bad binding file is skipped, named with its line and key, while the
// others are served.
func TestBadBindingSkipped(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	vm11 := l.AddVM("tap11", "aa:6b:39:22:33:11")
	conf, datapath := l.SeedConfig(iptablesMode.setup(l)...)
	lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
	lab.WriteBinding(datapath, "tap11", "MAC=aa:6b:39:22:33:11\nHOSTNAME=vm11\nIP=198.51.100.7\nSUBNET=192.0.2.0/24\n")
	d := l.StartDaemon(conf)
	if _, err := vm.UdhcpcTries(2); err != nil {
		t.Fatalf("the good binding is not served: %v", err)
	}
	if got, err := vm11.UdhcpcTries(1); err == nil {
		t.Fatalf("the bad binding was served: %v", got)
	}
	if !strings.Contains(d.Log(), `tap11:3: IP: 198.51.100.7 is outside SUBNET 192.0.2.0/24`) {
		t.Errorf("the rejection does not name file, line and key:\n%s", d.Log())
	}
}

// steering = auto falls back to iptables steering, saying why, when tc
// steering cannot work here (the pin path is not on a bpffs), and serves
// through the administrator's rules.
func TestAutoFallsBack(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	l.SeedRules()
	notBPF := filepath.Join(l.Dir, "not-bpffs", "nfdhcpd")
	conf, datapath := l.SeedConfig("steering", "auto", "bpf_pin_path", notBPF)
	lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
	d := l.StartDaemon(conf)
	if !regexp.MustCompile(`level=WARN msg="tc steering unavailable, using iptables steering.*" reason=".*bpf`).MatchString(d.Log()) {
		t.Errorf("no warning saying why tc steering is not used:\n%s", d.Log())
	}
	if !strings.Contains(d.Log(), "msg=ready steering=iptables") {
		t.Errorf("not in iptables steering:\n%s", d.Log())
	}
	if _, err := vm.UdhcpcTries(2); err != nil {
		t.Fatal(err)
	}
}

// Binding files are read only after the privilege drop: one that only root
// may read is rejected, with the permission error in the log and the
// table, when the daemon runs as nobody, whether started as root or as the
// systemd unit starts it (CAP_DAC_READ_SEARCH at start); with user = root
// it is read. Its neighbour is served either way.
func TestBindingsReadAsUser(t *testing.T) {
	lab.RequireTools(t, "prlimit", "setpriv")
	for _, tt := range []struct {
		name, user string
		unit       bool
		read       bool
	}{
		{"root start, user nobody", "nobody", false, false},
		{"unit start", "nobody", true, false},
		{"user root", "root", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m steering) {
				l := lab.New(t)
				l.AddVM("tap10", lab.SeedMAC)
				l.AddVM("tap12", "aa:6b:39:22:33:12")
				conf, datapath := l.SeedConfig(append(m.setup(l), "user", tt.user)...)
				lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
				secret := filepath.Join(datapath, "tap12")
				lab.WriteBinding(datapath, "tap12", lab.SeedBindingFor("tap12", "192.0.2.112", "aa:6b:39:22:33:12", "secret-vm"))
				if err := os.Chmod(secret, 0o600); err != nil {
					t.Fatal(err)
				}
				if tt.unit {
					run := filepath.Join(l.Dir, "run")
					os.MkdirAll(run, 0o755)
					os.Chown(run, 65534, 65534)
					if l.PinPath != "" {
						os.MkdirAll(l.PinPath, 0o700)
						os.Chown(l.PinPath, 65534, 65534)
					}
					caps := unitCaps(t)
					l.Wrapper = []string{"prlimit", unitMemlock(t), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
						"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps}
				}
				d := l.StartDaemon(conf)
				d.Signal(syscall.SIGUSR1)
				if !d.WaitLog("\ntap12 ", 2*time.Second) {
					t.Fatalf("SIGUSR1: no table line for tap12:\n%s", d.Log())
				}
				rejected := regexp.MustCompile(`msg="binding file rejected.*file=` + regexp.QuoteMeta(secret) + `.*permission denied`).MatchString(d.Log())
				row := regexp.MustCompile(`(?m)^tap12 +(\w+) `).FindStringSubmatch(d.Log())
				if tt.read {
					if rejected || row == nil || row[1] != "active" {
						t.Errorf("user root: tap12 not read (row %q):\n%s", row, d.Log())
					}
				} else {
					if !rejected || row == nil || row[1] != "rejected" || !regexp.MustCompile(`(?m)^tap12 .*permission denied$`).MatchString(d.Log()) {
						t.Errorf("user nobody: tap12 (root's, 0600) not rejected for its permission (row %q):\n%s", row, d.Log())
					}
					if strings.Contains(d.Log(), "secret-vm") {
						t.Errorf("the daemon read root's file")
					}
				}
				if !regexp.MustCompile(`(?m)^tap10 +active `).MatchString(d.Log()) {
					t.Errorf("tap10 is not active beside it")
				}
			})
		})
	}
}
