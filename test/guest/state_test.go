package guest

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// What a guest wrote with udhcpc, the kernel's SLAAC and dhclient -6 -S
// (iproute2 6.1's JSON).
var sampleShare = map[string]string{
	"addr.json":      `[{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"qdisc":"fq_codel","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"aa:6b:39:22:33:44","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"192.0.2.100","prefixlen":24,"broadcast":"192.0.2.255","scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344","prefixlen":64,"scope":"global","dynamic":true,"mngtmpaddr":true,"valid_life_time":86400,"preferred_life_time":14400},{"family":"inet6","local":"fe80::a86b:39ff:fe22:3344","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`,
	"route4.json":    `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.100","flags":[]}]`,
	"route6.json":    `[{"dst":"2001:db8:aaaa:bbbb::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fe80::7ce2:99ff:fe36:ed8f","dev":"eth0","protocol":"ra","metric":1024,"flags":[],"expires":894,"metrics":[{"hoplimit":64},{"mtu":1450}],"pref":"medium"}]`,
	"neigh6.json":    `[{"dst":"fe80::7ce2:99ff:fe36:ed8f","lladdr":"7e:e2:99:36:ed:8f","router":null,"state":["STALE"]},{"dst":"2001:db8:aaaa:bbbb::1","lladdr":"7e:e2:99:36:ed:8f","state":["REACHABLE"]},{"dst":"2001:db8:aaaa:bbbb::9","state":["FAILED"]}]`,
	"mtu6":           "1450\n",
	"snmp6":          "Ip6InReceives                   \t8\nIcmp6InRouterAdvertisements     \t1\nIcmp6OutRouterSolicits          \t2\n",
	"netif/leases/2": "# This is private data. Do not parse.\nADDRESS=192.0.2.101\n",
}

func writeShare(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadState(t *testing.T) {
	st, err := ReadState(writeShare(t, sampleShare))
	if err != nil {
		t.Fatal(err)
	}
	if st.MTU != 1450 || st.MTU6 != 1450 {
		t.Errorf("MTU %d, MTU6 %d, want 1450 both", st.MTU, st.MTU6)
	}
	wantAddrs := []Addr{
		{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Scope: "global", Valid: 0xffffffff, Preferred: 0xffffffff},
		{Prefix: netip.MustParsePrefix("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344/64"), Scope: "global", Dynamic: true, Valid: 86400, Preferred: 14400},
		{Prefix: netip.MustParsePrefix("fe80::a86b:39ff:fe22:3344/64"), Scope: "link", Valid: 0xffffffff, Preferred: 0xffffffff},
	}
	if !reflect.DeepEqual(st.Addrs, wantAddrs) {
		t.Errorf("addrs\n%+v, want\n%+v", st.Addrs, wantAddrs)
	}
	wantRoutes := []Route{
		{Dst: "default", Gateway: netip.MustParseAddr("192.0.2.1"), Dev: "eth0", Protocol: "boot"},
		{Dst: "192.0.2.0/24", Dev: "eth0", Protocol: "kernel"},
		{Dst: "2001:db8:aaaa:bbbb::/64", Dev: "eth0", Protocol: "kernel", Metric: 256},
		{Dst: "default", Gateway: netip.MustParseAddr("fe80::7ce2:99ff:fe36:ed8f"), Dev: "eth0", Protocol: "ra", Metric: 1024, MTU: 1450, Expires: 894},
	}
	if !reflect.DeepEqual(st.Routes, wantRoutes) {
		t.Errorf("routes\n%+v, want\n%+v", st.Routes, wantRoutes)
	}
	if r, ok := st.Default(true); !ok || r.Gateway != netip.MustParseAddr("fe80::7ce2:99ff:fe36:ed8f") {
		t.Errorf("IPv6 default %+v %v", r, ok)
	}
	if r, ok := st.Default(false); !ok || r.Gateway != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("IPv4 default %+v %v", r, ok)
	}
	n, ok := st.Neighbour(netip.MustParseAddr("2001:db8:aaaa:bbbb::1"))
	if !ok || n.LLAddr.String() != "7e:e2:99:36:ed:8f" || n.Router || !reflect.DeepEqual(n.State, []string{"REACHABLE"}) {
		t.Errorf("gateway neighbour %+v %v", n, ok)
	}
	if n, _ := st.Neighbour(netip.MustParseAddr("fe80::7ce2:99ff:fe36:ed8f")); !n.Router {
		t.Errorf("router link-local %+v: no router flag", n)
	}
	if n, ok := st.Neighbour(netip.MustParseAddr("2001:db8:aaaa:bbbb::9")); !ok || n.LLAddr != nil {
		t.Errorf("failed entry %+v %v", n, ok)
	}
	if st.Snmp6["Icmp6OutRouterSolicits"] != 2 || st.Snmp6["Icmp6InRouterAdvertisements"] != 1 {
		t.Errorf("snmp6 %v", st.Snmp6)
	}
	if !strings.Contains(st.Files["netif/leases/2"], "ADDRESS=192.0.2.101") {
		t.Errorf("files %v", st.Files)
	}
}

func TestReadStateErrors(t *testing.T) {
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range sampleShare {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, c := range []struct {
		files map[string]string
		want  string
	}{
		{with("setup-errors", "modprobe virtio_net failed\n"), "the guest's setup failed: modprobe virtio_net failed"},
		{with("addr.json", ""), "addr.json: unexpected end of JSON input"},
		{with("addr.json", "[]"), "addr.json: 0 links, want eth0 alone"},
		{with("route6.json", `[{"dst":"default","gateway":"fe80::zz"}]`), "route6.json: "},
		{with("neigh6.json", `[{"dst":"2001:db8::1","lladdr":"not-a-mac"}]`), "neigh6.json: "},
		{with("mtu6", ""), "mtu6: "},
	} {
		_, err := ReadState(writeShare(t, c.files))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("err %v, want %q...", err, c.want)
		}
	}
}

func TestLogged(t *testing.T) {
	log := `time=2026-11-28T20:30:22.993Z level=DEBUG msg="periodic RA" part=ra iface=tap10
time=2026-11-28T20:30:30.760Z level=DEBUG msg=request part=nfq queue=43 qname=rs iface=tap10 mac=aa:6b:39:22:33:44 kind=rs xid=0x0 outcome=answered
time=2026-11-28T20:30:31.368Z level=DEBUG msg=request part=nfq queue=44 qname=ns iface=tap10 mac=aa:6b:39:22:33:44 kind=ns xid=0x0 outcome=ignored reason="DAD probe for an address the router does not own"
`
	for _, c := range []struct {
		fields []string
		want   bool
	}{
		{[]string{`msg="periodic`, `RA"`, "iface=tap10"}, true},
		{[]string{`msg="periodic`, `RA"`, "iface=tap11"}, false},
		{[]string{"msg=request", "mac=aa:6b:39:22:33:44", "kind=rs", "outcome=answered"}, true},
		{[]string{"msg=request", "mac=aa:6b:39:22:33:44", "kind=ns", "outcome=answered"}, false},
		{[]string{"msg=request", "mac=aa:6b:39:22:33:4", "kind=rs"}, false},
	} {
		if got := logged(log, c.fields...); got != c.want {
			t.Errorf("logged(%q) = %v, want %v", c.fields, got, c.want)
		}
	}
}
