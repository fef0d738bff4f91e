package responder

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Replies are encoded by hand into the Responder's buffer: gopacket's
// SerializeBuffer and layer structs allocate on every reply (options
// slices, prepend growth, net.IP conversions), which breaks the budget of
// at most 2 allocations per reply. Tests decode every reply with gopacket.

const (
	ethLen  = 14
	ip4Len  = 20
	ip6Len  = 40
	udpLen  = 8
	etherV4 = 0x0800
	etherV6 = 0x86dd
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC  = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	allNodes     = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})
)

func putEthernet(b []byte, dst, src net.HardwareAddr, etherType uint16) {
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], etherType)
}

// putIPv4UDP writes the IPv4 and UDP headers in front of a UDP payload of
// n bytes already at b[ip4Len+udpLen:], with both checksums.
func putIPv4UDP(b []byte, src, dst netip.Addr, sport, dport uint16, n int) {
	total := ip4Len + udpLen + n
	b[0] = 0x45
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:4], uint16(total))
	clear(b[4:8]) // id, flags, fragment offset
	b[8] = 64
	b[9] = protoUDP
	clear(b[10:12])
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], ^fold(sum(0, b[:ip4Len])))

	u := b[ip4Len:total]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	clear(u[6:8])
	acc := sum(0, s[:])
	acc = sum(acc, d[:])
	acc += protoUDP + uint32(len(u))
	c := ^fold(sum(acc, u))
	if c == 0 {
		c = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(u[6:8], c)
}

// putIPv6 writes an IPv6 header in front of an upper-layer segment of n
// bytes already at b[ip6Len:], then fills the segment's checksum at
// csumOff (relative to the segment).
func putIPv6(b []byte, src, dst netip.Addr, proto, hopLimit uint8, n, csumOff int) {
	binary.BigEndian.PutUint32(b[0:4], 6<<28)
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	b[6] = proto
	b[7] = hopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	seg := b[ip6Len : ip6Len+n]
	clear(seg[csumOff : csumOff+2])
	acc := sum(0, b[8:40])
	acc += uint32(n) + uint32(proto)
	c := ^fold(sum(acc, seg))
	if c == 0 && proto == protoUDP {
		c = 0xffff // RFC 8200: a UDP checksum of zero is not allowed
	}
	binary.BigEndian.PutUint16(seg[csumOff:csumOff+2], c)
}

// putUDPHeader writes a UDP header before a payload of n bytes; putIPv6
// fills its checksum.
func putUDPHeader(b []byte, sport, dport uint16, n int) {
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	binary.BigEndian.PutUint16(b[4:6], uint16(udpLen+n))
}

// sum adds b as big-endian 16-bit words to acc (RFC 1071).
func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// RouterAddress is the router's link-local address on l's TAP: the source
// of every RA and DHCPv6 reply, and the one link-local address NS are
// answered for. It is [ipv6] router_address when set, the same on every TAP
// so that a VM that moves keeps its default route; else fe80::/64 with the
// modified EUI-64 of the TAP's MAC. Anything that builds a reply from the
// router (a template too) takes the address from here.
func (r *Responder) RouterAddress(l *Lease) netip.Addr {
	if r.s.RouterAddress.IsValid() {
		return r.s.RouterAddress
	}
	return routerLinkLocal(l.TAPMAC)
}

// routerLinkLocal is fe80::/64 with the modified EUI-64 of mac (RFC 4291).
func routerLinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	if len(mac) == 6 {
		a[8] = mac[0] ^ 0x02
		a[9], a[10] = mac[1], mac[2]
		a[11], a[12] = 0xff, 0xfe
		a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(a)
}

func sameMAC(a, b net.HardwareAddr) bool {
	return len(a) == len(b) && string(a) == string(b)
}
