package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logrotate's postrotate sends SIGHUP to the processes running nfdhcpd's
// executable, as the kernel reports them, and never to a pid read from the
// pidfile, which the daemon's user can write: here the pidfile names
// another process, which must not be signalled. Run with logrotate itself,
// on a copy of the file whose paths point into a scratch folder.
func TestLogrotateSignal(t *testing.T) {
	require(t, "logrotate", "sleep")
	dir := t.TempDir()
	logdir := filepath.Join(dir, "log")
	os.Mkdir(logdir, 0o755)
	os.WriteFile(filepath.Join(logdir, "nfdhcpd.log"), []byte("a log line\n"), 0o640)

	// The daemon: sleep, copied to where nfdhcpd's executable is.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := os.ReadFile(sleep)
	daemonExe := filepath.Join(dir, "sbin", "nfdhcpd")
	os.Mkdir(filepath.Dir(daemonExe), 0o755)
	if err := os.WriteFile(daemonExe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	daemon := start(t, daemonExe, "60")
	victim := start(t, sleep, "60")
	pidfile := filepath.Join(dir, "run", "nfdhcpd.pid")
	os.Mkdir(filepath.Dir(pidfile), 0o755)
	os.WriteFile(pidfile, []byte(strconv.Itoa(victim.cmd.Process.Pid)+"\n"), 0o644)

	text, err := os.ReadFile("logrotate/nfdhcpd")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "logrotate.conf")
	os.WriteFile(conf, []byte(strings.NewReplacer("/var/log/nfdhcpd", logdir, "/usr/sbin/nfdhcpd", daemonExe,
		"/var/run/nfdhcpd/nfdhcpd.pid", pidfile, "/run/nfdhcpd/nfdhcpd.pid", pidfile).Replace(string(text))), 0o644)
	if out, err := exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(logdir, "nfdhcpd.log.1")); err != nil {
		t.Errorf("not rotated: %v", err)
	}
	if sig := daemon.exitSignal(); sig != syscall.SIGHUP {
		t.Errorf("the process running nfdhcpd's executable: ended by %v, want SIGHUP", sig)
	}
	select {
	case <-victim.done:
		t.Errorf("the process the pidfile named was signalled: %v", victim.cmd.ProcessState)
	case <-time.After(300 * time.Millisecond):
	}
}

// proc is a process the test started, killed at its end.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, name string, args ...string) proc {
	t.Helper()
	p := proc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// exitSignal waits up to 2 s for p to end and returns the signal that
// ended it, or 0.
func (p proc) exitSignal() syscall.Signal {
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		return 0
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}
