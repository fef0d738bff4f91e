package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Client is a DHCP client left running in a VM, its script writing what
// it was handed on each event to a file in Dir: dhclient's to <reason>,
// or <reason>.prefix for a prefix's event; dhcpcd's to
// <reason>.<interface>.
type Client struct {
	vm   *VM
	Dir  string
	cmd  *exec.Cmd
	log  *SyncBuffer
	done chan error
}

// StartDhclient6PD starts ISC dhclient -6 with flags (-P for a prefix, -N
// for an address, both for both) and leaves it running; the test's end
// stops it. Its script records prefix events apart (see Client).
func (vm *VM) StartDhclient6PD(flags ...string) *Client {
	vm.lab.t.Helper()
	c := vm.newClient("dhclient6")
	conf := filepath.Join(c.Dir, "dhclient6.conf")
	os.WriteFile(conf, []byte("request dhcp6.name-servers, dhcp6.domain-search;\ntimeout 15;\n"), 0o644)
	args := append([]string{"dhclient", "-6"}, flags...)
	// dhclient runs its script once per address and once per prefix.
	name := `n=$reason; case "$new_ip6_prefix$old_ip6_prefix$cur_ip6_prefix" in ?*) n=$n.prefix;; esac`
	args = append(args, "-d", "-cf", conf, "-sf", c.script(name), "-lf", filepath.Join(c.Dir, "leases"),
		"-pf", filepath.Join(c.Dir, "pid"), "eth0")
	c.start(args...)
	return c
}

// StartDhcpcdPD starts dhcpcd for DHCPv6 prefix delegation alone on eth0
// (no IPv4, no RS: it solicits at once), numbering a /64 of the first
// prefix on downstream (a link in the VM) with ::1. With release it gives
// the prefix back when stopped. Its leases and DUID live in a mount of
// its own, never in the host's /var/lib/dhcpcd that other labs share.
func (vm *VM) StartDhcpcdPD(downstream string, release bool) *Client {
	vm.lab.t.Helper()
	c := vm.newClient("dhcpcd6")
	conf := "nohook resolv.conf, hostname, timesyncd, ntp\nnoipv4\nnoipv6rs\nia_pd 1 " + downstream + "/0/64\n"
	if release {
		conf += "release\n"
	}
	cf := filepath.Join(c.Dir, "dhcpcd.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	c.start("unshare", "-m", "sh", "-c", "mount -t tmpfs nfdhcpd-lab /var/lib/dhcpcd && exec dhcpcd -f "+cf+
		" -c "+c.script("n=$reason.$interface")+" -6 -B -d eth0")
	return c
}

func (vm *VM) newClient(name string) *Client {
	dir := filepath.Join(vm.Dir, name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		vm.lab.t.Fatal(err)
	}
	return &Client{vm: vm, Dir: dir, log: &SyncBuffer{}, done: make(chan error, 1)}
}

// script writes the client's script: each event's environment goes to
// Dir/$n, n set by the shell code name.
func (c *Client) script(name string) string {
	p := filepath.Join(c.Dir, "script.sh")
	body := fmt.Sprintf("#!/bin/sh\n%s\nenv > %s/.env.$$ && mv %s/.env.$$ \"%s/$n\"\nexit 0\n", name, c.Dir, c.Dir, c.Dir)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		c.vm.lab.t.Fatal(err)
	}
	return p
}

func (c *Client) start(args ...string) {
	t := c.vm.lab.t
	c.cmd = exec.Command("ip", append([]string{"netns", "exec", c.vm.NS}, args...)...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.WaitDelay = time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", args[0], c.log.String())
		}
	})
}

// Wait waits for the script's event file name (e.g. BOUND6.prefix),
// written after since, and returns its variables.
func (c *Client) Wait(name string, since time.Time, timeout time.Duration) (Vars, error) {
	p := filepath.Join(c.Dir, name)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st, err := os.Stat(p); err == nil && !st.ModTime().Before(since) {
			return readVars(p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var seen []string
	if des, err := os.ReadDir(c.Dir); err == nil {
		for _, de := range des {
			seen = append(seen, de.Name())
		}
	}
	return nil, fmt.Errorf("no %s event within %v (events: %s)\n%s", name, timeout, strings.Join(seen, " "), c.log.String())
}

// Stop ends the client with SIGTERM, as a VM's shutdown does (dhcpcd with
// release then gives its prefix back), and waits up to 5 s for it.
func (c *Client) Stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(Within(5 * time.Second)): // dhcpcd's proxies end slowly under emulation
	}
	c.Kill()
}

// Kill ends the client and every helper it forked at once, as a crash
// does: nothing is released.
func (c *Client) Kill() {
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	err := <-c.done
	c.done <- err
}

// Log is what the client printed so far.
func (c *Client) Log() string { return c.log.String() }
