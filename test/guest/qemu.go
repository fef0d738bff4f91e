package guest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Guest is one qemu guest (software emulation) whose virtio NIC is a TAP
// of the namespace it runs in.
type Guest struct {
	Client  string // busybox or networkd: the init's guest.client
	TAP     string
	MAC     string
	Share   string // the 9p folder the guest writes its results to
	Console string // the serial console's log
	Started time.Time
	Took    time.Duration // boot to power-off
	cmd     *exec.Cmd
	done    chan error
}

// Boot starts a guest of img in network namespace ns, its eth0 (with mac)
// on the existing TAP tap there, its files under dir. params go on the
// kernel command line as guest.<key>=<value> for the init.
func Boot(img *Image, ns, dir, tap, mac, client string, params map[string]string) (*Guest, error) {
	g := &Guest{Client: client, TAP: tap, MAC: mac, Share: filepath.Join(dir, "share"),
		Console: filepath.Join(dir, "console.log"), done: make(chan error, 1)}
	if err := os.MkdirAll(g.Share, 0o755); err != nil {
		return nil, err
	}
	console, err := os.Create(g.Console)
	if err != nil {
		return nil, err
	}
	defer console.Close()
	cmdline := []string{"console=ttyS0", "panic=-1", "quiet", "loglevel=4", "random.trust_cpu=on", "guest.client=" + client}
	for k, v := range params {
		cmdline = append(cmdline, "guest."+k+"="+v)
	}
	g.cmd = exec.Command("ip", "netns", "exec", ns, "qemu-system-x86_64",
		"-accel", "tcg", "-cpu", "max", "-m", "384", "-smp", "1",
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
		"-netdev", "tap,id=n0,ifname="+tap+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+mac,
		"-device", "virtio-rng-pci",
		"-virtfs", "local,path="+g.Share+",mount_tag=out,security_model=none,id=out",
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", strings.Join(cmdline, " "))
	g.cmd.Stdout, g.cmd.Stderr = console, console
	g.Started = time.Now()
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	go func() {
		err := g.cmd.Wait()
		g.Took = time.Since(g.Started)
		g.done <- err
	}()
	return g, nil
}

// Wait waits until the guest powers off, or kills it after timeout.
func (g *Guest) Wait(timeout time.Duration) error {
	select {
	case err := <-g.done:
		g.done <- err
		if err != nil {
			return fmt.Errorf("qemu: %v (console: %s)", err, g.tail(20))
		}
		return nil
	case <-time.After(timeout):
		g.Kill()
		return fmt.Errorf("no power-off within %v (console: %s)", timeout, g.tail(20))
	}
}

// Kill stops the guest at once (a test's cleanup, a timeout).
func (g *Guest) Kill() {
	g.cmd.Process.Kill()
	err := <-g.done
	g.done <- err
}

// tail is the console's last n lines.
func (g *Guest) tail(n int) string {
	b, _ := os.ReadFile(g.Console)
	return "\n" + lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
