package e2e

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// discover builds a DHCPDISCOVER frame from mac, as a VM writes it.
func discover(t *testing.T, mac net.HardwareAddr, xid uint32) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	dhcp := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
		HardwareLen: 6, Xid: xid, ClientHWAddr: mac, Flags: 0x8000,
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)}),
			layers.NewDHCPOption(layers.DHCPOptParamsRequest, []byte{1, 3, 6, 15, 26}),
		}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, dhcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readDHCP reads frames from the TAP until a DHCPv4 reply with xid arrives.
func readDHCP(t *testing.T, f *os.File, xid uint32, timeout time.Duration) *layers.DHCPv4 {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	for {
		n, err := f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
		if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok && d.Xid == xid {
			return d
		}
	}
}

// A real TAP, opened through /dev/net/tun by the test playing the VM, is served.
func TestRealTAP(t *testing.T) {
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		tap := l.OpenTAP("tap20")
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap20", strings.Replace(lab.SeedBinding, "INDEV=tap10", "INDEV=tap20", 1))
		l.StartDaemon(conf)
		mac, _ := net.ParseMAC(lab.SeedMAC)
		// The TAP may take a moment to be steered after start; retry like a client.
		var offer *layers.DHCPv4
		for i := 0; i < 5 && offer == nil; i++ {
			if _, err := tap.Write(discover(t, mac, 0x1000+uint32(i))); err != nil {
				t.Fatal(err)
			}
			offer = readDHCP(t, tap, 0x1000+uint32(i), time.Second)
		}
		if offer == nil {
			t.Fatal("no OFFER on the real TAP")
		}
		if !offer.YourClientIP.Equal(net.ParseIP("192.0.2.100")) {
			t.Errorf("yiaddr %v, want 192.0.2.100", offer.YourClientIP)
		}
		other, _ := net.ParseMAC("aa:6b:39:22:33:99")
		tap.Write(discover(t, other, 0x2000))
		if d := readDHCP(t, tap, 0x2000, time.Second); d != nil {
			t.Errorf("a spoofed MAC on the real TAP got a reply: %v", d)
		}
	})
}
