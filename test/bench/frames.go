package bench

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// Kind is one kind of request the generator plays.
type Kind int

const (
	Discover Kind = iota // DHCPDISCOVER → OFFER
	Request              // DHCPREQUEST (INIT-REBOOT) → ACK
	RS                   // Router Solicitation → RA
	NS                   // Neighbor Solicitation for the gateway → NA
	InfoReq              // DHCPv6 Information-Request → Reply
	numKinds
)

func (k Kind) String() string {
	return [...]string{"discover", "request", "rs", "ns", "dhcpv6"}[k]
}

// VM is what one TAP's VM is and should be told.
type VM struct {
	TAP      string
	MAC      net.HardwareAddr
	IP       netip.Addr   // the binding's address, 10.64.i.100
	Gateway  netip.Addr   // 10.64.i.1, also the TAP's own address
	Prefix   netip.Prefix // 2001:db8:64:i::/64
	Gateway6 netip.Addr   // prefix::1, also the TAP's own address
}

// vmAt is the i-th VM of a run; i < 65536.
func vmAt(i int) VM {
	hi, lo := byte(i>>8), byte(i)
	p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x64, hi, lo}), 64)
	g6 := p.Addr().As16()
	g6[15] = 1
	return VM{
		TAP:      fmt.Sprintf("tap%d", i),
		MAC:      net.HardwareAddr{0x02, 0xb0, 0, 0, hi, lo},
		IP:       netip.AddrFrom4([4]byte{10, 64 + hi, lo, 100}),
		Gateway:  netip.AddrFrom4([4]byte{10, 64 + hi, lo, 1}),
		Prefix:   p,
		Gateway6: netip.AddrFrom16(g6),
	}
}

// Binding is the VM's nfdhcpd binding file.
func (vm VM) Binding() string {
	return fmt.Sprintf("INDEV=%s\nIP=%s\nMAC=%s\nHOSTNAME=vm-%s\nGATEWAY=%s\nSUBNET=%s\nGATEWAY6=%s\nSUBNET6=%s\nEUI64=%s\n",
		vm.TAP, vm.IP, vm.MAC, vm.TAP, vm.Gateway, netip.PrefixFrom(vm.Gateway, 24).Masked(), vm.Gateway6, vm.Prefix, lab.EUI64(vm.Prefix, vm.MAC))
}

// Frame offsets the generator patches per request.
const (
	dhcp4XIDOff = 14 + 20 + 8 + 4 // Ethernet, IPv4, UDP, then op/htype/hlen/hops
	dhcp6XIDOff = 14 + 40 + 8 + 1 // Ethernet, IPv6, UDP, then msg-type
	udp6SumOff  = 14 + 40 + 6     // the UDP checksum in an IPv6 frame
	udp6Off     = 14 + 40         // the UDP header in an IPv6 frame
	ip6SrcOff   = 14 + 8          // source address in an IPv6 frame
)

// requestFrame builds the frame a VM writes for k; the generator patches
// the transaction id of DHCP kinds in place (see setXID).
func requestFrame(vm VM, k Kind) ([]byte, error) {
	ll := net.IP(lab.LinkLocal(vm.MAC).AsSlice())
	var ls []gopacket.SerializableLayer
	switch k {
	case Discover, Request:
		eth := &layers.Ethernet{SrcMAC: vm.MAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
		udp := &layers.UDP{SrcPort: 68, DstPort: 67}
		udp.SetNetworkLayerForChecksum(ip)
		msg := layers.DHCPMsgTypeDiscover
		opts := layers.DHCPOptions{}
		if k == Request {
			msg = layers.DHCPMsgTypeRequest
			opts = append(opts, layers.NewDHCPOption(layers.DHCPOptRequestIP, vm.IP.AsSlice()))
		}
		opts = append(layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(msg)})}, opts...)
		opts = append(opts, layers.NewDHCPOption(layers.DHCPOptParamsRequest, []byte{1, 3, 6, 15, 26}))
		// Broadcast flag: both servers then answer to the broadcast address,
		// the same frame for both.
		dhcp := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
			HardwareLen: 6, Xid: 1, ClientHWAddr: vm.MAC, Flags: 0x8000, Options: opts}
		ls = []gopacket.SerializableLayer{eth, ip, udp, dhcp}
	case RS:
		eth := &layers.Ethernet{SrcMAC: vm.MAC, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ll, DstIP: net.ParseIP("ff02::2")}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)}
		icmp.SetNetworkLayerForChecksum(ip)
		rs := &layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: vm.MAC}}}
		ls = []gopacket.SerializableLayer{eth, ip, icmp, rs}
	case NS:
		g := vm.Gateway6.As16()
		snm := net.IP{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, g[13], g[14], g[15]}
		eth := &layers.Ethernet{SrcMAC: vm.MAC, DstMAC: net.HardwareAddr{0x33, 0x33, 0xff, g[13], g[14], g[15]}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ll, DstIP: snm}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
		icmp.SetNetworkLayerForChecksum(ip)
		ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: net.IP(vm.Gateway6.AsSlice()),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: vm.MAC}}}
		ls = []gopacket.SerializableLayer{eth, ip, icmp, ns}
	case InfoReq:
		eth := &layers.Ethernet{SrcMAC: vm.MAC, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 1, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: ll, DstIP: net.ParseIP("ff02::1:2")}
		udp := &layers.UDP{SrcPort: 546, DstPort: 547}
		udp.SetNetworkLayerForChecksum(ip)
		duid := append([]byte{0, 3, 0, 1}, vm.MAC...) // DUID-LL, Ethernet
		d6 := &layers.DHCPv6{MsgType: layers.DHCPv6MsgTypeInformationRequest, TransactionID: []byte{0, 0, 1},
			Options: layers.DHCPv6Options{
				layers.NewDHCPv6Option(layers.DHCPv6OptClientID, duid),
				layers.NewDHCPv6Option(layers.DHCPv6OptElapsedTime, []byte{0, 0}),
				layers.NewDHCPv6Option(layers.DHCPv6OptOro, []byte{0, 23, 0, 24}),
			}}
		ls = []gopacket.SerializableLayer{eth, ip, udp, d6}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("%s frame for %s: %w", k, vm.TAP, err)
	}
	f := append([]byte(nil), buf.Bytes()...)
	if k == Discover || k == Request {
		// No UDP checksum (allowed over IPv4), so the xid can change freely.
		binary.BigEndian.PutUint16(f[14+20+6:], 0)
	}
	return f, nil
}

// setXID writes the transaction id of a DHCP kind into f; other kinds
// carry none and are matched to their request in order.
func setXID(f []byte, k Kind, xid uint32) {
	switch k {
	case Discover, Request:
		binary.BigEndian.PutUint32(f[dhcp4XIDOff:], xid)
	case InfoReq:
		f[dhcp6XIDOff], f[dhcp6XIDOff+1], f[dhcp6XIDOff+2] = byte(xid>>16), byte(xid>>8), byte(xid)
		binary.BigEndian.PutUint16(f[udp6SumOff:], 0)
		binary.BigEndian.PutUint16(f[udp6SumOff:], udp6Checksum(f))
	}
}

func hasXID(k Kind) bool { return k == Discover || k == Request || k == InfoReq }

// udp6Checksum is the UDP checksum of an IPv6 frame whose checksum field is 0.
func udp6Checksum(f []byte) uint16 {
	udp := f[udp6Off:]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(f[ip6SrcOff : ip6SrcOff+32]) // source and destination
	sum += uint32(len(udp)) + 17
	add(udp)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 {
		c = 0xffff
	}
	return c
}

// Verdict is what the generator makes of a frame read from a TAP.
type Verdict int

const (
	Unrelated Verdict = iota // not a reply of the kind measured (MLD, the kernel's own NS, ...)
	Good                     // the right reply, with the right content
	Wrong                    // a reply of the kind, with the wrong content
)

// check classifies a frame read from vm's TAP while requests of kind k are
// outstanding, and returns its transaction id for DHCP kinds. A Wrong
// verdict comes with the reason.
func check(f []byte, vm VM, k Kind) (v Verdict, xid uint32, why string) {
	if len(f) < 14 {
		return Unrelated, 0, ""
	}
	et := binary.BigEndian.Uint16(f[12:])
	switch k {
	case Discover, Request:
		if et != 0x0800 || len(f) < 14+20+8+240 || f[14+9] != 17 {
			return Unrelated, 0, ""
		}
		ihl := int(f[14]&0x0f) * 4
		udp := f[14+ihl:]
		if binary.BigEndian.Uint16(udp[0:]) != 67 || binary.BigEndian.Uint16(udp[2:]) != 68 {
			return Unrelated, 0, ""
		}
		d := udp[8:]
		if len(d) < 240 || d[0] != 2 {
			return Unrelated, 0, ""
		}
		xid = binary.BigEndian.Uint32(d[4:])
		want := byte(2) // OFFER
		if k == Request {
			want = 5 // ACK
		}
		if mt := dhcpOption(d[240:], 53); len(mt) != 1 || mt[0] != want {
			return Wrong, xid, fmt.Sprintf("message type %v, want %d", mt, want)
		}
		if yi, _ := netip.AddrFromSlice(d[16:20]); yi != vm.IP {
			return Wrong, xid, fmt.Sprintf("yiaddr %v, want %v", yi, vm.IP)
		}
		if !equalMAC(d[28:34], vm.MAC) {
			return Wrong, xid, "chaddr is not the VM's"
		}
		return Good, xid, ""
	case RS, NS:
		if et != 0x86dd || len(f) < 14+40+8 || f[14+6] != 58 {
			return Unrelated, 0, ""
		}
		icmp := f[14+40:]
		switch {
		case k == RS && icmp[0] == 134:
			if !raHasPrefix(icmp[16:], vm.Prefix) {
				return Wrong, 0, "RA without the VM's prefix"
			}
			return Good, 0, ""
		case k == NS && icmp[0] == 136:
			if len(icmp) < 24 {
				return Wrong, 0, "short NA"
			}
			if t, _ := netip.AddrFromSlice(icmp[8:24]); t != vm.Gateway6 {
				return Wrong, 0, fmt.Sprintf("NA target %v, want %v", t, vm.Gateway6)
			}
			return Good, 0, ""
		}
	case InfoReq:
		if et != 0x86dd || len(f) < 14+40+8+4 || f[14+6] != 17 {
			return Unrelated, 0, ""
		}
		udp := f[14+40:]
		if binary.BigEndian.Uint16(udp[0:]) != 547 || binary.BigEndian.Uint16(udp[2:]) != 546 {
			return Unrelated, 0, ""
		}
		d := udp[8:]
		xid = uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3])
		if d[0] != 7 {
			return Wrong, xid, fmt.Sprintf("DHCPv6 message type %d, want 7 (Reply)", d[0])
		}
		if cid := dhcp6Option(d[4:], 1); string(cid) != string(append([]byte{0, 3, 0, 1}, vm.MAC...)) {
			return Wrong, xid, fmt.Sprintf("client id %x is not the VM's DUID-LL", cid)
		}
		return Good, xid, ""
	}
	return Unrelated, 0, ""
}

func equalMAC(a []byte, b net.HardwareAddr) bool {
	return len(a) == 6 && len(b) == 6 && string(a) == string(b)
}

func dhcpOption(opts []byte, code byte) []byte {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			i++
			continue
		case 255:
			return nil
		}
		if i+1 >= len(opts) || i+2+int(opts[i+1]) > len(opts) {
			return nil
		}
		if opts[i] == code {
			return opts[i+2 : i+2+int(opts[i+1])]
		}
		i += 2 + int(opts[i+1])
	}
	return nil
}

func dhcp6Option(opts []byte, code uint16) []byte {
	for len(opts) >= 4 {
		c, l := binary.BigEndian.Uint16(opts), int(binary.BigEndian.Uint16(opts[2:]))
		if 4+l > len(opts) {
			return nil
		}
		if c == code {
			return opts[4 : 4+l]
		}
		opts = opts[4+l:]
	}
	return nil
}

// raHasPrefix looks for a Prefix Information option of p in an RA's options.
func raHasPrefix(opts []byte, p netip.Prefix) bool {
	for len(opts) >= 8 {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return false
		}
		if opts[0] == 3 && l == 32 && int(opts[2]) == p.Bits() {
			if a, _ := netip.AddrFromSlice(opts[16:32]); a == p.Addr() {
				return true
			}
		}
		opts = opts[l:]
	}
	return false
}
