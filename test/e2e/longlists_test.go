package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// A binding -t accepted crashed the daemon, and with it every VM of the
// host: 90 NAMESERVERS6 and no MTU overran the RA's buffer on that VM's
// first RS (slice bounds out of range [:1464:1460]), and in the periodic
// RA. Now the binding's load is warned about, its RA carries the first 87
// addresses (all a 1500-byte packet holds) and its DHCPv6 reply the first
// 88, and the daemon goes on serving that VM and the others.
func TestLongNameservers6(t *testing.T) {
	lab.RequireTools(t, "rdisc6", "udhcpc", "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		good := l.AddVM("tap10", lab.SeedMAC)
		long := l.AddVM("tap11", "aa:6b:39:22:33:11")
		var ns6 []string
		for i := 1; i <= 90; i++ {
			ns6 = append(ns6, fmt.Sprintf("2001:db8:53::%x", i))
		}
		longBinding := strings.Replace(lab.SeedBindingFor("tap11", "192.0.2.111", long.MAC, "long-vm"), "MTU=1450\n", "", 1) +
			"NAMESERVERS6=" + strings.Join(ns6, ",") + "\n"
		for tap, b := range map[string]string{"tap10": lab.SeedBinding, "tap11": longBinding} {
			if err := lab.WriteBinding(datapath, tap, b); err != nil {
				t.Fatal(err)
			}
		}
		d := l.StartDaemon(conf)
		if !d.WaitLog(`iface=tap11 why="an RA of 1500 bytes has no room for 3 of 90 DNS servers, 1 of 1 search domains"`, lab.Within(2*time.Second)) {
			t.Errorf("no warning as tap11's binding loaded")
		}

		out, err := long.Rdisc6()
		if err != nil {
			t.Errorf("rdisc6 on tap11: %v\n%s", err, out)
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 5 && strings.Join(f[:3], " ") == "Recursive DNS server" {
				got = append(got, f[4])
			}
		}
		if strings.Join(got, ",") != strings.Join(ns6[:87], ",") {
			t.Errorf("tap11's RA carries %d DNS servers %v, want the first 87 of 90", len(got), got)
		}
		time.Sleep(200 * time.Millisecond) // a crash takes less
		if !d.Running() {
			t.Fatalf("the daemon exited after tap11's RS:\n%s", d.Log())
		}

		// Everyone is still served: the other VM, and tap11's DHCPv4 and DHCPv6.
		if v, err := good.Udhcpc(); err != nil || v["ip"] != "192.0.2.100" {
			t.Errorf("tap10 DHCPv4: %v %v", v, err)
		}
		if out, err := good.Rdisc6(); err != nil || !strings.Contains(out, "2001:db8:100::1") {
			t.Errorf("tap10 RA: %v\n%s", err, out)
		}
		if v, err := long.Udhcpc(); err != nil || v["ip"] != "192.0.2.111" {
			t.Errorf("tap11 DHCPv4: %v %v", v, err)
		}
		if v, err := long.Dhclient6(true); err != nil {
			t.Errorf("tap11 DHCPv6: %v", err)
		} else if servers := strings.Fields(v["new_dhcp6_name_servers"]); strings.Join(servers, ",") != strings.Join(ns6[:88], ",") {
			t.Errorf("tap11's DHCPv6 reply carries %d DNS servers %v, want the first 88 of 90", len(servers), servers)
		}
		if !d.Running() {
			t.Fatalf("the daemon exited:\n%s", d.Log())
		}
	})
}
