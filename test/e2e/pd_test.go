package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// The seed binding's VM delegated a /56 (DELEGATED_PREFIX6), and the route
// the daemon gives it: via the VM's link-local address, out of its TAP.
const (
	pdPrefix = "2001:db8:cccc::/56"
	pdOther  = "2001:db8:dddd::/56"
)

var pdRoute = pdPrefix + " via " + lab.LinkLocal(mustMAC(lab.SeedMAC)).String() + " dev tap10 metric 1024 pref medium"

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// pdLab is seedLab with DELEGATED_PREFIX6 in the binding and the
// configuration's settings added.
func pdLab(t *testing.T, m steering, settings ...string) (*lab.Lab, *lab.VM, *lab.Daemon, string) {
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	conf, datapath := l.SeedConfig(append(m.setup(l), settings...)...)
	if err := lab.WriteBinding(datapath, "tap10", lab.SeedBinding+"DELEGATED_PREFIX6="+pdPrefix+"\n"); err != nil {
		t.Fatal(err)
	}
	return l, vm, l.StartDaemon(conf), datapath
}

// ourRoutes is the host's routes of protocol 78, one a line.
func ourRoutes(l *lab.Lab) string {
	return strings.TrimSpace(l.Host("ip", "-6", "route", "show", "proto", "78"))
}

// waitRoutes waits until the host's routes of ours are want.
func waitRoutes(t *testing.T, l *lab.Lab, what, want string) {
	t.Helper()
	deadline := time.Now().Add(lab.Within(2 * time.Second))
	for got := ourRoutes(l); got != want; got = ourRoutes(l) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: routes of proto 78:\n%s\nwant:\n%s", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingFromHost pings addr from the host namespace, once.
func pingFromHost(l *lab.Lab, addr string) error {
	out, err := l.HostTry("busybox", "ping6", "-c", "1", "-W", "2", addr)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// dhclient -6 -P takes the prefix: the host routes it to the VM's
// link-local address, so a packet from the host to an address of the
// prefix set up in the VM reaches the VM; the binding table, /bindings and
// the metrics say so. When the binding loses the prefix the route goes,
// and dhclient's next Renew returns it with lifetimes 0.
func TestPrefixDelegationDhclient(t *testing.T) {
	lab.RequireTools(t, "dhclient", "busybox")
	forEachMode(t, func(t *testing.T, m steering) {
		const listen = "127.0.0.1:9367"
		// pd_lifetime 10: dhclient renews after 5 s.
		l, vm, d, datapath := pdLab(t, m, "ipv6.pd_lifetime", "10", "metrics_listen", listen)
		if err := pingFromHost(l, "2001:db8:cccc::1"); err == nil {
			t.Fatal("the prefix is reachable before it was delegated")
		}
		c := vm.StartDhclient6PD("-P")
		got, err := c.Wait("BOUND6.prefix", time.Time{}, lab.Within(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -P", got, map[string]string{
			"new_ip6_prefix": pdPrefix, "new_max_life": "10", "new_preferred_life": "10", "new_renew": "5", "new_rebind": "8",
		})
		waitRoutes(t, l, "taken", pdRoute)
		vm.Run("ip", "-6", "addr", "add", "2001:db8:cccc::1/128", "dev", "lo")
		if err := pingFromHost(l, "2001:db8:cccc::1"); err != nil {
			t.Errorf("host to an address of the prefix in the VM: %v", err)
		}

		// Visible in /bindings, the metrics and the SIGUSR1 table.
		_, body, err := l.HTTPGet("http://" + listen + "/bindings")
		var rows []struct {
			DelegatedPrefixes6 []string `json:"delegated_prefixes6"`
			Delegations        []struct {
				Prefix  string `json:"prefix"`
				NextHop string `json:"next_hop"`
				Routed  bool   `json:"routed"`
			} `json:"delegations"`
		}
		if err != nil || json.Unmarshal([]byte(body), &rows) != nil || len(rows) != 1 || len(rows[0].Delegations) != 1 ||
			rows[0].Delegations[0].Prefix != pdPrefix || !rows[0].Delegations[0].Routed || rows[0].DelegatedPrefixes6[0] != pdPrefix ||
			rows[0].Delegations[0].NextHop != lab.LinkLocal(mustMAC(lab.SeedMAC)).String() {
			t.Errorf("/bindings (%v):\n%s", err, body)
		}
		_, body, err = l.HTTPGet("http://" + listen + "/metrics")
		for _, s := range []string{`nfdhcpd_delegated_prefixes{state="delegated"} 1`, `nfdhcpd_delegated_prefixes{state="taken"} 1`,
			`nfdhcpd_delegated_prefixes{state="routed"} 1`, `nfdhcpd_route_errors_total 0`} {
			if err != nil || !strings.Contains(body, s) {
				t.Errorf("/metrics lacks %s (%v)", s, err)
			}
		}
		d.Signal(syscall.SIGUSR1)
		if !d.WaitLog(pdPrefix+" (routed)", 2*time.Second) {
			t.Errorf("SIGUSR1 table: no %s (routed)", pdPrefix)
		}

		// The binding loses the prefix: the route goes at once, and the
		// next Renew hands the prefix back with lifetimes 0.
		lost := time.Now()
		if err := lab.WriteBinding(datapath, "tap10", lab.SeedBinding); err != nil {
			t.Fatal(err)
		}
		waitRoutes(t, l, "binding without the prefix", "")
		if err := pingFromHost(l, "2001:db8:cccc::1"); err == nil {
			t.Error("the prefix is still reachable once the binding lost it")
		}
		got, err = c.Wait("RENEW6.prefix", lost, lab.Within(12*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -P, renewing a prefix no longer delegated", got, map[string]string{
			"new_ip6_prefix": pdPrefix, "new_max_life": "0", "new_preferred_life": "0",
		})
		if got, err := c.Wait("EXPIRE6.prefix", lost, lab.Within(2*time.Second)); err != nil || got["old_ip6_prefix"] != pdPrefix {
			t.Errorf("dhclient did not drop the prefix (%v): %v", err, got)
		}
	})
}

// dhcpcd with ia_pd numbers a link of its VM from the prefix, and the host
// reaches that address. Stopped with release, it gives the prefix back and
// the route goes; killed, the route goes when the prefix's lifetime runs
// out.
func TestPrefixDelegationDhcpcd(t *testing.T) {
	lab.RequireTools(t, "dhcpcd", "busybox")
	forEachMode(t, func(t *testing.T, m steering) {
		l, vm, _, _ := pdLab(t, m, "ipv6.pd_lifetime", "6")
		vm.Run("ip", "link", "add", "down0", "type", "veth", "peer", "name", "down1")
		vm.Run("ip", "link", "set", "down0", "up")
		vm.Run("ip", "link", "set", "down1", "up")

		c := vm.StartDhcpcdPD("down0", true)
		got, err := c.Wait("BOUND6.eth0", time.Time{}, lab.Within(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhcpcd ia_pd", got, map[string]string{
			"new_dhcp6_ia_pd1_prefix1": "2001:db8:cccc::", "new_dhcp6_ia_pd1_prefix1_length": "56",
			"new_dhcp6_ia_pd1_prefix1_vltime": "6",
		})
		if _, err := c.Wait("DELEGATED6.down0", time.Time{}, lab.Within(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		waitRoutes(t, l, "taken", pdRoute)
		if out := vm.Run("ip", "-6", "addr", "show", "dev", "down0"); !strings.Contains(out, "2001:db8:cccc::1/64") {
			t.Errorf("dhcpcd numbered down0 with:\n%s", out)
		}
		if err := pingFromHost(l, "2001:db8:cccc::1"); err != nil {
			t.Errorf("host to the VM's address from the prefix: %v", err)
		}
		c.Stop()
		if !strings.Contains(c.Log(), "RELEASE6") {
			t.Errorf("dhcpcd sent no Release:\n%s", c.Log())
		}
		waitRoutes(t, l, "released", "")

		// Killed, it releases nothing: the route lasts until the
		// lifetime of its last Reply (6 s; it renews every 3 s) runs out.
		c = vm.StartDhcpcdPD("down0", false)
		if _, err := c.Wait("BOUND6.eth0", time.Time{}, lab.Within(15*time.Second)); err != nil {
			t.Fatal(err)
		}
		waitRoutes(t, l, "taken again", pdRoute)
		c.Kill()
		killed := time.Now()
		if got := ourRoutes(l); got != pdRoute {
			t.Errorf("the route went with the client, before its lifetime ran out: %q", got)
		}
		deadline := killed.Add(lab.Within(8 * time.Second))
		for ourRoutes(l) != "" {
			if time.Now().After(deadline) {
				t.Fatalf("the route outlived the prefix's lifetime by %v", time.Since(killed))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// In mode dhcpv6 a client that asks for both gets its address (IA_NA) and
// its prefix (IA_PD) in one exchange.
func TestPrefixDelegationBesideAddress(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		l, vm, _, _ := pdLab(t, m, "ipv6.mode", "dhcpv6")
		c := vm.StartDhclient6PD("-N", "-P")
		got, err := c.Wait("BOUND6.prefix", time.Time{}, lab.Within(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -N -P, its prefix", got, map[string]string{"new_ip6_prefix": pdPrefix})
		if got, err = c.Wait("BOUND6", time.Time{}, lab.Within(time.Second)); err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -N -P, its address", got, map[string]string{"new_ip6_address": "2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344"})
		if n := strings.Count(c.Log(), "XMT: Forming Request"); n != 1 {
			t.Errorf("%d Requests, want both in one:\n%s", n, c.Log())
		}
		waitRoutes(t, l, "taken", pdRoute)
	})
}

// The routes of ours outlive the daemon, so that VMs keep their prefixes
// routed across a restart; at start, a route the bindings still justify
// is kept and every other one of ours is removed, and none of anyone
// else's is touched. With pd_routes = no every route of ours goes, and
// none is added.
func TestPrefixRoutesAcrossRestarts(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		setup := m.setup(l)
		conf, datapath := l.SeedConfig(setup...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding+"DELEGATED_PREFIX6="+pdPrefix+"\n")
		d := l.StartDaemon(conf)
		c := vm.StartDhclient6PD("-P")
		if _, err := c.Wait("BOUND6.prefix", time.Time{}, lab.Within(15*time.Second)); err != nil {
			t.Fatal(err)
		}
		c.Kill()
		waitRoutes(t, l, "taken", pdRoute)

		d.Kill() // a crash
		ll := lab.LinkLocal(mustMAC(lab.SeedMAC)).String()
		l.Host("ip", "-6", "route", "add", pdOther, "via", ll, "dev", "tap10", "proto", "78")                  // a stale one of ours
		l.Host("ip", "-6", "route", "add", "2001:db8:eeee::/48", "via", ll, "dev", "tap10", "proto", "static") // someone else's
		d = l.StartDaemon(conf)
		if !d.WaitLog("route of a delegated prefix kept from before", 2*time.Second) {
			t.Error("the route of the prefix taken is not adopted")
		}
		waitRoutes(t, l, "after a restart", pdRoute)
		if out := l.Host("ip", "-6", "route", "show", "proto", "static"); !strings.Contains(out, "2001:db8:eeee::/48") {
			t.Errorf("someone else's route was touched: %q", out)
		}
		d.Stop()
		if got := ourRoutes(l); got != pdRoute {
			t.Errorf("a stop removed the route: %q", got)
		}

		conf, _ = l.SeedConfig(append(setup, "ipv6.pd_routes", "no")...)
		d = l.StartDaemon(conf)
		waitRoutes(t, l, "pd_routes = no", "")
		c = vm.StartDhclient6PD("-P")
		got, err := c.Wait("BOUND6.prefix", time.Time{}, lab.Within(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -P with pd_routes = no", got, map[string]string{"new_ip6_prefix": pdPrefix})
		if !d.WaitLog("delegated prefix taken", 2*time.Second) {
			t.Error("the take is not followed")
		}
		time.Sleep(200 * time.Millisecond)
		if got := ourRoutes(l); got != "" {
			t.Errorf("pd_routes = no, yet routes: %q", got)
		}
	})
}
