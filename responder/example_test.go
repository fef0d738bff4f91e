package responder_test

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// A packet reader owns one Responder and sends each Frame out of the TAP.
func Example() {
	r := responder.New(responder.Settings{
		ServerIP:      netip.MustParseAddr("192.0.2.1"),
		LeaseLifetime: 604800,
		LeaseRenewal:  3600,
		Nameservers:   []netip.Addr{netip.MustParseAddr("192.0.2.2")},
		Mode:          responder.ModeSLAACDHCPv6,
		RAPeriod:      300,
	})
	vm, _ := net.ParseMAC("aa:6b:39:22:33:44")
	tap, _ := net.ParseMAC("02:42:ac:11:00:01")
	lease := &responder.Lease{
		TAPMAC: tap, MAC: vm, Hostname: "testing-vm",
		IP:      netip.MustParseAddr("192.0.2.100"),
		Subnet:  netip.MustParsePrefix("192.0.2.0/24"),
		Gateway: netip.MustParseAddr("192.0.2.1"),
	}

	// What NFQUEUE delivers: the DISCOVER from its IPv4 header on.
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp,
		&layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6,
			Xid: 42, ClientHWAddr: vm, Options: layers.DHCPOptions{
				layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)})}})

	res := r.Respond(buf.Bytes(), vm, lease)
	fmt.Println(res.Kind, res.Outcome, res.XID, res.ClientMAC, len(res.Frame))
	// Output: dhcp-discover answered 42 aa:6b:39:22:33:44 346
}
