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
	// Answerable are the kinds the classifier can answer itself, from
	// the templates in the answers map (Config.Answer).
	Answerable = KindRS | KindNS
)

// KindInfo is what the daemon knows of one kind.
type KindInfo struct {
	Kind Kinds
	// Name labels the kind everywhere: queue readers, metrics, the rules'
	// comments, and its queue's configuration key (<name>_queue).
	Name string
	// Code is the number the kind writes in the lowest three bits of the
	// mark mask; three bits, so that a kind reads off the mark without
	// knowing the address family.
	Code uint32
	// IPv6: ip6tables steers it and [ipv6] configures it; else iptables
	// and [dhcp].
	IPv6 bool
}

// KindTable is every kind, in the order every list of kinds follows.
var KindTable = [...]KindInfo{
	{Kind: KindDHCP, Name: "dhcp", Code: 1},
	{Kind: KindRS, Name: "rs", Code: 2, IPv6: true},
	{Kind: KindNS, Name: "ns", Code: 3, IPv6: true},
	{Kind: KindDHCPv6, Name: "dhcpv6", Code: 4, IPv6: true},
}

// info returns k's entry when k is exactly one kind.
func (k Kinds) info() (KindInfo, bool) {
	for _, ki := range KindTable {
		if ki.Kind == k {
			return ki, true
		}
	}
	return KindInfo{}, false
}

// String lists the kinds as "dhcp|rs|ns|dhcpv6", or "none".
func (k Kinds) String() string {
	var names []string
	for _, ki := range KindTable {
		if k&ki.Kind != 0 {
			names = append(names, ki.Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// flagMACSpoof is NFDHCPD_FLAG_MACSPOOF in iface_value.flags.
const flagMACSpoof uint8 = 1 << 0
