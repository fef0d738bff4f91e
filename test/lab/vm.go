package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// VM is a namespace playing a virtual machine: its eth0 is one end of a veth
// pair whose other end, in the host namespace, carries the TAP's name.
type VM struct {
	lab *Lab
	NS  string
	TAP string // the host end's name
	MAC string // eth0's MAC
	Dir string // the VM's scratch folder: client scripts, leases, outputs
}

// AddVM makes a VM namespace joined to the host by a veth pair: eth0 (with
// mac) inside the VM, tap in the host namespace. IPv6 DAD is off on eth0 so
// that link-local addresses are usable at once.
func (l *Lab) AddVM(tap, mac string) *VM {
	l.t.Helper()
	vm := &VM{lab: l, NS: l.Prefix + "-" + tap, TAP: tap, MAC: mac, Dir: l.Dir + "/" + tap}
	if err := os.MkdirAll(vm.Dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	l.mustRun("ip", "netns", "add", vm.NS)
	// ip netns exec binds /etc/netns/<ns>/* over /etc: clients that rewrite
	// /etc/resolv.conf (dhcpcd's hooks, dhclient-script) then change the
	// VM's copy, never the host's.
	etc := filepath.Join("/etc/netns", vm.NS)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.mustRun("ip", "link", "add", tap, "netns", l.HostNS, "type", "veth", "peer", "name", "eth0", "netns", vm.NS)
	vm.Run("ip", "link", "set", "lo", "up")
	vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
	vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
	vm.Run("ip", "link", "set", "eth0", "address", mac)
	vm.Run("ip", "link", "set", "eth0", "up")
	l.Host("sysctl", "-qw", "net.ipv6.conf."+tap+".accept_dad=0")
	l.Host("ip", "link", "set", tap, "up")
	return vm
}

// Run runs a command in the VM and fails the test on error.
func (vm *VM) Run(args ...string) string {
	vm.lab.t.Helper()
	return vm.lab.mustRun(append([]string{"ip", "netns", "exec", vm.NS}, args...)...)
}

// Try runs a command in the VM with a timeout and returns its output and error.
func (vm *VM) Try(timeout time.Duration, args ...string) (string, error) {
	return run(timeout, append([]string{"ip", "netns", "exec", vm.NS}, args...)...)
}

// HostMAC is the MAC of the TAP's host end, which the daemon answers from.
func (vm *VM) HostMAC() string {
	vm.lab.t.Helper()
	return linkMAC(vm.lab.t, vm.lab.Host("ip", "-o", "link", "show", "dev", vm.TAP))
}

// Remove deletes the VM's namespace, and with it both ends of the veth: the
// TAP goes away as when a VM is destroyed.
func (vm *VM) Remove() {
	vm.lab.t.Helper()
	vm.lab.mustRun("ip", "netns", "del", vm.NS)
	os.RemoveAll(filepath.Join("/etc/netns", vm.NS))
	// The host end disappears with its peer; wait until it has.
	for i := 0; i < 50; i++ {
		if _, err := vm.lab.HostTry("ip", "link", "show", "dev", vm.TAP); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func linkMAC(t interface{ Fatalf(string, ...any) }, ipLinkOutput string) string {
	f := strings.Fields(ipLinkOutput)
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC in %q", ipLinkOutput)
	return ""
}

// Bridge puts the TAPs into a new bridge in the host namespace, with
// br_netfilter's iptables hooks on or off for that namespace.
func (l *Lab) Bridge(name string, brNetfilter bool, taps ...string) {
	l.t.Helper()
	l.Host("ip", "link", "add", name, "type", "bridge")
	l.Host("sysctl", "-qw", "net.ipv6.conf."+name+".accept_dad=0")
	for _, tap := range taps {
		l.Host("ip", "link", "set", tap, "master", name)
	}
	l.Host("ip", "link", "set", name, "up")
	v := "0"
	if brNetfilter {
		v = "1"
	}
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		l.mustRun("modprobe", "br_netfilter")
	}
	l.Host("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables="+v, "net.bridge.bridge-nf-call-ip6tables="+v)
}

// String names the VM in test logs.
func (vm *VM) String() string { return fmt.Sprintf("vm %s (%s)", vm.TAP, vm.MAC) }

// LinkMAC is the MAC of a link in the host namespace (a TAP, a bridge).
func (l *Lab) LinkMAC(name string) net.HardwareAddr {
	l.t.Helper()
	mac, err := net.ParseMAC(linkMAC(l.t, l.Host("ip", "-o", "link", "show", "dev", name)))
	if err != nil {
		l.t.Fatal(err)
	}
	return mac
}
