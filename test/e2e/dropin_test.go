package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// checkStrict runs `nfdhcpd -t` with args on conf in the lab's host
// namespace, bounded, and returns its output and exit status.
func checkStrict(t *testing.T, l *lab.Lab, conf string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lab.Within(10*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.HostNS, lab.Binary(t), "-t", "-c", conf}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("nfdhcpd -t did not finish within 10s:\n%s", out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// A binding file as hooks write them, which the original served: a shell
// line that is not KEY=VALUE, a key set twice, and a Windows-style
// HOSTNAME. udhcpc gets the lease of the last IP line and the HOSTNAME as
// written; the daemon logs each warning with its file, line and key as the
// binding loads; -t passes with them as warnings, -t --strict fails.
func TestForgivenBinding(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		text := strings.Replace(lab.SeedBinding, "HOSTNAME=testing-vm", "HOSTNAME=web_01", 1) + "export FOO\nIP=192.0.2.101\n"
		if err := lab.WriteBinding(datapath, "tap10", text); err != nil {
			t.Fatal(err)
		}
		file := datapath + "/tap10"
		warnings := []string{
			file + `:4: HOSTNAME: "web_01" is not a DNS name: sent as option 12 as written, but no domain is derived from it`,
			file + `:13: "export FOO" is not KEY=VALUE, ignored`,
			file + `:14: IP: set again (also on line 2), the last one wins`,
		}
		out, code := checkStrict(t, l, conf)
		if code != 0 || !strings.Contains(out, "warnings:\n"+strings.Join(warnings, "\n")+"\n") ||
			!strings.Contains(out, "tap10  aa:6b:39:22:33:44  192.0.2.101") {
			t.Errorf("nfdhcpd -t: exit %d, want 0 with the three warnings:\n%s", code, out)
		}
		out, code = checkStrict(t, l, conf, "--strict")
		if code != 1 || !strings.Contains(out, "errors:\n"+strings.Join(warnings, "\n")+"\n") {
			t.Errorf("nfdhcpd -t --strict: exit %d, want 1 with the three as errors:\n%s", code, out)
		}

		d := l.StartDaemon(conf)
		for _, w := range []string{
			`iface=tap10 file=` + file + ` line=4 key=HOSTNAME why="\"web_01\" is not a DNS name: sent as option 12 as written, but no domain is derived from it"`,
			`iface=tap10 file=` + file + ` line=13 why="\"export FOO\" is not KEY=VALUE, ignored"`,
			`iface=tap10 file=` + file + ` line=14 key=IP why="set again (also on line 2), the last one wins"`,
		} {
			if n := strings.Count(d.Log(), `level=WARN msg="binding file served with a warning" part=bindings `+w); n != 1 {
				t.Errorf("logged %d times, want once: %s", n, w)
			}
		}
		got, err := vm.Udhcpc()
		if err != nil {
			t.Fatal(err)
		}
		want(t, "udhcpc", got, map[string]string{
			"ip":       "192.0.2.101",
			"hostname": "web_01",
			"domain":   "example.com", // the configuration's
			"router":   "192.0.2.1",
			"mtu":      "1450",
		})
	})
}

// PXE: the configuration's next server and the binding's boot file (an
// iPXE URL) reach udhcpc in the BOOTP fields, which it hands its script as
// siaddr and boot_file, and in options 66 and 67 when it asks for them.
// Another VM, whose binding names its own, gets its own.
func TestPXEUdhcpc(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		vm11 := l.AddVM("tap11", "aa:6b:39:22:33:11")
		conf, datapath := l.SeedConfig(append(m.setup(l), "dhcp.next_server", "192.0.2.69", "dhcp.boot_file", "pxelinux.0")...)
		for tap, text := range map[string]string{
			"tap10": lab.SeedBinding + "BOOT_FILE=http://boot.example.com/vm10.ipxe\n",
			"tap11": lab.SeedBindingFor("tap11", "192.0.2.111", vm11.MAC, "vm11") + "NEXT_SERVER=198.51.100.69\n",
		} {
			if err := lab.WriteBinding(datapath, tap, text); err != nil {
				t.Fatal(err)
			}
		}
		l.StartDaemon(conf)
		got, err := vm.Udhcpc()
		if err != nil {
			t.Fatal(err)
		}
		want(t, "udhcpc", got, map[string]string{"ip": "192.0.2.100", "siaddr": "192.0.2.69", "boot_file": "http://boot.example.com/vm10.ipxe"})
		for _, k := range []string{"tftp", "bootfile"} {
			if v, ok := got[k]; ok {
				t.Errorf("udhcpc got %s=%q without asking for it", k, v)
			}
		}
		got, err = vm.UdhcpcAsking("tftp", "bootfile")
		if err != nil {
			t.Fatal(err)
		}
		want(t, "udhcpc -O tftp -O bootfile", got, map[string]string{"siaddr": "192.0.2.69", "boot_file": "http://boot.example.com/vm10.ipxe",
			"tftp": "192.0.2.69", "bootfile": "http://boot.example.com/vm10.ipxe"})
		got, err = vm11.UdhcpcAsking("tftp", "bootfile")
		if err != nil {
			t.Fatal(err)
		}
		want(t, "udhcpc on tap11", got, map[string]string{"ip": "192.0.2.111", "siaddr": "198.51.100.69", "boot_file": "pxelinux.0",
			"tftp": "198.51.100.69", "bootfile": "pxelinux.0"})
	})
}

// captureDHCP reads every frame on the VM's eth0, both ways, on an
// AF_PACKET socket opened in its namespace, until stop, which returns the
// DHCPv4 messages among them, in order.
func captureDHCP(t *testing.T, vm *lab.VM) (stop func() []*layers.DHCPv4) {
	t.Helper()
	var fd int
	err := lab.InNamespace(vm.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		all := int(binary.BigEndian.Uint16(binary.NativeEndian.AppendUint16(nil, unix.ETH_P_ALL)))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, all); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(all), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("capture on %s's eth0: %v", vm, err)
	}
	// A read returns at least every 100 ms, so that stop is seen.
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	var stopping atomic.Bool
	frames := make(chan [][]byte, 1)
	go func() {
		var got [][]byte
		buf := make([]byte, 65536)
		for !stopping.Load() {
			if n, _, err := unix.Recvfrom(fd, buf, 0); err == nil {
				got = append(got, append([]byte(nil), buf[:n]...))
			}
		}
		unix.Close(fd)
		frames <- got
	}()
	t.Cleanup(func() { stopping.Store(true) })
	return func() []*layers.DHCPv4 {
		stopping.Store(true)
		var msgs []*layers.DHCPv4
		for _, f := range <-frames {
			if d, ok := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok {
				msgs = append(msgs, d)
			}
		}
		return msgs
	}
}

// dhcpOrder returns a message's type and the codes of its options in the
// order they came.
func dhcpOrder(d *layers.DHCPv4) (layers.DHCPMsgType, []uint8, []byte) {
	var mt layers.DHCPMsgType
	var order []uint8
	var prl []byte
	for _, o := range d.Options {
		switch o.Type {
		case layers.DHCPOptMessageType:
			mt = layers.DHCPMsgType(o.Data[0])
		case layers.DHCPOptParamsRequest:
			prl = o.Data
		case layers.DHCPOptEnd, layers.DHCPOptPad:
			continue
		}
		order = append(order, uint8(o.Type))
	}
	return mt, order, prl
}

// RFC 2132 §9.8, seen on the wire: dhclient asks for the options in
// Android's order, the lease timers after the others, and the OFFER and
// the ACK carry them in that order, then the host name and search list it
// did not ask for; and it binds with them.
func TestOptionOrderDhclient(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		stop := captureDHCP(t, vm)
		got, err := vm.Dhclient4Requesting("subnet-mask, static-routes, routers, domain-name-servers, domain-name, " +
			"interface-mtu, broadcast-address, dhcp-lease-time, dhcp-renewal-time, dhcp-rebinding-time, vendor-encapsulated-options")
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient", got, map[string]string{"new_ip_address": "192.0.2.100", "new_dhcp_lease_time": "604800",
			"new_dhcp_renewal_time": "3600", "new_dhcp_rebinding_time": "529200", "new_interface_mtu": "1450"})
		wantPRL := []byte{1, 33, 3, 6, 15, 26, 28, 51, 58, 59, 43}
		wantOrder := []uint8{53, 54, 1, 3, 6, 15, 26, 28, 51, 58, 59, 12, 119}
		seen := map[layers.DHCPMsgType]bool{}
		for _, d := range stop() {
			mt, order, prl := dhcpOrder(d)
			seen[mt] = true
			switch mt {
			case layers.DHCPMsgTypeDiscover, layers.DHCPMsgTypeRequest:
				if !bytes.Equal(prl, wantPRL) {
					t.Errorf("dhclient's %v asks for %v, want %v", mt, prl, wantPRL)
				}
			case layers.DHCPMsgTypeOffer, layers.DHCPMsgTypeAck:
				if !slices.Equal(order, wantOrder) {
					t.Errorf("%v: options %v, want %v", mt, order, wantOrder)
				}
			}
		}
		if !seen[layers.DHCPMsgTypeOffer] || !seen[layers.DHCPMsgTypeAck] {
			t.Errorf("captured %v, want an OFFER and an ACK", seen)
		}
	})
}
