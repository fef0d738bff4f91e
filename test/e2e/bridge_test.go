package e2e

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// watchNA records the Ethernet source of every Neighbor Advertisement for
// target that reaches vm's eth0, until the returned stop is called. It sees
// what the VM's kernel sees, whether or not a tool such as ndisc6 would
// accept the answer.
func watchNA(t *testing.T, vm *lab.VM, target netip.Addr) (stop func() []string) {
	t.Helper()
	var fd int
	err := lab.InNamespace(vm.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_IPV6))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("watch NAs in %v: %v", vm, err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50_000}); err != nil {
		unix.Close(fd)
		t.Fatalf("watch NAs in %v: %v", vm, err)
	}
	var (
		mu      sync.Mutex
		sources []string
		done    = make(chan struct{})
		quit    = make(chan struct{})
	)
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-quit:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
			na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
			if !ok {
				continue
			}
			if a, _ := netip.AddrFromSlice(na.TargetAddress); a != target {
				continue
			}
			mu.Lock()
			sources = append(sources, p.LinkLayer().(*layers.Ethernet).SrcMAC.String())
			mu.Unlock()
		}
	}()
	var once sync.Once
	stop = func() []string {
		once.Do(func() {
			close(quit)
			<-done
			unix.Close(fd)
		})
		mu.Lock()
		defer mu.Unlock()
		return sources
	}
	t.Cleanup(func() { stop() })
	return stop
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// On a bridge the VM's neighbours are real hosts: an NS for one of them must
// reach it, and only the router's own addresses are nfdhcpd's to answer. A
// bound VM and another host on one bridge (unbound, or a second bound VM)
// find each other and ping both ways, with br_netfilter's hooks on and off;
// every NA for the other host comes from that host, the VM's DAD probe for
// the other's address fails, and the VM still gets its NA for GATEWAY6 from
// nfdhcpd.
func TestBridgedNeighbours(t *testing.T) {
	lab.RequireTools(t, "ndisc6", "busybox")
	for _, brnf := range []bool{true, false} {
		name := "br_netfilter"
		if !brnf {
			name = "no_br_netfilter"
		}
		t.Run(name, func(t *testing.T) {
			for _, bound := range []bool{false, true} {
				name := "other_unbound"
				if bound {
					name = "other_bound"
				}
				t.Run(name, func(t *testing.T) {
					forEachMode(t, func(t *testing.T, m steering) { bridgedNeighbours(t, m, brnf, bound) })
				})
			}
		})
	}
}

func bridgedNeighbours(t *testing.T, m steering, brnf, otherBound bool) {
	const otherMAC = "aa:00:00:00:00:11"
	hw, err := net.ParseMAC(otherMAC)
	if err != nil {
		t.Fatal(err)
	}
	vmAddr := netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344") // the seed's EUI64
	otherAddr := lab.EUI64(lab.SeedPrefix6, hw)                             // inside SUBNET6
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	other := l.AddVM("tap11", otherMAC)
	l.Bridge("br0", brnf, "tap10", "tap11")
	vm.Run("ip", "addr", "add", vmAddr.String()+"/64", "dev", "eth0", "nodad")
	other.Run("ip", "addr", "add", otherAddr.String()+"/64", "dev", "eth0", "nodad")
	conf, datapath := l.SeedConfig(m.setup(l)...)
	m.bridgeRules(l, "br0")
	if err := lab.WriteBinding(datapath, "tap10", strings.Replace(lab.SeedBinding, "INDEV=tap10", "INDEV=br0", 1)); err != nil {
		t.Fatal(err)
	}
	if otherBound {
		b := lab.SeedBindingFor("tap11", "192.0.2.101", otherMAC, "other-vm")
		if err := lab.WriteBinding(datapath, "tap11", strings.Replace(b, "INDEV=tap11", "INDEV=br0", 1)); err != nil {
			t.Fatal(err)
		}
	}
	d := l.StartDaemon(conf)
	nas := watchNA(t, vm, otherAddr)

	out, err := vm.Ndisc6(otherAddr.String())
	if err != nil {
		t.Errorf("ndisc6 %s: no answer from the host on the bridge: %v\n%s", otherAddr, err, out)
	} else {
		expectLines(t, "ndisc6", out, "Target link-layer address: "+strings.ToUpper(otherMAC))
	}
	// The kernels' own neighbour discovery, both ways, from empty caches.
	for _, p := range []struct {
		from *lab.VM
		to   netip.Addr
	}{{vm, otherAddr}, {other, vmAddr}} {
		vm.Run("ip", "-6", "neigh", "flush", "dev", "eth0")
		other.Run("ip", "-6", "neigh", "flush", "dev", "eth0")
		if out, err := p.from.Try(10*time.Second, "busybox", "ping6", "-c", "1", "-W", "4", p.to.String()); err != nil {
			t.Errorf("%v: ping6 %s: %v\n%s", p.from, p.to, err, out)
		}
	}
	vm.Run("ip", "-6", "neigh", "flush", "dev", "eth0")
	if out, err := vm.Try(10*time.Second, "busybox", "ping6", "-c", "1", "-W", "4", otherAddr.String()); err != nil {
		t.Errorf("%v: ping6 %s: %v\n%s", vm, otherAddr, err, out)
	}
	if out := vm.Run("ip", "-6", "neigh", "show", otherAddr.String(), "dev", "eth0"); !strings.Contains(out, "lladdr "+otherMAC) {
		t.Errorf("the VM's neighbour entry for %s is %q, want lladdr %s", otherAddr, strings.TrimSpace(out), otherMAC)
	}
	// The daemon saw those NS and let them go, and says so: not answered.
	bound := []string{"tap10"}
	if otherBound {
		bound = append(bound, "tap11")
	}
	for _, tap := range bound {
		if !d.Logged("msg=request", "iface="+tap, "kind=ns", "outcome=passed") {
			t.Errorf("the daemon's log has no NS from %s passed on", tap)
		}
	}
	time.Sleep(100 * time.Millisecond) // a late answer from the daemon
	srcs := nas()
	if len(srcs) == 0 {
		t.Errorf("no NA for %s reached the VM", otherAddr)
	}
	for _, s := range srcs {
		if s != otherMAC {
			t.Errorf("NAs for %s reached the VM from %v, want from %s alone", otherAddr, srcs, otherMAC)
			break
		}
	}

	// DAD: the VM's probe for an address the other host holds reaches that
	// host, whose answer fails it.
	vm.Run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=1")
	vm.Run("ip", "addr", "add", otherAddr.String()+"/64", "dev", "eth0")
	var addr string
	for deadline := time.Now().Add(lab.Within(3 * time.Second)); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if addr = vm.Run("ip", "-6", "-o", "addr", "show", "dev", "eth0", "to", otherAddr.String()+"/128"); strings.Contains(addr, "dadfailed") {
			break
		}
	}
	if !strings.Contains(addr, "dadfailed") {
		t.Errorf("the VM's DAD for %s, which the host on the bridge holds, did not fail: %q", otherAddr, strings.TrimSpace(addr))
	}

	// The router's address is still nfdhcpd's, with the TAP's MAC.
	out, err = vm.Ndisc6("2001:db8:aaaa:bbbb::1")
	if err != nil {
		t.Fatalf("ndisc6 GATEWAY6: %v\n%s", err, out)
	}
	expectLines(t, "ndisc6 GATEWAY6", out, "Target link-layer address: "+strings.ToUpper(vm.HostMAC()))
}
