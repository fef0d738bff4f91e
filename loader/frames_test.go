package loader

import (
	"encoding/binary"
	"net"
)

// Frame builders for classifier tests: raw bytes, so that a test controls
// exactly the fields the classifier reads (IHL, fragment offset, extension
// headers, truncation). Checksums are left zero: the classifier ignores them.

var (
	vmMAC    = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	otherMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x65, 0x43, 0x21}
	bcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806

	protoHopOpts = 0
	protoTCP     = 6
	protoUDP     = 17
	protoRouting = 43
	protoFrag    = 44
	protoICMPv6  = 58
	protoDstOpts = 60
)

func ether(src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 14+len(payload))
	b = append(b, bcastMAC...)
	b = append(b, src...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// ipv4 builds an IPv4 header with options (padded by the caller to a
// multiple of 4) and the given flags+fragment offset field.
func ipv4(proto uint8, options []byte, fragField uint16, payload []byte) []byte {
	ihl := 5 + len(options)/4
	b := make([]byte, 20, 20+len(options)+len(payload))
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl*4+len(payload)))
	binary.BigEndian.PutUint16(b[6:], fragField)
	b[8] = 64
	b[9] = proto
	copy(b[16:], []byte{255, 255, 255, 255})
	b = append(b, options...)
	return append(b, payload...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func ipv6(nextHdr uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = nextHdr
	b[7] = 255
	b[8] = 0xfe
	b[9] = 0x80
	b[24] = 0xff
	b[25] = 0x02
	b[39] = 0x02
	return append(b, payload...)
}

// ext builds an 8-byte IPv6 extension header (hop-by-hop, routing,
// destination options) announcing nextHdr.
func ext(nextHdr uint8, payload []byte) []byte {
	b := []byte{nextHdr, 0, 1, 4, 0, 0, 0, 0} // PadN option fills it
	return append(b, payload...)
}

func fragHeader(nextHdr uint8, payload []byte) []byte {
	b := []byte{nextHdr, 0, 0, 1, 0, 0, 0, 42} // offset 0, M=1
	return append(b, payload...)
}

func icmpv6(typ uint8) []byte {
	return []byte{typ, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
}

func dhcpDiscover(src net.HardwareAddr) []byte {
	return ether(src, etherIPv4, ipv4(protoUDP, nil, 0, udp(68, 67, make([]byte, 240))))
}
