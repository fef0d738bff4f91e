package guest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
	"github.com/nfdhcpd/nfdhcpd/test/vmimage"
)

// A setup is one way a hypervisor puts a VM's TAP on the network and steers
// its requests to nfdhcpd.
type setup struct {
	name   string
	bridge bool // the TAPs are ports of br0, which the bindings' INDEV names
	// kernel: the classifier answers RS and NS itself (tc steering's
	// default, kernel_answers), so the daemon never sees them.
	kernel bool
	// steer prepares the host namespace (the TAPs exist) and returns the
	// configuration's settings.
	steer func(l *lab.Lab) []string
}

var setups = []setup{
	{name: "tc-routed", kernel: true, steer: tcSteering},
	{name: "iptables-routed", steer: func(l *lab.Lab) []string {
		l.SeedRules() // README's rules, matching tap+
		return []string{"steering", "iptables"}
	}},
	{name: "tc-bridge", bridge: true, kernel: true, steer: tcSteering},
}

func tcSteering(l *lab.Lab) []string {
	return []string{"steering", "tc", "bpf_pin_path", l.BPFFS()}
}

// A vm is one guest of each setup, with the client stack it runs.
type vm struct {
	client, tap, mac, ip, hostname string
}

var vms = []vm{
	{client: "busybox", tap: "tap10", mac: lab.SeedMAC, ip: "192.0.2.100", hostname: "testing-vm"},
	{client: "networkd", tap: "tap11", mac: "aa:6b:39:22:33:11", ip: "192.0.2.101", hostname: "networkd-vm"},
}

// What SeedConfig and SeedBinding give every guest.
var (
	gateway4  = netip.MustParseAddr("192.0.2.1")
	gateway6  = netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	dns4      = []string{"192.0.2.2", "192.0.2.3"}
	dns6      = []string{"2001:db8:100::1", "2001:db8:200::2"}
	domain    = "example.com"
	mtu       = 1450
	leaseTime = 604800
	// The busybox guest's DELEGATED_PREFIX6, and the host's address in
	// its SUBNET6 that the prefix's ::1 pings on a routed TAP.
	delegated = netip.MustParsePrefix("2001:db8:cccc::/56")
	host6     = netip.MustParseAddr("2001:db8:aaaa:bbbb::2")
)

// bootTimeout bounds a guest from boot to power-off; one takes about 15 s
// alone on a 2-CPU host, and the guests of every setup boot at once.
const bootTimeout = 4 * time.Minute

// Every setup boots both guests at once, and the setups run in parallel:
// on 2 CPUs the whole test takes about a minute (README, "Real guests").
func TestGuests(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip(lab.NeedsRoot)
	}
	lab.RequireTools(t, "qemu-system-x86_64", "busybox", "cpio", "xz", "ip", "udhcpc", "dhclient",
		"modprobe", "depmod", lab.NetworkdPath)
	img := image(t)
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			runSetup(t, img, s)
		})
	}
}

func runSetup(t *testing.T, img *Image, s setup) {
	l := lab.New(t)
	var taps []string
	for _, v := range vms {
		l.AddTAP(v.tap)
		taps = append(taps, v.tap)
	}
	if s.bridge {
		// br_netfilter's hooks on, as wherever the module is loaded.
		l.Bridge("br0", true, taps...)
	}
	// A long period: the first round of periodic RAs goes out at start,
	// the next long after the guests are gone.
	conf, datapath := l.SeedConfig(append(s.steer(l), "ipv6.ra_period", "3600")...)
	for _, v := range vms {
		b := lab.SeedBindingFor(v.tap, v.ip, v.mac, v.hostname)
		if s.bridge {
			b = strings.Replace(b, "INDEV="+v.tap, "INDEV=br0", 1)
		}
		if v.client == "busybox" {
			b += "DELEGATED_PREFIX6=" + delegated.String() + "\n"
		}
		if err := lab.WriteBinding(datapath, v.tap, b); err != nil {
			t.Fatal(err)
		}
	}
	d := l.StartDaemon(conf)
	// Any RA a guest gets after the first periodic one answers its own
	// solicitation.
	if !d.WaitLog(`msg="periodic RA"`, lab.Within(5*time.Second)) {
		t.Fatalf("no periodic RA at start:\n%s", d.Log())
	}
	before := d.Log()
	guests := make([]*Guest, len(vms))
	for i, v := range vms {
		params := map[string]string{"gw6": gateway6.String()}
		if v.client == "busybox" {
			params["pd"] = "1"
			if !s.bridge {
				// The host's own address on the TAP, for the guest to
				// ping from its delegated prefix.
				l.Host("ip", "-6", "addr", "add", host6.String()+"/128", "dev", v.tap, "nodad")
				params["host6"] = host6.String()
			}
		}
		g, err := Boot(img, l.HostNS, filepath.Join(l.Dir, "guest-"+v.client), v.tap, v.mac, v.client, params)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Kill)
		guests[i] = g
	}
	errs := make([]error, len(vms))
	var wg sync.WaitGroup
	for i, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Wait(bootTimeout)
		}()
	}
	wg.Wait()
	log := d.Log()[len(before):]
	var kernel *loader.Stats
	if s.kernel {
		st, err := loader.PinnedStats(l.PinPath)
		if err != nil {
			t.Fatalf("the classifier's counters: %v", err)
		}
		kernel = &st
	}
	for i, v := range vms {
		g := guests[i]
		t.Run(v.client, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatalf("guest %s: %v", v.client, errs[i])
			}
			st, err := ReadState(g.Share)
			if err != nil {
				t.Fatalf("guest %s: %v%s", v.client, err, g.tail(30))
			}
			t.Logf("%s guest: %v from boot to power-off; its timeline (s since boot):\n%s", v.client,
				g.Took.Round(100*time.Millisecond), st.Files["timeline"])
			if st.Files["release"] != img.Release+"\n" {
				t.Errorf("the guest runs %q, not %s", st.Files["release"], img.Release)
			}
			c := &check{vm: v, st: st, log: log, tapMAC: l.LinkMAC(v.tap), guest: g, bridge: s.bridge, kernel: kernel}
			switch v.client {
			case "busybox":
				t.Run("dhcpv4-udhcpc", c.udhcpc)
				t.Run("slaac-kernel", c.slaac)
				t.Run("ns-gateway", c.neighbour)
				t.Run("dhcpv6-dhclient", c.dhclient6)
				t.Run("dhcpv6-pd-dhclient", c.delegation)
			case "networkd":
				t.Run("dhcpv4-networkd", c.networkd4)
				t.Run("slaac-networkd", c.slaac)
				t.Run("rdnss-networkd", c.rdnss)
				t.Run("ns-gateway", c.neighbour)
				t.Run("dhcpv6-networkd", c.networkd6)
			}
			if t.Failed() {
				for _, f := range []string{"udhcpc.log", "dhclient6.log", "ping6.log", "networkd.log", "dhclient6pd.log", "ping6pd.log"} {
					if text, ok := st.Files[f]; ok {
						t.Logf("the guest's %s (last lines):\n%s", f, lastLines(text, 60))
					}
				}
				t.Logf("its console (last lines):%s", g.tail(20))
			}
		})
	}
}

// check holds one guest's results and the daemon's log of its life.
type check struct {
	vm
	st     *State
	log    string // the daemon's log from the guests' boot on
	tapMAC net.HardwareAddr
	guest  *Guest
	bridge bool // the TAP is a port of br0
	// kernel holds the classifier's counters after the guests ran, where
	// it answers RS and NS itself; nil where the daemon does.
	kernel *loader.Stats
}

func (c *check) prefix() netip.Prefix { return netip.MustParsePrefix(c.ip + "/24") }

// answered fails t unless the daemon answered a request of kind from the
// guest's MAC; or, for RS and NS where the classifier answers them, unless
// it answered at least one from each guest (its counters are per kind, not
// per TAP). What it passes on, such as an NS for an address of the host's
// own, the daemon answers as ever.
func (c *check) answered(t *testing.T, kind string) {
	t.Helper()
	if c.kernel != nil && (kind == "rs" || kind == "ns") {
		for _, k := range loader.KindTable {
			if k.Name == kind && c.kernel.Of(k.Kind).Answered < uint64(len(vms)) {
				t.Errorf("the classifier answered %d %s, want one from each of the %d guests", c.kernel.Of(k.Kind).Answered, kind, len(vms))
			}
		}
		return
	}
	if !logged(c.log, "msg=request", "mac="+c.mac, "kind="+kind, "outcome=answered") {
		t.Errorf("the daemon's log has no answered %s from %s:\n%s", kind, c.mac, c.log)
	}
}

// logged reports whether a line of the daemon's log holds every field
// (key=value, as slog's text handler writes them).
func logged(log string, fields ...string) bool {
	for _, l := range strings.Split(log, "\n") {
		have := map[string]bool{}
		for _, f := range strings.Fields(l) {
			have[f] = true
		}
		all := true
		for _, f := range fields {
			all = all && have[f]
		}
		if all {
			return true
		}
	}
	return false
}

// file fails t unless the guest wrote name, and returns it.
func (c *check) file(t *testing.T, name string) string {
	t.Helper()
	f, ok := c.st.Files[name]
	if !ok {
		t.Fatalf("the guest wrote no %s (console:%s)", name, c.guest.tail(30))
	}
	return f
}

// vars fails t unless the Vars have every key with its value.
func vars(t *testing.T, what string, got lab.Vars, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: %s=%q, want %q", what, k, got[k], want[k])
		}
	}
}

// ipv4 checks what the kernel holds from a DHCPv4 lease: the address with
// the mask, the link MTU, the default route.
func (c *check) ipv4(t *testing.T, protocol string) Addr {
	t.Helper()
	a, ok := c.st.Addr(c.prefix())
	if !ok {
		t.Errorf("eth0 lacks %s: %+v", c.prefix(), c.st.Addrs)
	}
	if c.st.MTU != mtu {
		t.Errorf("eth0's MTU is %d, want %d", c.st.MTU, mtu)
	}
	if r, ok := c.st.Default(false); !ok || r.Gateway != gateway4 || r.Protocol != protocol {
		t.Errorf("IPv4 default route %+v (found %v), want via %s proto %s", r, ok, gateway4, protocol)
	}
	c.answered(t, "dhcp-discover")
	c.answered(t, "dhcp-request")
	return a
}

// udhcpc: Debian's udhcpc and its default.script configured eth0.
func (c *check) udhcpc(t *testing.T) {
	if got := strings.TrimSpace(c.file(t, "udhcpc.exit")); got != "0" {
		t.Fatalf("udhcpc exited %s:\n%s", got, c.st.Files["udhcpc.log"])
	}
	c.ipv4(t, "boot")
	// What udhcpc handed its script; the script does not apply the
	// hostname or the lease time.
	vars(t, "udhcpc", lab.ParseVars(c.file(t, "udhcpc.env")), map[string]string{
		"ip": c.ip, "mask": "24", "subnet": "255.255.255.0", "router": gateway4.String(),
		"dns": strings.Join(dns4, " "), "domain": domain, "hostname": c.hostname,
		"mtu": fmt.Sprint(mtu), "lease": fmt.Sprint(leaseTime), "serverid": gateway4.String(),
	})
	want := "domain " + domain + "\nnameserver " + strings.Join(dns4, "\nnameserver ") + "\n"
	if got := c.file(t, "resolv.conf.v4"); got != want {
		t.Errorf("resolv.conf after udhcpc:\n%s\nwant:\n%s", got, want)
	}
}

// networkd4: systemd-networkd's DHCPv4 client configured eth0, the lease's
// lifetime on the address.
func (c *check) networkd4(t *testing.T) {
	a := c.ipv4(t, "dhcp")
	if !a.Dynamic || a.Valid > uint32(leaseTime) || a.Valid < uint32(leaseTime)-300 {
		t.Errorf("%s: valid for %d s (dynamic %v), want the lease's %d s less the time since", a.Prefix, a.Valid, a.Dynamic, leaseTime)
	}
	vars(t, "networkd's lease", lab.ParseVars(c.networkdFile(t, "leases")), map[string]string{
		"ADDRESS": c.ip, "NETMASK": "255.255.255.0", "ROUTER": gateway4.String(), "SERVER_ADDRESS": gateway4.String(),
		"MTU": fmt.Sprint(mtu), "LIFETIME": fmt.Sprint(leaseTime), "DNS": strings.Join(dns4, " "),
		"DOMAINNAME": domain, "HOSTNAME": c.hostname,
	})
	link := lab.ParseVars(c.networkdFile(t, "links"))
	for _, s := range dns4 {
		if !strings.Contains(" "+link["DNS"]+" ", " "+s+" ") {
			t.Errorf("networkd's link state: DNS=%s lacks %s", link["DNS"], s)
		}
	}
	if !strings.Contains(" "+link["DOMAINS"]+" ", " "+domain+" ") {
		t.Errorf("networkd's link state: DOMAINS=%s lacks %s", link["DOMAINS"], domain)
	}
	// Applying it needs systemd-hostnamed over D-Bus, which the guest has
	// not: networkd's log says what it would set.
	if want := "Setting transient hostname: '" + c.hostname + "'"; !strings.Contains(c.file(t, "networkd.log"), want) {
		t.Errorf("networkd's log lacks %q", want)
	}
}

// networkdFile is networkd's state file of eth0 in folder (links,
// leases), copied from /run/systemd/netif.
func (c *check) networkdFile(t *testing.T, folder string) string {
	t.Helper()
	for name, text := range c.st.Files {
		if strings.HasPrefix(name, "netif/"+folder+"/") && !strings.Contains(text, "ADMIN_STATE=unmanaged") {
			return text
		}
	}
	t.Fatalf("the guest copied no networkd %s file of eth0", folder)
	return ""
}

// slaac: the RA that answered the guest's own RS gave it the EUI-64
// address, the default route via the router's link-local address (the
// TAP's), and the MTU.
func (c *check) slaac(t *testing.T) {
	mac, _ := net.ParseMAC(c.mac)
	want := netip.PrefixFrom(lab.EUI64(lab.SeedPrefix6, mac), 64)
	if a, ok := c.st.Addr(want); !ok || a.Scope != "global" {
		t.Errorf("eth0 lacks %s (scope global): %+v", want, c.st.Addrs)
	}
	router := lab.LinkLocal(c.tapMAC)
	if r, ok := c.st.Default(true); !ok || r.Gateway != router || r.Protocol != "ra" || r.Expires <= 0 {
		t.Errorf("IPv6 default route %+v (found %v), want via %s proto ra, expiring", r, ok, router)
	}
	if c.st.MTU6 != mtu {
		t.Errorf("net.ipv6.conf.eth0.mtu is %d, want the RA's %d", c.st.MTU6, mtu)
	}
	if n := c.st.Snmp6["Icmp6OutRouterSolicits"]; n < 1 {
		t.Errorf("the guest sent %d RS", n)
	}
	if n := c.st.Snmp6["Icmp6InRouterAdvertisements"]; n < 1 {
		t.Errorf("the guest got %d RA", n)
	}
	c.answered(t, "rs")
	// No periodic RA went out while the guests ran: the RA answered an RS.
	if logged(c.log, `msg="periodic`, `RA"`, "iface="+c.tap) {
		t.Errorf("a periodic RA went to %s while the guest ran: the address may not come from the RS's answer", c.tap)
	}
}

// neighbour: the guest's own NS for GATEWAY6 was answered with the TAP's
// MAC: a REACHABLE router entry.
func (c *check) neighbour(t *testing.T) {
	n, ok := c.st.Neighbour(gateway6)
	if !ok {
		t.Fatalf("no neighbour entry for %s: %+v\n%s", gateway6, c.st.Neigh6, c.st.Files["ping6.log"])
	}
	if n.LLAddr.String() != c.tapMAC.String() || !n.Router || len(n.State) != 1 || n.State[0] != "REACHABLE" {
		t.Errorf("neighbour %s: lladdr %s router %v state %v, want %s router [REACHABLE]", gateway6, n.LLAddr, n.Router, n.State, c.tapMAC)
	}
	c.answered(t, "ns")
}

// dhclient6: ISC dhclient -6 -S (stateless: Information-Request) and
// Debian's dhclient-script wrote the DNS servers and the search list.
func (c *check) dhclient6(t *testing.T) {
	if got := strings.TrimSpace(c.file(t, "dhclient6.exit")); got != "0" {
		t.Fatalf("dhclient -6 -S exited %s:\n%s", got, c.st.Files["dhclient6.log"])
	}
	want := "search " + domain + ".\nnameserver " + strings.Join(dns6, "\nnameserver ") + "\n"
	if got := c.file(t, "resolv.conf.v6"); got != want {
		t.Errorf("resolv.conf after dhclient -6 -S:\n%s\nwant:\n%s", got, want)
	}
	c.answered(t, "dhcpv6-information-request")
}

// delegation: ISC dhclient -6 -P took the binding's delegated prefix, and
// nfdhcpd routed it to the guest's link-local address: the guest's ping
// from the prefix's ::1 to the host got its answer, which only that route
// carries. A bridged TAP's prefix is delegated but never routed.
func (c *check) delegation(t *testing.T) {
	if got := strings.TrimSpace(c.file(t, "dhclient6pd.exit")); got != "0" {
		t.Fatalf("dhclient -6 -P exited %s:\n%s", got, c.st.Files["dhclient6pd.log"])
	}
	vars(t, "dhclient -6 -P", lab.ParseVars(c.file(t, "dhclient6pd.env")), map[string]string{
		"new_ip6_prefix": delegated.String(), "new_max_life": "86400",
	})
	c.answered(t, "dhcpv6-request")
	mac, _ := net.ParseMAC(c.mac)
	via := "via=" + lab.LinkLocal(mac).String()
	if !logged(c.log, `msg="delegated`, `taken"`, "iface="+c.tap, "prefix="+delegated.String(), via) {
		t.Errorf("the daemon's log has no take of %s by %s", delegated, c.tap)
	}
	routed := logged(c.log, `msg="route`, `added"`, "prefix="+delegated.String(), via)
	if c.bridge {
		if routed {
			t.Errorf("a bridged TAP's prefix was routed")
		}
		return
	}
	if !routed {
		t.Errorf("the daemon's log has no route of %s %s", delegated, via)
	}
	if got := strings.TrimSpace(c.file(t, "ping6pd.exit")); got != "0" {
		t.Errorf("the guest's ping from %s1 to %s: exit %s\n%s", delegated.Addr(), host6, got, c.st.Files["ping6pd.log"])
	}
}

// rdnss: networkd took the RA's DNS servers (RDNSS) for the link.
func (c *check) rdnss(t *testing.T) {
	link := lab.ParseVars(c.networkdFile(t, "links"))
	for _, s := range dns6 {
		if !strings.Contains(" "+link["DNS"]+" ", " "+s+" ") {
			t.Errorf("networkd's link state: DNS=%s lacks %s", link["DNS"], s)
		}
	}
}

// networkd6: the RA's O flag made networkd ask for the rest by DHCPv6
// (Information-Request), and it took nfdhcpd's Reply. systemd 252
// (Debian 12's) then keeps nothing of that Reply in the link's state
// (systemd PR #29718, in 255, saves it), so its content is checked with
// dhclient in the other guest.
func (c *check) networkd6(t *testing.T) {
	if want := "DHCPv6 client: Processed Reply message"; !strings.Contains(c.file(t, "networkd.log"), want) {
		t.Errorf("networkd's log lacks %q", want)
	}
	c.answered(t, "dhcpv6-information-request")
}

var (
	imageOnce sync.Once
	built     *Image
	imageErr  error
	imageDir  string
)

// image builds the guests' image once per test process.
func image(t *testing.T) *Image {
	t.Helper()
	imageOnce.Do(func() {
		if imageDir, imageErr = os.MkdirTemp("", "nfdhcpd-guest"); imageErr != nil {
			return
		}
		start := time.Now()
		built, imageErr = BuildImage(vmimage.Cache(), imageDir, t.Logf)
		t.Logf("image built in %v", time.Since(start).Round(100*time.Millisecond))
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if imageDir != "" {
		os.RemoveAll(imageDir)
	}
	os.Exit(code)
}
