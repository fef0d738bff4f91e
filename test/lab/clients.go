package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Vars are the variables a DHCP client handed its script, by name.
type Vars map[string]string

func readVars(path string) (Vars, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseVars(string(b)), nil
}

// ParseVars reads KEY=VALUE lines (a script's env, a lease file), with
// single quotes around a value dropped; other lines are left out.
func ParseVars(text string) Vars {
	v := Vars{}
	for _, l := range strings.Split(text, "\n") {
		k, val, ok := strings.Cut(l, "=")
		if ok {
			v[k] = strings.Trim(val, "'")
		}
	}
	return v
}

// script writes a client script that dumps its environment to out when the
// client says one of the reasons. The path is fixed in the script because
// dhclient clears the environment it passes.
func (vm *VM) script(name, out, reasonVar string, reasons ...string) string {
	var cond []string
	for _, r := range reasons {
		cond = append(cond, fmt.Sprintf(`[ "%s" = %s ]`, reasonVar, r))
	}
	body := fmt.Sprintf("#!/bin/sh\nif %s; then env > %s.tmp; mv %s.tmp %s; fi\nexit 0\n",
		strings.Join(cond, " || "), out, out, out)
	p := vm.Dir + "/" + name
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		vm.lab.t.Fatal(err)
	}
	os.Remove(out)
	return p
}

// Udhcpc runs busybox udhcpc (4 DISCOVERs, 1 s apart) and returns what it
// handed its script on "bound" (ip subnet router dns domain hostname lease
// serverid mtu ...).
func (vm *VM) Udhcpc() (Vars, error) { return vm.UdhcpcTries(4) }

// UdhcpcTries is Udhcpc with a given number of DISCOVERs.
func (vm *VM) UdhcpcTries(tries int) (Vars, error) { return vm.udhcpc(tries) }

// UdhcpcAsking is Udhcpc asking for these options too (udhcpc -O: tftp,
// bootfile, ...), which it then hands its script under those names. It
// always hands it siaddr and boot_file, the BOOTP fields, when set.
func (vm *VM) UdhcpcAsking(opts ...string) (Vars, error) { return vm.udhcpc(4, opts...) }

func (vm *VM) udhcpc(tries int, opts ...string) (Vars, error) {
	out := vm.Dir + "/udhcpc.env"
	s := vm.script("udhcpc.sh", out, "$1", "bound")
	args := []string{"udhcpc", "-f", "-i", "eth0", "-n", "-q", "-t", strconv.Itoa(tries), "-T", "1",
		"-s", s, "-O", "mtu", "-O", "search", "-O", "staticroutes", "-O", "hostname", "-O", "domain"}
	for _, o := range opts {
		args = append(args, "-O", o)
	}
	log, err := vm.Try(20*time.Second, args...)
	if err != nil {
		return nil, fmt.Errorf("udhcpc: %w\n%s", err, log)
	}
	return readVars(out)
}

// Dhclient4 runs ISC dhclient -4 until it binds and returns its script's
// variables for BOUND (new_ip_address, new_routers, ...).
func (vm *VM) Dhclient4() (Vars, error) {
	return vm.Dhclient4Requesting(`subnet-mask, broadcast-address, routers, domain-name,
  domain-name-servers, host-name, interface-mtu, domain-search,
  dhcp-renewal-time, dhcp-rebinding-time, dhcp-lease-time, dhcp-server-identifier`)
}

// Dhclient4Requesting is Dhclient4 with this dhclient.conf request list,
// which dhclient sends as option 55 in the order given.
func (vm *VM) Dhclient4Requesting(request string) (Vars, error) {
	conf := vm.Dir + "/dhclient4.conf"
	os.WriteFile(conf, []byte("request "+request+";\ntimeout 15;\n"), 0o644)
	out := vm.Dir + "/dhclient4.env"
	s := vm.script("dhclient4.sh", out, "$reason", "BOUND", "RENEW", "REBOOT")
	return vm.untilFile(out, 15*time.Second, "dhclient", "-4", "-1", "-d", "-cf", conf, "-sf", s,
		"-lf", vm.Dir+"/dhclient4.leases", "-pf", vm.Dir+"/dhclient4.pid", "eth0")
}

// Dhclient6 runs ISC dhclient -6: stateless (-S, Information-Request) when
// stateless is true, else a full Solicit/Request exchange for an address.
func (vm *VM) Dhclient6(stateless bool) (Vars, error) {
	conf := vm.Dir + "/dhclient6.conf"
	os.WriteFile(conf, []byte("request dhcp6.name-servers, dhcp6.domain-search;\ntimeout 15;\n"), 0o644)
	out := vm.Dir + "/dhclient6.env"
	s := vm.script("dhclient6.sh", out, "$reason", "BOUND6", "RENEW6", "REBIND6", "REBOOT6")
	args := []string{"dhclient", "-6", "-1", "-d", "-cf", conf, "-sf", s,
		"-lf", vm.Dir + "/dhclient6.leases", "-pf", vm.Dir + "/dhclient6.pid"}
	if stateless {
		args = append(args, "-S")
	}
	return vm.untilFile(out, 15*time.Second, append(args, "eth0")...)
}

// Dhcpcd runs dhcpcd for IPv4 once (it exits after binding) and returns its
// hook's variables for BOUND.
func (vm *VM) Dhcpcd() (Vars, error) {
	conf := vm.Dir + "/dhcpcd.conf"
	os.WriteFile(conf, []byte(`option subnet_mask, routers, domain_name_servers, domain_name,
option host_name, interface_mtu, domain_search, broadcast, dhcp_renewal_time, dhcp_rebinding_time, dhcp_lease_time
nohook resolv.conf, hostname, timesyncd, ntp
noipv4ll
noarp
`), 0o644)
	out := vm.Dir + "/dhcpcd.env"
	s := vm.script("dhcpcd.sh", out, "$reason", "BOUND", "REBOOT")
	return vm.untilFile(out, 20*time.Second, "dhcpcd", "-f", conf, "-c", s, "-4", "-1", "-B", "-t", "15", "eth0")
}

// untilFile runs a client that stays in the foreground, waits for its script
// to write out, then stops the client.
func (vm *VM) untilFile(out string, timeout time.Duration, args ...string) (Vars, error) {
	var log strings.Builder
	cmd := exec.Command("ip", append([]string{"netns", "exec", vm.NS}, args...)...)
	cmd.Stdout, cmd.Stderr = &log, &log
	// Clients fork helpers (dhcpcd's privilege separation) that keep the
	// output pipe open: stop the whole group, and do not wait on the pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(out); err == nil {
			return readVars(out)
		}
		select {
		case err := <-done:
			done <- err
			if _, serr := os.Stat(out); serr == nil {
				return readVars(out)
			}
			return nil, fmt.Errorf("%s exited (%v) without binding\n%s", args[0], err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("%s: no lease within %v\n%s", args[0], timeout, log.String())
}

// Rdisc6 solicits a router once and returns rdisc6's report.
func (vm *VM) Rdisc6() (string, error) {
	return vm.Try(10*time.Second, "rdisc6", "-1", "-w", "3000", "eth0")
}

// Ndisc6 resolves target once and returns ndisc6's report.
func (vm *VM) Ndisc6(target string) (string, error) {
	return vm.Try(10*time.Second, "ndisc6", "-1", "-w", "2000", target, "eth0")
}

// Dhclient6Run is ISC dhclient -6 left running in a VM.
type Dhclient6Run struct {
	events string
}

// StartDhclient6 starts ISC dhclient -6 for an address (Solicit, Request,
// then Renew at every T1) and leaves it running until the test ends. Its
// script configures nothing: it appends "REASON ADDRESS" to a file that
// Events reads.
func (vm *VM) StartDhclient6() *Dhclient6Run {
	t := vm.lab.t
	t.Helper()
	conf := vm.Dir + "/dhclient6.conf"
	if err := os.WriteFile(conf, []byte("request dhcp6.name-servers, dhcp6.domain-search;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	events := vm.Dir + "/dhclient6.events"
	os.Remove(events)
	s := vm.Dir + "/dhclient6-events.sh"
	body := fmt.Sprintf("#!/bin/sh\necho \"$reason $new_ip6_address\" >> %s\nexit 0\n", events)
	if err := os.WriteFile(s, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var log SyncBuffer
	cmd := exec.Command("ip", "netns", "exec", vm.NS, "dhclient", "-6", "-d", "-cf", conf, "-sf", s,
		"-lf", vm.Dir+"/dhclient6.leases", "-pf", vm.Dir+"/dhclient6.pid", "eth0")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("dhclient -6 in %s:\n%s", vm.NS, log.String())
		}
	})
	return &Dhclient6Run{events: events}
}

// Events is what the script was told so far, one "REASON ADDRESS" a line
// (BOUND6, RENEW6, REBIND6, ...).
func (d *Dhclient6Run) Events() []string {
	b, _ := os.ReadFile(d.events)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
