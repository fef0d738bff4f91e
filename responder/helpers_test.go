package responder

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	tapMAC   = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x01}
	vmMAC    = net.HardwareAddr{0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}
	otherMAC = net.HardwareAddr{0xaa, 0x00, 0x00, 0x00, 0x00, 0x99}
	// fe80::/64 + modified EUI-64 of tapMAC
	routerLL = netip.MustParseAddr("fe80::42:acff:fe11:1")
	vmLL     = netip.MustParseAddr("fe80::a86b:39ff:fe22:3344")
)

func testSettings() Settings {
	return Settings{
		ServerIP:      netip.MustParseAddr("192.0.2.1"),
		LeaseLifetime: 604800,
		LeaseRenewal:  3600,
		Nameservers:   []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
		Domain:        "example.com",
		Mode:          ModeSLAACDHCPv6,
		RAPeriod:      300,
		Nameservers6:  []netip.Addr{netip.MustParseAddr("2001:db8:100::1"), netip.MustParseAddr("2001:db8:200::2")},
		Domains6:      []string{"example.com"},
	}
}

func testLease() *Lease {
	return &Lease{
		TAPMAC:   tapMAC,
		MAC:      vmMAC,
		IP:       netip.MustParseAddr("192.0.2.100"),
		Subnet:   netip.MustParsePrefix("192.0.2.0/24"),
		Gateway:  netip.MustParseAddr("192.0.2.1"),
		Hostname: "testing-vm",
		Subnet6:  netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64"),
		Gateway6: netip.MustParseAddr("2001:db8:aaaa:bbbb::1"),
		EUI64:    netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344"),
	}
}

// serialize builds a request from IP header on, as NFQUEUE delivers it.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...)
	if err != nil {
		t.Fatalf("serialize request: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// dhcp4Packet is a client message with the given options; mod adjusts the
// BOOTP fields.
func dhcp4Packet(t testing.TB, mt layers.DHCPMsgType, mod func(*layers.DHCPv4), opts ...layers.DHCPOption) []byte {
	t.Helper()
	d := &layers.DHCPv4{
		Operation:    layers.DHCPOpRequest,
		HardwareType: layers.LinkTypeEthernet,
		HardwareLen:  6,
		Xid:          0x12345678,
		ClientIP:     net.IPv4zero.To4(),
		YourClientIP: net.IPv4zero.To4(),
		NextServerIP: net.IPv4zero.To4(),
		RelayAgentIP: net.IPv4zero.To4(),
		ClientHWAddr: vmMAC,
		Options:      append(layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(mt)})}, opts...),
	}
	if mod != nil {
		mod(d)
	}
	src := d.ClientIP
	if src.Equal(net.IPv4zero) {
		src = net.IPv4zero
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, udp, d)
}

func icmp6Packet(t testing.TB, src, dst netip.Addr, hop uint8, msg gopacket.SerializableLayer, typ uint8) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: hop, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, ic, msg)
}

func rsPacket(t testing.TB, src netip.Addr, slla net.HardwareAddr) []byte {
	rs := &layers.ICMPv6RouterSolicitation{}
	if slla != nil {
		rs.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: slla}}
	}
	return icmp6Packet(t, src, netip.MustParseAddr("ff02::2"), 255, rs, icmpRS)
}

func nsPacket(t testing.TB, src, dst, target netip.Addr, slla net.HardwareAddr) []byte {
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice()}
	if slla != nil {
		ns.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: slla}}
	}
	return icmp6Packet(t, src, dst, 255, ns, icmpNS)
}

func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

var clientDUID = []byte{0, 3, 0, 1, 0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}

func serverDUIDOf(mac net.HardwareAddr) []byte { return append([]byte{0, 3, 0, 1}, mac...) }

func dhcp6Packet(t testing.TB, mt layers.DHCPv6MsgType, opts ...layers.DHCPv6Option) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: vmLL.AsSlice(), DstIP: net.ParseIP("ff02::1:2")}
	udp := &layers.UDP{SrcPort: 546, DstPort: 547}
	udp.SetNetworkLayerForChecksum(ip)
	d := &layers.DHCPv6{MsgType: mt, TransactionID: []byte{0xab, 0xcd, 0xef}, Options: opts}
	return serialize(t, ip, udp, d)
}

func mkopt6(code layers.DHCPv6Opt, data []byte) layers.DHCPv6Option {
	return layers.NewDHCPv6Option(code, data)
}

// iaNA encodes an IA_NA with the given addresses (lifetimes 0).
func iaNA(iaid uint32, addrs ...netip.Addr) layers.DHCPv6Option {
	b := binary.BigEndian.AppendUint32(nil, iaid)
	b = append(b, make([]byte, 8)...)
	for _, a := range addrs {
		b = append(b, 0, 5, 0, 24)
		b = append(b, a.AsSlice()...)
		b = append(b, make([]byte, 8)...)
	}
	return mkopt6(layers.DHCPv6OptIANA, b)
}

// decoded is a reply frame as gopacket sees it.
type decoded struct {
	pkt  gopacket.Packet
	eth  *layers.Ethernet
	ip4  *layers.IPv4
	ip6  *layers.IPv6
	udp  *layers.UDP
	dhcp *layers.DHCPv4
	d6   *layers.DHCPv6
	ra   *layers.ICMPv6RouterAdvertisement
	na   *layers.ICMPv6NeighborAdvertisement
}

// decode checks that frame decodes cleanly with gopacket, that every
// length and checksum is right, and returns its layers.
func decode(t testing.TB, frame []byte) decoded {
	t.Helper()
	if err := checkFrame(frame); err != "" {
		t.Fatalf("reply frame: %s\n%x", err, frame)
	}
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	var d decoded
	d.pkt = pkt
	d.eth, _ = pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	d.ip4, _ = pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	d.ip6, _ = pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	d.udp, _ = pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	d.dhcp, _ = pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
	d.d6, _ = pkt.Layer(layers.LayerTypeDHCPv6).(*layers.DHCPv6)
	d.ra, _ = pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
	d.na, _ = pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	return d
}

// checkFrame is the shared oracle of tests and fuzz targets: gopacket
// decodes the frame with no error and no truncation, down to the expected
// application layer, and the IPv4 header, UDP and ICMPv6 checksums verify.
func checkFrame(frame []byte) string {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		return "gopacket: " + el.Error().Error()
	}
	if pkt.Metadata().Truncated {
		return "gopacket: truncated"
	}
	if len(frame) > frameCap {
		return "longer than an Ethernet frame"
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherV4:
		ip := frame[ethLen:]
		if fold(sum(0, ip[:20])) != 0xffff {
			return "IPv4 header checksum"
		}
		if int(binary.BigEndian.Uint16(ip[2:4])) != len(ip) {
			return "IPv4 total length"
		}
		u := ip[20:]
		if int(binary.BigEndian.Uint16(u[4:6])) != len(u) {
			return "UDP length"
		}
		acc := sum(sum(0, ip[12:20]), u) + protoUDP + uint32(len(u))
		if fold(acc) != 0xffff {
			return "UDP checksum over IPv4"
		}
		if pkt.Layer(layers.LayerTypeDHCPv4) == nil {
			return "no DHCPv4 layer"
		}
	case etherV6:
		ip := frame[ethLen:]
		seg := ip[40:]
		if int(binary.BigEndian.Uint16(ip[4:6])) != len(seg) {
			return "IPv6 payload length"
		}
		acc := sum(sum(0, ip[8:40]), seg) + uint32(ip[6]) + uint32(len(seg))
		if fold(acc) != 0xffff {
			return "upper-layer checksum over IPv6"
		}
		switch ip[6] {
		case protoUDP:
			if int(binary.BigEndian.Uint16(seg[4:6])) != len(seg) {
				return "UDP length"
			}
			if pkt.Layer(layers.LayerTypeDHCPv6) == nil {
				return "no DHCPv6 layer"
			}
		case protoICMPv6:
			if pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement) == nil && pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) == nil {
				return "neither RA nor NA"
			}
		default:
			return "IPv6 next header"
		}
	default:
		return "EtherType"
	}
	return ""
}

// opts4 flattens DHCPv4 options into code -> payload in order of appearance.
func opts4(d *layers.DHCPv4) ([]uint8, map[uint8][]byte) {
	var order []uint8
	m := map[uint8][]byte{}
	for _, o := range d.Options {
		if _, ok := m[uint8(o.Type)]; !ok {
			order = append(order, uint8(o.Type))
		}
		m[uint8(o.Type)] = append(m[uint8(o.Type)], o.Data...)
	}
	return order, m
}

func ndOpts(os layers.ICMPv6Options) map[uint8][]byte {
	m := map[uint8][]byte{}
	for _, o := range os {
		m[uint8(o.Type)] = o.Data
	}
	return m
}

func opts6(d *layers.DHCPv6) ([]uint16, map[uint16][]byte) {
	var order []uint16
	m := map[uint16][]byte{}
	for _, o := range d.Options {
		order = append(order, uint16(o.Code))
		m[uint16(o.Code)] = o.Data
	}
	return order, m
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func ip4b(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func eqBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}
