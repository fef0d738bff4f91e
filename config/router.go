package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// A VM keeps its IPv6 router, through a move to a TAP with another MAC,
// only when the router's link-local address and its DHCPv6 server DUID
// stay the same: its default route names that address, and its Renew that
// DUID. [ipv6] router_address and server_duid fix both; unset, each comes
// from the TAP's MAC, as before.

// ErrRouterAddress is wrapped by every error of [ipv6] router_address.
var ErrRouterAddress = errors.New("not a link-local unicast IPv6 address (fe80::/10)")

// ErrServerDUID is wrapped by every error of [ipv6] server_duid.
var ErrServerDUID = errors.New("not a DUID (RFC 8415 §11)")

// parseRouterAddress accepts a link-local unicast address without a zone:
// the one address RAs come from and NS are answered for on every TAP.
func parseRouterAddress(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	var why string
	switch {
	case err != nil && strings.Contains(v, "%"):
		why = "it has a zone; the address is every TAP's"
	case err != nil:
		why = "not an IP address"
	case a.Zone() != "":
		why = "it has a zone; the address is every TAP's"
	case !a.Is6() || a.Is4In6() || !a.IsLinkLocalUnicast():
		return netip.Addr{}, fmt.Errorf("%q is %w", v, ErrRouterAddress)
	case [8]byte(a.AsSlice()[8:]) == [8]byte{}:
		// RFC 4291 §2.6.1: the all-zero interface identifier is the
		// prefix's Subnet-Router anycast address, never a source.
		why = "an interface identifier of zero is the Subnet-Router anycast address"
	default:
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%q is %w: %s", v, ErrRouterAddress, why)
}

// maxDUID is RFC 8415 §11.1's bound, the type code included.
const maxDUID = 130

// parseDUID reads a DUID as hex bytes, colon-separated
// (00:03:00:01:ee:ee:ee:ee:ee:ee) or not (00030001eeeeeeeeeeee), and checks
// it against RFC 8415 §11: one of the four types, with its type's length.
func parseDUID(v string) ([]byte, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%q is %w: %s", v, ErrServerDUID, fmt.Sprintf(format, a...))
	}
	digits := v
	if strings.Contains(v, ":") {
		parts := strings.Split(v, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return nil, fail("want hex bytes, two digits each, such as 00:03:00:01:ee:ee:ee:ee:ee:ee")
			}
		}
		digits = strings.Join(parts, "")
	}
	d, err := hex.DecodeString(digits)
	if err != nil || len(digits) == 0 {
		return nil, fail("want hex bytes, two digits each, such as 00:03:00:01:ee:ee:ee:ee:ee:ee")
	}
	if len(d) > maxDUID {
		return nil, fail("%d bytes, more than %d", len(d), maxDUID)
	}
	if len(d) < 3 {
		return nil, fail("%d bytes: a type (2 bytes) and an identifier", len(d))
	}
	typ := uint16(d[0])<<8 | uint16(d[1])
	// linkLayer checks a hardware type and the link-layer address after
	// it: Ethernet's (type 1) is 6 bytes; other types' are their own.
	linkLayer := func(name string, hw, addr []byte) error {
		switch {
		case len(hw) < 2 || len(addr) == 0:
			return fail("%s holds a hardware type and a link-layer address; %d bytes is too short", name, len(d))
		case hw[0] == 0 && hw[1] == 0:
			return fail("%s: hardware type 0 is reserved", name)
		case hw[0] == 0 && hw[1] == 1 && len(addr) != 6:
			return fail("%s of hardware type 1 (Ethernet) has a 6-byte address, not %d", name, len(addr))
		}
		return nil
	}
	switch typ {
	case 1: // DUID-LLT: hardware type, time (4 bytes), link-layer address
		if len(d) < 8 {
			return nil, fail("DUID-LLT holds a hardware type, a time and a link-layer address; %d bytes is too short", len(d))
		}
		if err := linkLayer("DUID-LLT", d[2:4], d[8:]); err != nil {
			return nil, err
		}
	case 2: // DUID-EN: enterprise number (4 bytes), identifier
		if len(d) < 7 {
			return nil, fail("DUID-EN holds an enterprise number (4 bytes) and an identifier; %d bytes is too short", len(d))
		}
	case 3: // DUID-LL: hardware type, link-layer address
		if err := linkLayer("DUID-LL", d[2:min(4, len(d))], d[min(4, len(d)):]); err != nil {
			return nil, err
		}
	case 4: // DUID-UUID: a 16-byte UUID
		if len(d) != 18 {
			return nil, fail("DUID-UUID is 18 bytes (type and UUID), not %d", len(d))
		}
	default:
		return nil, fail("type %d is none of 1 (DUID-LLT), 2 (DUID-EN), 3 (DUID-LL), 4 (DUID-UUID)", typ)
	}
	return d, nil
}
