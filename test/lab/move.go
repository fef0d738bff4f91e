package lab

import (
	"os"
	"path/filepath"
	"time"
)

// AddMovableVM is AddVM for a VM that moves between TAPs, as in a live
// migration: its NIC, eth0, is a bridge in the VM with mac, and the veth
// from the TAP is that bridge's one port. MoveTo swaps the port for one
// from another TAP while eth0 keeps its addresses, routes, neighbour
// entries and running clients, as a migrated VM keeps its own.
func (l *Lab) AddMovableVM(tap, mac string) *VM {
	l.t.Helper()
	vm := &VM{lab: l, NS: l.Prefix + "-" + tap, TAP: tap, MAC: mac, Dir: l.Dir + "/" + tap}
	if err := os.MkdirAll(vm.Dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	l.mustRun("ip", "netns", "add", vm.NS)
	etc := filepath.Join("/etc/netns", vm.NS)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
	vm.Run("ip", "link", "set", "lo", "up")
	// No STP and no forward delay: a new port forwards at once. No
	// multicast snooping: RAs and NS reach eth0 before any MLD report.
	vm.Run("ip", "link", "add", "eth0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
	vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
	vm.Run("ip", "link", "set", "eth0", "address", mac)
	vm.Run("ip", "link", "set", "eth0", "up")
	vm.plug(tap, "")
	return vm
}

// MoveTo moves the VM to a new TAP, tap, in the host namespace, with the MAC
// hostMAC ("" for the kernel's random one): the new link is plugged in
// first, then the old TAP is deleted, so that eth0 never loses its carrier
// (which would flush its neighbour entries, as no live migration does).
func (vm *VM) MoveTo(tap, hostMAC string) {
	vm.lab.t.Helper()
	old := vm.TAP
	vm.plug(tap, hostMAC)
	vm.lab.Host("ip", "link", "del", old)
	vm.TAP = tap
	// The VM's end went with it; wait until the bridge has let it go.
	for i := 0; i < 50; i++ {
		if _, err := vm.Try(5*time.Second, "ip", "link", "show", "dev", "p-"+old); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// plug joins the host's tap to the VM's bridge by a veth pair; hostMAC, when
// set, is the host end's MAC.
func (vm *VM) plug(tap, hostMAC string) {
	l := vm.lab
	l.t.Helper()
	port := "p-" + tap
	l.mustRun("ip", "link", "add", tap, "netns", l.HostNS, "type", "veth", "peer", "name", port, "netns", vm.NS)
	if hostMAC != "" {
		l.Host("ip", "link", "set", tap, "address", hostMAC)
	}
	// The port is a bridge port, not an interface of the VM's own.
	vm.Run("sysctl", "-qw", "net.ipv6.conf."+port+".disable_ipv6=1")
	vm.Run("ip", "link", "set", port, "master", "eth0")
	vm.Run("ip", "link", "set", port, "up")
	l.Host("sysctl", "-qw", "net.ipv6.conf."+tap+".accept_dad=0")
	l.Host("ip", "link", "set", tap, "up")
}
