package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// Process is a server running in the lab's host namespace.
type Process struct {
	Name string
	ns   string
	cmd  *exec.Cmd
	out  *lab.SyncBuffer
	done chan error
}

// StartProcess runs args in namespace ns and, when ready is not empty,
// waits until the output holds it.
func StartProcess(name, ns, ready string, timeout time.Duration, args ...string) (*Process, error) {
	p := &Process{Name: name, ns: ns, out: &lab.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	if ready == "" {
		return p, nil
	}
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.out.String(), ready) {
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("%s exited (%v) before %q:\n%s", name, err, ready, p.out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("%s: no %q within %v:\n%s", name, ready, timeout, p.out.String())
		}
	}
	return p, nil
}

// Pid is the server's process id (`ip netns exec` execs it in place).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what the server printed so far.
func (p *Process) Output() string { return p.out.String() }

// Stop sends SIGTERM, then SIGKILL after 5 s, and waits.
func (p *Process) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	}
}

// RSS is the server's resident set in bytes, from /proc.
func (p *Process) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.Pid())
}

// DnsmasqArgs is dnsmasq as the reference: DHCPv4 with a static host
// entry per VM, RA and stateless DHCPv6 on every TAP, no ping before an
// offer, no lease file and no logging per packet, so that it does no more
// work per request than nfdhcpd does.
func DnsmasqArgs(vms []VM, dir string) []string {
	args := []string{"dnsmasq", "--no-daemon", "--port=0", "--interface=tap*", "--except-interface=lo",
		"--dhcp-authoritative", "--no-ping", "--leasefile-ro", "--quiet-dhcp", "--quiet-dhcp6", "--quiet-ra",
		"--pid-file=" + dir + "/dnsmasq.pid", "--conf-file=/dev/null",
		"--enable-ra", "--dhcp-range=::,constructor:tap*,ra-stateless,64,1h"}
	for _, vm := range vms {
		args = append(args,
			fmt.Sprintf("--dhcp-range=%s,static,255.255.255.0,1h", vm.Gateway),
			fmt.Sprintf("--dhcp-host=%s,%s", vm.MAC, vm.IP))
	}
	return args
}

// logWatch looks for log lines in a process's output as it grows, reading
// each byte once: rescanning megabytes of log every few milliseconds took
// a core from the daemon it was timing.
type logWatch struct {
	p     *Process
	off   int
	msgs  []string          // what to look for
	found map[string]string // msg → the first complete line holding it
}

func newLogWatch(p *Process, msgs ...string) *logWatch {
	return &logWatch{p: p, msgs: msgs, found: map[string]string{}}
}

// line returns the first line holding msg, one of w's, printed so far.
func (w *logWatch) line(msg string) (string, bool) {
	if l, ok := w.found[msg]; ok {
		return l, true
	}
	chunk := w.p.out.From(w.off)
	end := strings.LastIndexByte(chunk, '\n') + 1
	w.off += end
	for _, l := range strings.Split(chunk[:end], "\n") {
		for _, m := range w.msgs {
			if _, seen := w.found[m]; !seen && strings.Contains(l, m) {
				w.found[m] = l
			}
		}
	}
	l, ok := w.found[msg]
	return l, ok
}
