package loader

import "strings"

// Kinds is a set of the packet kinds the classifier marks for the daemon.
type Kinds uint8

// The kinds; the values are the classifier's NFDHCPD_KIND_* bits
// (TestHeaderConstants holds them equal).
const (
	KindDHCP   Kinds = 1 << iota // IPv4 UDP to port 67
	KindRS                       // ICMPv6 Router Solicitation (133)
	KindNS                       // ICMPv6 Neighbor Solicitation (135)
	KindDHCPv6                   // IPv6 UDP to port 547

	AllKinds = KindDHCP | KindRS | KindNS | KindDHCPv6
)

var kindNames = [...]struct {
	k    Kinds
	name string
}{{KindDHCP, "dhcp"}, {KindRS, "rs"}, {KindNS, "ns"}, {KindDHCPv6, "dhcpv6"}}

// String lists the kinds as "dhcp|rs|ns|dhcpv6", or "none".
func (k Kinds) String() string {
	var names []string
	for _, kn := range kindNames {
		if k&kn.k != 0 {
			names = append(names, kn.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// flagMACSpoof is NFDHCPD_FLAG_MACSPOOF in iface_value.flags.
const flagMACSpoof uint8 = 1 << 0
