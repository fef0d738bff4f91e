package responder

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// DHCPv4 message types (RFC 2132 §9.6).
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpDecline  = 4
	dhcpAck      = 5
	dhcpNak      = 6
	dhcpRelease  = 7
	dhcpInform   = 8
)

// DHCPv4 option codes used here.
const (
	optPad          = 0
	optSubnetMask   = 1
	optRouter       = 3
	optDNS          = 6
	optHostname     = 12
	optDomain       = 15
	optMTU          = 26
	optBroadcast    = 28
	optRequestedIP  = 50
	optLeaseTime    = 51
	optOverload     = 52
	optMessageType  = 53
	optServerID     = 54
	optParamRequest = 55
	optMessage      = 56
	optMaxSize      = 57
	optRenewal      = 58
	optRebinding    = 59
	optClientID     = 61
	optTFTPServer   = 66
	optBootFile     = 67
	optDomainSearch = 119
	optClasslessRts = 121
	optEnd          = 255
)

const (
	bootpFixed   = 236 // op .. file
	dhcpHeader   = 240 // with the magic cookie
	dhcpMinReply = 300 // RFC 1542 §3.3 smallest BOOTP message relays pass
	dhcpMinMax   = 576 - ip4Len - udpLen
	flagBcast    = 0x8000
	siaddrOff    = 20
	fileOff      = 108
	fileLen      = 128
	snameOff     = 44
	snameLen     = 64
)

var magicCookie = [4]byte{99, 130, 83, 99}

// dhcp4Request holds the fields of a client message the reply depends on;
// slices alias the packet.
type dhcp4Request struct {
	msgType   uint8
	xid       uint32
	flags     uint16
	ciaddr    netip.Addr
	giaddr    netip.Addr
	chaddr    []byte // 16 bytes, as sent
	mac       net.HardwareAddr
	requested netip.Addr
	serverID  netip.Addr
	prl       []byte
	maxSize   uint16
	clientID  []byte
	raw       []byte
}

// parse reads a BOOTREQUEST, its options field and, when option 52 says
// so, its file and sname fields.
func (q *dhcp4Request) parse(b []byte) string {
	*q = dhcp4Request{}
	if len(b) < dhcpHeader {
		return "DHCP message truncated"
	}
	if [4]byte(b[bootpFixed:dhcpHeader]) != magicCookie {
		return "no DHCP magic cookie"
	}
	if b[0] != 1 {
		return "not a BOOTREQUEST"
	}
	if b[1] != 1 || b[2] != 6 {
		return "hardware type is not Ethernet"
	}
	q.raw = b
	q.xid = binary.BigEndian.Uint32(b[4:8])
	q.flags = binary.BigEndian.Uint16(b[10:12])
	q.ciaddr = netip.AddrFrom4([4]byte(b[12:16]))
	q.giaddr = netip.AddrFrom4([4]byte(b[24:28]))
	q.chaddr = b[28:44]
	q.mac = net.HardwareAddr(b[28:34:34])
	overload, bad := q.options(b[dhcpHeader:], true)
	if bad != "" {
		return bad
	}
	if overload&1 != 0 {
		if _, bad = q.options(b[fileOff:fileOff+fileLen], false); bad != "" {
			return bad
		}
	}
	if overload&2 != 0 {
		if _, bad = q.options(b[snameOff:snameOff+snameLen], false); bad != "" {
			return bad
		}
	}
	if q.msgType == 0 {
		return "no DHCP message type"
	}
	return ""
}

// options reads one options area; the first instance of each option wins.
func (q *dhcp4Request) options(b []byte, main bool) (overload uint8, reason string) {
	for len(b) > 0 {
		code := b[0]
		if code == optEnd {
			return overload, ""
		}
		if code == optPad {
			b = b[1:]
			continue
		}
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return 0, "DHCP option overruns its field"
		}
		v := b[2 : 2+int(b[1])]
		b = b[2+len(v):]
		switch code {
		case optMessageType:
			if len(v) == 1 && q.msgType == 0 {
				q.msgType = v[0]
			}
		case optRequestedIP:
			if len(v) == 4 && !q.requested.IsValid() {
				q.requested = netip.AddrFrom4([4]byte(v))
			}
		case optServerID:
			if len(v) == 4 && !q.serverID.IsValid() {
				q.serverID = netip.AddrFrom4([4]byte(v))
			}
		case optParamRequest:
			if q.prl == nil {
				q.prl = v
			}
		case optMaxSize:
			if len(v) == 2 && q.maxSize == 0 {
				q.maxSize = binary.BigEndian.Uint16(v)
			}
		case optClientID:
			if q.clientID == nil && len(v) > 0 {
				q.clientID = v
			}
		case optOverload:
			if main && len(v) == 1 && v[0] <= 3 {
				overload = v[0]
			}
		}
	}
	return overload, ""
}

func (q *dhcp4Request) kind() Kind {
	switch q.msgType {
	case dhcpDiscover:
		return KindDHCPDiscover
	case dhcpRequest:
		return KindDHCPRequest
	case dhcpInform:
		return KindDHCPInform
	case dhcpRelease:
		return KindDHCPRelease
	case dhcpDecline:
		return KindDHCPDecline
	}
	return KindDHCPOther
}

func (r *Responder) respond4(pkt []byte, srcMAC net.HardwareAddr, l *Lease) Result {
	res := Result{Kind: KindUnknown}
	p, bad := parseIPv4UDP(pkt)
	if bad != "" {
		res.Outcome, res.Reason = Malformed, bad
		return res
	}
	if p.dstPort != portDHCPServer {
		res.Outcome, res.Reason = Unsupported, "IPv4 UDP not to port 67"
		return res
	}
	q := &r.q4
	if bad = q.parse(p.payload); bad != "" {
		res.Outcome, res.Reason = Malformed, bad
		return res
	}
	res.Kind, res.XID, res.ClientMAC = q.kind(), q.xid, q.mac
	switch {
	case noLease(l) != "":
		res.Outcome, res.Reason = Ignored, noLease(l)
	case !l.MACSpoof && (!sameMAC(q.mac, l.MAC) || srcMAC != nil && !sameMAC(srcMAC, l.MAC)):
		res.Outcome, res.Reason = Spoofed, "client MAC is not the binding's"
	case !l.IP.Is4():
		res.Outcome, res.Reason = Ignored, "binding has no IPv4 address"
	case res.Kind == KindDHCPOther:
		res.Outcome, res.Reason = Unsupported, "not a client DHCP message type"
	case res.Kind == KindDHCPRelease:
		res.Outcome, res.Reason = Ignored, "client released its lease"
	case res.Kind == KindDHCPDecline:
		res.Outcome, res.Reason = Ignored, "client declined its address"
	case q.giaddr != netip.IPv4Unspecified():
		res.Outcome, res.Reason = Ignored, "relayed request (giaddr set)"
	case q.serverID.IsValid() && q.serverID != r.serverID4(l):
		res.Outcome, res.Reason = Ignored, "request for another server"
	default:
		res.Outcome = Answered
		reply := uint8(dhcpOffer)
		switch res.Kind {
		case KindDHCPRequest:
			want := q.requested
			if !want.IsValid() {
				want = q.ciaddr
			}
			reply = dhcpAck
			if want != l.IP {
				reply = dhcpNak
				res.Outcome, res.Reason = NAK, "requested address is not the binding's"
			}
		case KindDHCPInform:
			reply = dhcpAck
		}
		res.Frame, res.LeftOut = r.build4(q, l, reply)
	}
	return res
}
