package e2e

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// beyond is an address on the host's loopback: reaching it from a VM takes
// the VM's default route.
var beyond = netip.MustParseAddr("2001:db8:ffff::1")

// A VM moves from tap10 to a new tap20, which has another MAC, and finds the
// same binding there under tap20's name. Its NIC keeps everything across the
// move (addresses, routes, the router's neighbour entry, dhclient), as in a
// live migration. It gets an RA within 1 s of the binding appearing, its
// default route works, and its DHCPv6 Renew is answered. Two ways make the
// router the same on both TAPs: router_address and server_duid, or the
// hypervisors' practice of giving every TAP one MAC (Calico's
// ee:ee:ee:ee:ee:ee) with neither set.
func TestMove(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	for _, tc := range []struct {
		name     string
		tapMAC   string // both TAPs'; "" for the kernel's random ones
		settings []string
		router   func(tapMAC net.HardwareAddr) netip.Addr
	}{
		{name: "router_address",
			settings: []string{"ipv6.router_address", "fe80::1", "ipv6.server_duid", "00:03:00:01:ee:ee:ee:ee:ee:ee"},
			router:   func(net.HardwareAddr) netip.Addr { return netip.MustParseAddr("fe80::1") }},
		{name: "same_tap_mac", tapMAC: "ee:ee:ee:ee:ee:ee", router: lab.LinkLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m steering) {
				l := lab.New(t)
				vm := l.AddMovableVM("tap10", lab.SeedMAC)
				if tc.tapMAC != "" {
					l.Host("ip", "link", "set", "tap10", "address", tc.tapMAC)
				}
				// T1 of 2 s: dhclient renews every 2 s; T2 (105 s) is far
				// beyond the test, so a Renew the daemon ignores is never
				// saved by a Rebind.
				settings := append(m.setup(l), "ipv6.mode", "dhcpv6", "dhcp.lease_lifetime", "120", "dhcp.lease_renewal", "2")
				conf, datapath := l.SeedConfig(append(settings, tc.settings...)...)
				lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
				l.Host("ip", "-6", "addr", "add", beyond.String()+"/128", "dev", "lo")
				l.Host("ip", "-6", "route", "add", lab.SeedPrefix6.String(), "dev", "tap10")
				vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1")
				d := l.StartDaemon(conf)

				// Before the move: the VM's lease, its default route via the
				// router, and that route at work.
				dhc := vm.StartDhclient6()
				addr := waitEvent(t, dhc, "BOUND6", 0, lab.Within(15*time.Second))
				vm.Run("ip", "-6", "addr", "add", addr+"/128", "dev", "eth0", "nodad")
				router := tc.router(l.LinkMAC("tap10"))
				waitDefaultRoute(t, vm, router)
				if err := vm.Ping6(beyond, lab.Within(2*time.Second)); err != nil {
					t.Fatalf("before the move: %v", err)
				}

				// The move: tap20 comes up in the VM's link, tap10 goes; the
				// binding goes with the VM, under tap20's name.
				ras := vm.WatchRA()
				tap10MAC := l.LinkMAC("tap10")
				vm.MoveTo("tap20", tc.tapMAC)
				tap20MAC := l.LinkMAC("tap20")
				if (tc.tapMAC == "") != (tap10MAC.String() != tap20MAC.String()) {
					t.Fatalf("tap10 has MAC %s, tap20 %s: not what the case is about", tap10MAC, tap20MAC)
				}
				os.Remove(filepath.Join(datapath, "tap10"))
				l.Host("ip", "-6", "route", "replace", lab.SeedPrefix6.String(), "dev", "tap20")
				events := len(dhc.Events())
				written := time.Now()
				lab.WriteBinding(datapath, "tap20", strings.ReplaceAll(lab.SeedBinding, "tap10", "tap20"))

				select {
				case ra := <-ras:
					took := ra.At.Sub(written)
					t.Logf("RA from %s (SLLA %s) %v after the binding was written", ra.From, ra.SLLA, took.Round(time.Millisecond))
					if ra.From != router || ra.SLLA.String() != tap20MAC.String() || ra.Lifetime == 0 {
						t.Errorf("RA from %s, SLLA %s, lifetime %d; want from %s, SLLA tap20's %s, a router", ra.From, ra.SLLA, ra.Lifetime, router, tap20MAC)
					}
					if took > lab.Within(time.Second) {
						t.Errorf("the RA came %v after the binding, want within 1 s", took)
					}
				case <-time.After(lab.Within(5 * time.Second)):
					t.Fatalf("no RA within 5 s of the binding on tap20:\n%s", d.Log())
				}
				waitDefaultRoute(t, vm, router)
				if err := vm.Ping6(beyond, lab.Within(time.Second)); err != nil {
					t.Errorf("after the move, by the default route via %s: %v\n%s", router, err, vm.Run("ip", "-6", "neigh"))
				}
				waitEvent(t, dhc, "RENEW6", events, lab.Within(10*time.Second))
				if !strings.Contains(d.Log(), "iface=tap20 mac="+lab.SeedMAC+" kind=dhcpv6-renew") {
					t.Errorf("the daemon did not log the Renew on tap20:\n%s", d.Log())
				}
			})
		})
	}
}

// waitEvent waits for dhclient's script to be told reason, after the first
// skip events, and returns the address it was given.
func waitEvent(t *testing.T, d *lab.Dhclient6Run, reason string, skip int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		events := d.Events()
		for _, e := range events[min(skip, len(events)):] {
			if r, addr, _ := strings.Cut(e, " "); r == reason {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dhclient -6: no %s within %v; events %q", reason, within, events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDefaultRoute waits until the VM's kernel has a default route via
// router, learnt from an RA.
func waitDefaultRoute(t *testing.T, vm *lab.VM, router netip.Addr) {
	t.Helper()
	want := "default via " + router.String() + " dev eth0 proto ra"
	deadline := time.Now().Add(lab.Within(5 * time.Second))
	for {
		out := vm.Run("ip", "-6", "route", "show", "default")
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VM's default route is %q, want %q", strings.TrimSpace(out), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A binding's MAC changes while its TAP stays (a VM re-created with a new
// NIC): the new MAC is served at once, the old one is dropped as spoofed
// (in the kernel, in tc steering, and counted there), and the TAP gets an
// RA on arrival, as for a new VM.
func TestMACChange(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		const newMAC = "aa:6b:39:22:33:55"
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		d := l.StartDaemon(conf)
		if _, err := vm.UdhcpcTries(2); err != nil {
			t.Fatalf("before the change: %v", err)
		}
		const arrival = `msg="RA on arrival" part=ra iface=tap10`
		arrivals := strings.Count(d.Log(), arrival)
		if arrivals != 0 {
			t.Errorf("%d RAs on arrival for a binding found at start, want none (the periodic round reaches it):\n%s", arrivals, d.Log())
		}

		lab.WriteBinding(datapath, "tap10", lab.SeedBindingFor("tap10", "192.0.2.100", newMAC, "testing-vm"))
		deadline := time.Now().Add(lab.Within(2 * time.Second))
		for !applied(t, l, d, m, newMAC) || strings.Count(d.Log(), arrival) <= arrivals {
			if time.Now().After(deadline) {
				t.Fatalf("the new MAC was not applied, or no RA on arrival followed, within 2 s:\n%s", d.Log())
			}
			time.Sleep(10 * time.Millisecond)
		}

		var before loader.Stats
		if m.name != "iptables" {
			before = counters(t, l)
		}
		if got, err := vm.UdhcpcTries(1); err == nil {
			t.Fatalf("the old MAC got a lease after the change: %v", got)
		}
		if m.name == "iptables" {
			if !strings.Contains(d.Log(), `msg="spoofed request dropped"`) || !strings.Contains(d.Log(), `iface=tap10 mac=`+lab.SeedMAC+` bound_mac=`+newMAC+` kind=dhcp-discover`) {
				t.Errorf("the old MAC's DISCOVER was not dropped as spoofed:\n%s", d.Log())
			}
		} else if after := counters(t, l); after.DHCP.Spoofed != before.DHCP.Spoofed+1 || after.DHCP.Marked != before.DHCP.Marked {
			t.Errorf("the old MAC's DISCOVER: spoofed %d → %d, marked %d → %d; want spoofed +1 in the kernel, none marked",
				before.DHCP.Spoofed, after.DHCP.Spoofed, before.DHCP.Marked, after.DHCP.Marked)
		}

		vm.Run("ip", "link", "set", "eth0", "address", newMAC)
		if m.name != "iptables" {
			before = counters(t, l)
		}
		got, err := vm.UdhcpcTries(2)
		if err != nil {
			t.Fatalf("the new MAC is not served: %v", err)
		}
		want(t, "udhcpc", got, map[string]string{"ip": "192.0.2.100"})
		if m.name != "iptables" {
			if after := counters(t, l); after.DHCP.Marked < before.DHCP.Marked+2 || after.DHCP.Spoofed != before.DHCP.Spoofed {
				t.Errorf("the new MAC's DISCOVER and REQUEST: marked %d → %d, spoofed %d → %d",
					before.DHCP.Marked, after.DHCP.Marked, before.DHCP.Spoofed, after.DHCP.Spoofed)
			}
		}
	})
}

// applied reports whether the daemon has taken tap10's new MAC: in the
// classifier's map in tc steering, in its bindings otherwise.
func applied(t *testing.T, l *lab.Lab, d *lab.Daemon, m steering, mac string) bool {
	if m.name == "iptables" {
		return strings.Contains(d.Log(), `msg="binding updated" part=bindings tap=tap10`)
	}
	ifaces, err := loader.PinnedIfaces(l.PinPath)
	if err != nil {
		t.Fatal(err)
	}
	return ifaces[l.Ifindex("tap10")].String() == mac
}
