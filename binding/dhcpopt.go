package binding

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DHCPOption is one extra DHCPv4 option to add to OFFER and ACK replies.
// Data is the option's payload, already encoded (no code or length byte).
type DHCPOption struct {
	Code uint8
	Data []byte
}

// optKind is how the text value of a known option is encoded.
type optKind int

const (
	kindIP      optKind = iota + 1 // one IPv4 address
	kindIPs                        // one or more IPv4 addresses
	kindIPPairs                    // pairs of IPv4 addresses (21, 33)
	kindString                     // NVT ASCII
	kindBool                       // one byte, 0 or 1
	kindU8                         // one byte
	kindU16                        // big-endian uint16
	kindU16s                       // one or more big-endian uint16
	kindU32                        // big-endian uint32
	kindI32                        // big-endian int32
	kindRoutes                     // RFC 3442 classless static routes
)

// optKinds types the options of RFC 2132 and later RFCs that an operator is
// likely to set. Any code may also be given raw as 0x... hex.
var optKinds = map[uint8]optKind{
	2: kindI32, 4: kindIPs, 5: kindIPs, 7: kindIPs, 8: kindIPs, 9: kindIPs, 10: kindIPs, 11: kindIPs,
	13: kindU16, 14: kindString, 16: kindIP, 17: kindString, 18: kindString,
	19: kindBool, 20: kindBool, 21: kindIPPairs, 22: kindU16, 23: kindU8, 24: kindU32, 25: kindU16s,
	27: kindBool, 29: kindBool, 30: kindBool, 31: kindBool, 32: kindIP, 33: kindIPPairs,
	34: kindBool, 35: kindU32, 36: kindBool, 37: kindU8, 38: kindU32, 39: kindBool,
	40: kindString, 41: kindIPs, 42: kindIPs, 44: kindIPs, 45: kindIPs, 46: kindU8, 47: kindString,
	48: kindIPs, 49: kindIPs, 56: kindString, 62: kindString, 64: kindString, 65: kindIPs,
	66: kindString, 67: kindString, 68: kindIPs, 69: kindIPs, 70: kindIPs, 71: kindIPs, 72: kindIPs,
	73: kindIPs, 74: kindIPs, 75: kindIPs, 76: kindIPs,
	100: kindString, 101: kindString, 108: kindU32, 114: kindString, 116: kindBool,
	121: kindRoutes, 150: kindIPs,
}

// optComputed lists the codes the daemon fills in itself, each with the key
// to use instead. Setting them here would produce two conflicting copies.
var optComputed = map[uint8]string{
	0:   "pad is not an option",
	1:   "the subnet mask comes from SUBNET",
	3:   "the router comes from GATEWAY",
	6:   "DNS servers come from nameservers / NAMESERVERS",
	12:  "the host name comes from HOSTNAME",
	15:  "the domain comes from domain / DOMAIN",
	26:  "the MTU comes from MTU",
	28:  "the broadcast address comes from SUBNET",
	50:  "requested address is a client option",
	51:  "the lease time comes from lease_lifetime",
	52:  "option overload is decided by the encoder",
	53:  "the message type is decided by the daemon",
	54:  "the server identifier comes from server_ip / server_on_link",
	55:  "the parameter request list is a client option",
	57:  "maximum message size is a client option",
	58:  "the renewal time comes from lease_renewal",
	59:  "the rebinding time is derived from lease_lifetime",
	61:  "the client identifier is a client option",
	81:  "client FQDN is negotiated by the client",
	82:  "relay agent information belongs to relays",
	119: "the domain search list comes from DOMAIN_SEARCH / [ipv6] domains",
	255: "end is not an option",
}

// ParseDHCPOptions parses a list of extra DHCPv4 options such as
// `42=192.0.2.5; 66=boot.example.com; 224=0x0102`. Entries are separated by
// ';'. A value is encoded by the option's standard type when the code is
// known (address lists take commas), and must be 0x-prefixed hex otherwise.
func ParseDHCPOptions(s string) ([]DHCPOption, error) {
	var out []DHCPOption
	seen := map[uint8]bool{}
	for _, item := range splitOptions(s) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		cs, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%s is not CODE=VALUE", quote(item))
		}
		cs, v = strings.TrimSpace(cs), strings.TrimSpace(v)
		n, err := strconv.ParseUint(cs, 10, 8)
		if err != nil {
			return nil, fmt.Errorf("option %s: code is not a number 1-254", quote(cs))
		}
		code := uint8(n)
		if why := optComputed[code]; why != "" {
			return nil, fmt.Errorf("option %d: set by the daemon itself (%s)", code, why)
		}
		if seen[code] {
			return nil, fmt.Errorf("option %d: given twice", code)
		}
		seen[code] = true
		data, err := encodeOption(code, v)
		if err != nil {
			return nil, fmt.Errorf("option %d: %w", code, err)
		}
		if len(data) > 255 {
			return nil, fmt.Errorf("option %d: %d bytes is longer than 255", code, len(data))
		}
		out = append(out, DHCPOption{Code: code, Data: data})
	}
	return out, nil
}

// splitOptions splits on ';' outside double quotes, so a quoted string value
// may hold one.
func splitOptions(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func encodeOption(code uint8, v string) ([]byte, error) {
	if strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X") {
		b, err := hex.DecodeString(v[2:])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%s is not hex bytes (0x followed by pairs of hex digits)", quote(v))
		}
		return b, nil
	}
	if v == "" {
		return nil, fmt.Errorf("empty value")
	}
	kind, ok := optKinds[code]
	if !ok {
		return nil, fmt.Errorf("%s: no known type for this code, give the value as 0x... hex", quote(v))
	}
	switch kind {
	case kindIP, kindIPs, kindIPPairs:
		addrs, err := ParseAddrList(v, 4)
		if err != nil {
			return nil, err
		}
		switch {
		case len(addrs) == 0:
			return nil, fmt.Errorf("%s: wants IPv4 addresses", quote(v))
		case kind == kindIP && len(addrs) != 1:
			return nil, fmt.Errorf("%s: wants exactly one IPv4 address", quote(v))
		case kind == kindIPPairs && len(addrs)%2 != 0:
			return nil, fmt.Errorf("%s: wants pairs of IPv4 addresses", quote(v))
		}
		var b []byte
		for _, a := range addrs {
			b = append4(b, a)
		}
		return b, nil
	case kindString:
		s, err := unquote(v)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return nil, fmt.Errorf("%s: not printable ASCII", quote(v))
			}
		}
		if s == "" {
			return nil, fmt.Errorf("empty value")
		}
		return []byte(s), nil
	case kindBool:
		t, err := ParseBool(v)
		if err != nil {
			return nil, err
		}
		if t {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case kindU8, kindU16, kindU32:
		bits := map[optKind]int{kindU8: 8, kindU16: 16, kindU32: 32}[kind]
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number 0-%d", quote(v), uint64(1)<<bits-1)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n))[4-bits/8:], nil
	case kindU16s:
		var b []byte
		for _, f := range splitList(v) {
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%s is not a number 0-65535", quote(f))
			}
			b = binary.BigEndian.AppendUint16(b, uint16(n))
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%s: wants numbers", quote(v))
		}
		return b, nil
	case kindI32:
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s is not a signed 32-bit number", quote(v))
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(n))), nil
	case kindRoutes:
		return encodeRoutes(v)
	}
	return nil, fmt.Errorf("internal: option %d has no encoder", code)
}

// encodeRoutes encodes RFC 3442 classless static routes written as
// "10.0.0.0/8 192.0.2.1, 0.0.0.0/0 192.0.2.1". Clients that accept option 121
// ignore option 3, so a default route must be listed here when one is wanted.
func encodeRoutes(v string) ([]byte, error) {
	var b []byte
	for r := range strings.SplitSeq(v, ",") {
		f := strings.Fields(r)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s is not DESTINATION/LEN ROUTER", quote(strings.TrimSpace(r)))
		}
		dst, err := parsePrefix(f[0], 4)
		if err != nil {
			return nil, err
		}
		gw, err := parseAddr(f[1], 4)
		if err != nil {
			return nil, err
		}
		b = append(b, byte(dst.Bits()))
		a := dst.Addr().As4()
		b = append(b, a[:(dst.Bits()+7)/8]...)
		b = append4(b, gw)
	}
	return b, nil
}

func append4(b []byte, a netip.Addr) []byte {
	a4 := a.As4()
	return append(b, a4[:]...)
}
