package lab

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lab is one host namespace and the VMs around it.
type Lab struct {
	t      testing.TB
	Prefix string // names every namespace of this lab
	HostNS string
	Dir    string // scratch folder: config, bindings, client scripts
	// PinPath is the daemon's bpf_pin_path once BPFFS has mounted one.
	PinPath string
	// Wrapper, when set, is the command StartDaemon runs the daemon under
	// (e.g. setpriv, to start it as systemd's unit would).
	Wrapper []string
}

// New makes a lab named after the test. It skips the test when not root,
// and fails it when a program the lab needs is missing.
func New(t testing.TB) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(NeedsRoot)
	}
	RequireTools(t, "ip", "iptables", "ip6tables")
	h := fnv.New32a()
	// NFDHCPD_LAB_SALT keeps two checkouts' runs of the same test apart: each
	// lab removes namespaces of its own prefix left by an earlier run.
	h.Write([]byte(os.Getenv("NFDHCPD_LAB_SALT") + t.Name()))
	prefix := fmt.Sprintf("nfde%05x", h.Sum32()&0xfffff)
	l := &Lab{t: t, Prefix: prefix, HostNS: prefix + "-h", Dir: t.TempDir()}
	// A previous run killed before its cleanup leaves namespaces by these names.
	l.removeNamespaces()
	t.Cleanup(l.removeNamespaces)
	l.mustRun("ip", "netns", "add", l.HostNS)
	l.Host("ip", "link", "set", "lo", "up")
	l.Host("sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
	return l
}

// Selected reports whether $env, a comma-separated list, names name; an
// unset or empty $env selects everything.
func Selected(env, name string) bool {
	v := os.Getenv(env)
	return v == "" || strings.Contains(","+v+",", ","+name+",")
}

func (l *Lab) removeNamespaces() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, l.Prefix+"-") {
			// Processes left in the namespace (clients, the daemon) go first.
			pids, _ := exec.Command("ip", "netns", "pids", name).Output()
			for _, pid := range strings.Fields(string(pids)) {
				exec.Command("kill", "-9", pid).Run()
			}
			exec.Command("ip", "netns", "del", name).Run()
			os.RemoveAll(filepath.Join("/etc/netns", name))
		}
	}
}

// Host runs a command in the host namespace and fails the test on error.
func (l *Lab) Host(args ...string) string {
	l.t.Helper()
	return l.mustRun(append([]string{"ip", "netns", "exec", l.HostNS}, args...)...)
}

// HostTry runs a command in the host namespace and returns its error.
func (l *Lab) HostTry(args ...string) (string, error) {
	return run(10*time.Second, append([]string{"ip", "netns", "exec", l.HostNS}, args...)...)
}

func (l *Lab) mustRun(args ...string) string {
	l.t.Helper()
	out, err := run(30*time.Second, args...)
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return buf.String(), err
}

// WriteFile writes a file in the lab's scratch folder and returns its path.
func (l *Lab) WriteFile(name, content string) string {
	l.t.Helper()
	p := l.Dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// BPFFS mounts a bpffs of the lab's own and returns a pin path in it. The
// daemon runs under `ip netns exec`, which gives it a fresh /sys: pins under
// /sys/fs/bpf would land in a private bpffs that no one else sees and that a
// restarted daemon would not find.
func (l *Lab) BPFFS() string {
	l.t.Helper()
	dir := filepath.Join(l.Dir, "bpffs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	// 0700 as systemd mounts /sys/fs/bpf: the daemon must not need to walk
	// it after dropping root.
	l.mustRun("mount", "-t", "bpf", "-o", "mode=0700", "bpf", dir)
	l.t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	l.PinPath = filepath.Join(dir, "nfdhcpd")
	return l.PinPath
}
