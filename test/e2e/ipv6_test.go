package e2e

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// routerLinkLocal is fe80::/64 with the modified EUI-64 of mac.
func routerLinkLocal(t *testing.T, mac string) string {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:11], hw[0:3])
	a[8] ^= 0x02
	a[11], a[12] = 0xff, 0xfe
	copy(a[13:16], hw[3:6])
	return netip.AddrFrom16(a).String()
}

// lines folds runs of blanks so that rdisc6's aligned columns compare simply.
func lines(out string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		m[strings.Join(strings.Fields(l), " ")] = true
	}
	return m
}

func expectLines(t *testing.T, tool, out string, exp ...string) {
	t.Helper()
	got := lines(out)
	for _, e := range exp {
		if !got[e] {
			t.Errorf("%s: no line %q in:\n%s", tool, e, out)
		}
	}
}

func TestRdisc6(t *testing.T) {
	lab.RequireTools(t, "rdisc6")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		out, err := vm.Rdisc6()
		if err != nil {
			t.Fatalf("rdisc6: %v\n%s", err, out)
		}
		expectLines(t, "rdisc6", out,
			"Hop limit : 64 ( 0x40)",
			"Stateful address conf. : No",
			"Stateful other conf. : Yes", // mode auto with all queues: slaac+dhcpv6
			"Source link-layer address: "+strings.ToUpper(vm.HostMAC()),
			"Prefix : 2001:db8:aaaa:bbbb::/64",
			"On-link : Yes",
			"Autonomous address conf.: Yes",
			"MTU : 1450 bytes (valid)",
			"Recursive DNS server : 2001:db8:100::1",
			"Recursive DNS server : 2001:db8:200::2",
			"DNS search list : example.com",
			"from "+routerLinkLocal(t, vm.HostMAC()),
		)
	})
}

func TestNdisc6Gateway(t *testing.T) {
	lab.RequireTools(t, "ndisc6")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		for _, target := range []string{"2001:db8:aaaa:bbbb::1", routerLinkLocal(t, vm.HostMAC())} {
			out, err := vm.Ndisc6(target)
			if err != nil {
				t.Fatalf("ndisc6 %s: %v\n%s", target, err, out)
			}
			expectLines(t, "ndisc6 "+target, out, "Target link-layer address: "+strings.ToUpper(vm.HostMAC()))
		}
	})
}

func TestDhclient6Stateless(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		got, err := vm.Dhclient6(true)
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6 -S", got, map[string]string{
			"new_dhcp6_name_servers":  "2001:db8:100::1 2001:db8:200::2",
			"new_dhcp6_domain_search": "example.com.",
		})
	})
}

func TestDhclient6Stateful(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m, "ipv6.mode", "dhcpv6")
		got, err := vm.Dhclient6(false)
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient -6", got, map[string]string{
			"new_ip6_address":         "2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344",
			"new_ip6_prefixlen":       "128",
			"new_dhcp6_name_servers":  "2001:db8:100::1 2001:db8:200::2",
			"new_dhcp6_domain_search": "example.com.",
		})
	})
}
