package responder

import (
	"encoding/binary"
	"net/netip"
)

// The request parsers below are hand-written: they only locate a few
// fields, never copy, and so cost no allocation, which gopacket's
// layer-by-layer decoding cannot promise for DHCP options.

const (
	protoUDP    = 17
	protoICMPv6 = 58

	portDHCPServer   = 67
	portDHCPClient   = 68
	portDHCPv6Server = 547
	portDHCPv6Client = 546
)

// ip4 is an IPv4 datagram carrying UDP, located in a request.
type ip4 struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
	payload          []byte // UDP payload
}

// parseIPv4UDP locates the UDP payload of an unfragmented IPv4 packet.
// Checksums are not verified: packets from a TAP with checksum offload
// reach NFQUEUE with partial checksums.
func parseIPv4UDP(pkt []byte) (p ip4, reason string) {
	if len(pkt) < 20 {
		return p, "IPv4 header truncated"
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl || total > len(pkt) {
		return p, "IPv4 header or total length invalid"
	}
	pkt = pkt[:total]
	if binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 {
		return p, "IPv4 fragment"
	}
	if pkt[9] != protoUDP {
		return p, "not UDP"
	}
	p.src = netip.AddrFrom4([4]byte(pkt[12:16]))
	p.dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	udp := pkt[ihl:]
	if len(udp) < 8 {
		return p, "UDP header truncated"
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return p, "UDP length invalid"
	}
	p.srcPort = binary.BigEndian.Uint16(udp[0:2])
	p.dstPort = binary.BigEndian.Uint16(udp[2:4])
	p.payload = udp[8:ulen]
	return p, ""
}

// ip6 is an IPv6 packet's upper layer, located in a request.
type ip6 struct {
	src, dst         netip.Addr
	hopLimit         uint8
	proto            uint8  // protoUDP or protoICMPv6
	srcPort, dstPort uint16 // UDP only
	payload          []byte // the ICMPv6 message, or the UDP payload
}

// parseIPv6 walks the extension headers a solicitation may carry
// (hop-by-hop, routing, destination options) to ICMPv6 or UDP.
func parseIPv6(pkt []byte) (p ip6, reason string) {
	if len(pkt) < 40 {
		return p, "IPv6 header truncated"
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if 40+plen > len(pkt) {
		return p, "IPv6 payload length invalid"
	}
	p.hopLimit = pkt[7]
	p.src = netip.AddrFrom16([16]byte(pkt[8:24]))
	p.dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	next := pkt[6]
	rest := pkt[40 : 40+plen]
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return p, "IPv6 extension header truncated"
			}
			n := (int(rest[1]) + 1) * 8
			if n > len(rest) {
				return p, "IPv6 extension header truncated"
			}
			next, rest = rest[0], rest[n:]
			continue
		case protoICMPv6:
			p.proto, p.payload = next, rest
			return p, ""
		case protoUDP:
			if len(rest) < 8 {
				return p, "UDP header truncated"
			}
			ulen := int(binary.BigEndian.Uint16(rest[4:6]))
			if ulen < 8 || ulen > len(rest) {
				return p, "UDP length invalid"
			}
			p.proto = next
			p.srcPort = binary.BigEndian.Uint16(rest[0:2])
			p.dstPort = binary.BigEndian.Uint16(rest[2:4])
			p.payload = rest[8:ulen]
			return p, ""
		}
		return p, "not ICMPv6 or UDP"
	}
}

// Classify tells cheaply which kind of request pkt (starting at the IP
// header) is, for logs and metrics before a binding is known.
func Classify(pkt []byte) Kind {
	if len(pkt) == 0 {
		return KindUnknown
	}
	switch pkt[0] >> 4 {
	case 4:
		p, bad := parseIPv4UDP(pkt)
		if bad != "" || p.dstPort != portDHCPServer {
			return KindUnknown
		}
		var q dhcp4Request
		if q.parse(p.payload) != "" {
			return KindUnknown
		}
		return q.kind()
	case 6:
		p, bad := parseIPv6(pkt)
		if bad != "" {
			return KindUnknown
		}
		switch {
		case p.proto == protoICMPv6 && len(p.payload) > 0 && p.payload[0] == icmpRS:
			return KindRS
		case p.proto == protoICMPv6 && len(p.payload) > 0 && p.payload[0] == icmpNS:
			return KindNS
		case p.proto == protoUDP && p.dstPort == portDHCPv6Server && len(p.payload) > 0:
			return dhcp6Kind(p.payload[0])
		}
	}
	return KindUnknown
}
