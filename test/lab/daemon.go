package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the nfdhcpd binary under test: $NFDHCPD_BIN, else one built
// once per test process from this checkout.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NFDHCPD_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "nfdhcpd-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "nfdhcpd")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/nfdhcpd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // credential changes must reach every thread
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Daemon is nfdhcpd running in the lab's host namespace.
type Daemon struct {
	lab  *Lab
	cmd  *exec.Cmd
	log  *SyncBuffer
	done chan error
}

// StartDaemon runs `nfdhcpd -c conf -f -d` in the host namespace and waits
// until it logs that it is ready. It is stopped at cleanup; its log is shown
// when the test failed.
func (l *Lab) StartDaemon(conf string, extra ...string) *Daemon {
	l.t.Helper()
	return l.StartDaemonUntil(conf, "msg=ready", extra...)
}

// stopTimeout is the daemon's default --stop-timeout.
const stopTimeout = 800 * time.Millisecond

// StartDaemonUntil is StartDaemon, returning as soon as the log holds until
// (which may come before ready).
func (l *Lab) StartDaemonUntil(conf, until string, extra ...string) *Daemon {
	l.t.Helper()
	return l.StartDaemonWithin(conf, until, 5*time.Second, extra...)
}

// StartDaemonWithin is StartDaemonUntil for a start that may take longer
// than 5 s (before the time scale): hundreds of TAPs in an emulated VM.
func (l *Lab) StartDaemonWithin(conf, until string, wait time.Duration, extra ...string) *Daemon {
	l.t.Helper()
	bin := Binary(l.t)
	d := &Daemon{lab: l, log: &SyncBuffer{}, done: make(chan error, 1)}
	args := append([]string{"netns", "exec", l.HostNS}, l.Wrapper...)
	args = append(args, bin, "-c", conf, "-f", "-d")
	if scaled := Within(stopTimeout); scaled != stopTimeout {
		// A slow host (make vmtest's emulated VMs) needs longer to remove
		// the rules, as the tests' bounds on a stop allow.
		args = append(args, "--stop-timeout", scaled.String())
	}
	args = append(args, extra...)
	d.cmd = exec.Command("ip", args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	l.t.Cleanup(func() {
		d.Stop()
		if l.t.Failed() {
			l.t.Logf("nfdhcpd log:\n%s", d.Log())
		}
	})
	if !d.WaitLog(until, Within(wait)) {
		l.t.Fatalf("nfdhcpd did not log %q:\n%s", until, d.Log())
	}
	return d
}

// Log returns what the daemon printed so far.
func (d *Daemon) Log() string { return d.log.String() }

// WaitLog waits until the daemon's log holds s.
func (d *Daemon) WaitLog(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(d.Log(), s) {
			return true
		}
		select {
		case err := <-d.done:
			d.done <- err
			return strings.Contains(d.Log(), s)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// Logged reports whether a line of the daemon's log holds every field
// (key=value, as slog's text handler writes them), in any order.
func (d *Daemon) Logged(fields ...string) bool {
	for _, line := range strings.Split(d.Log(), "\n") {
		have := strings.Fields(line)
		all := true
		for _, f := range fields {
			all = all && slices.Contains(have, f)
		}
		if all {
			return true
		}
	}
	return false
}

// Running reports whether the daemon has not exited.
func (d *Daemon) Running() bool {
	select {
	case err := <-d.done:
		d.done <- err
		return false
	default:
		return true
	}
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Kill ends the daemon with SIGKILL, as a crash would, and waits for it.
func (d *Daemon) Kill() {
	d.cmd.Process.Kill()
	err := <-d.done
	d.done <- err
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) {
	d.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM and waits for the exit; it returns how long that took
// and the exit error.
func (d *Daemon) Stop() (time.Duration, error) {
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		return time.Since(start), err
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		err := <-d.done
		d.done <- err
		return time.Since(start), fmt.Errorf("did not exit within 5s after SIGTERM")
	}
}

// SyncBuffer collects a process's output while tests read it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// From is what was written from byte off on.
func (s *SyncBuffer) From(off int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b.Bytes()[off:])
}

// StartDnsmasq runs dnsmasq's DHCP server on iface in the host namespace,
// handing out ip to any client; the reference server of the labs.
func (l *Lab) StartDnsmasq(iface, ip string, extra ...string) {
	l.t.Helper()
	args := append([]string{"netns", "exec", l.HostNS, "dnsmasq", "--no-daemon", "--port=0",
		"--interface=" + iface, "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
		"--dhcp-range=" + ip + "," + ip + ",1h",
		"--dhcp-leasefile=" + l.Dir + "/dnsmasq-" + iface + ".leases",
		"--pid-file=" + l.Dir + "/dnsmasq-" + iface + ".pid"}, extra...)
	cmd := exec.Command("ip", args...)
	log := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if l.t.Failed() {
			l.t.Logf("dnsmasq log:\n%s", log.String())
		}
	})
	time.Sleep(300 * time.Millisecond) // dnsmasq binds within a few ms; give it margin
}
