// Package responder turns a VM's DHCPv4, DHCPv6, Router Solicitation or
// Neighbor Solicitation packet, together with the VM's binding and the
// daemon's settings, into the exact Ethernet frame to send back out of the
// VM's TAP. It is pure: it opens no socket and reads no clock.
package responder

import (
	"fmt"
	"net"
	"net/netip"
)

// IPv6Mode is how VMs configure IPv6. The configuration's "auto" is
// resolved by the caller before it reaches the responder.
type IPv6Mode uint8

const (
	// ModeSLAAC announces the prefix with A set and neither M nor O.
	ModeSLAAC IPv6Mode = iota
	// ModeSLAACDHCPv6 adds O: addresses by SLAAC, DNS by DHCPv6.
	ModeSLAACDHCPv6
	// ModeDHCPv6 sets M and O, clears A, and serves the binding's EUI64
	// address in IA_NA (stateful DHCPv6).
	ModeDHCPv6
)

func (m IPv6Mode) String() string {
	switch m {
	case ModeSLAAC:
		return "slaac"
	case ModeSLAACDHCPv6:
		return "slaac+dhcpv6"
	case ModeDHCPv6:
		return "dhcpv6"
	}
	return "unknown"
}

// MarshalText returns the configuration file spelling.
func (m IPv6Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses "slaac", "slaac+dhcpv6" or "dhcpv6".
func (m *IPv6Mode) UnmarshalText(b []byte) error {
	for _, c := range []IPv6Mode{ModeSLAAC, ModeSLAACDHCPv6, ModeDHCPv6} {
		if string(b) == c.String() {
			*m = c
			return nil
		}
	}
	return fmt.Errorf("%q is not one of slaac, slaac+dhcpv6, dhcpv6", b)
}

// Option is an extra DHCPv4 option whose payload is already encoded.
// Payloads longer than 255 bytes are split per RFC 3396.
type Option struct {
	Code uint8
	Data []byte
}

// Settings is the daemon-wide part of every reply, built once from the
// configuration file.
type Settings struct {
	ServerIP      netip.Addr // [dhcp] server_ip
	ServerOnLink  bool       // server id = binding's GATEWAY, else the subnet's first address
	LeaseLifetime uint32     // seconds, option 51 and DHCPv6 valid/preferred lifetime
	LeaseRenewal  uint32     // seconds, option 58 and DHCPv6 T1; T2 = 7/8 of the lease
	Nameservers   []netip.Addr
	Domain        string
	Options       []Option
	Mode          IPv6Mode
	RAPeriod      uint32 // seconds between periodic RAs; 0 means 300
	Nameservers6  []netip.Addr
	Domains6      []string
	ServerDUID    []byte // nil: DUID-LL of the TAP's MAC
	// RouterAddress is the router's link-local address on every TAP
	// ([ipv6] router_address); invalid: each TAP's own, from its MAC. See
	// Responder.RouterAddress.
	RouterAddress netip.Addr
	NextServer    netip.Addr // [dhcp] next_server: BOOTP siaddr, option 66
	BootFile      string     // [dhcp] boot_file: BOOTP file, option 67
	// PDLifetime is the preferred and valid lifetime of delegated
	// prefixes in seconds (0xffffffff: infinite); 0 means one day.
	PDLifetime uint32
}

// Lease is one VM's binding as the responder needs it, built by the caller
// once per binding change. The caller merges binding overrides with the
// configuration; where a merged field is left empty the responder falls
// back to the Settings value (Nameservers, Nameservers6, Domain, and
// Options per code), so either style of caller gets the same replies.
type Lease struct {
	TAPMAC   net.HardwareAddr // Ethernet source of replies and router identity
	MAC      net.HardwareAddr // the VM's MAC from the binding
	MACSpoof bool             // answer even when the request's MAC differs from MAC

	IP      netip.Addr   // invalid: no DHCPv4
	Subnet  netip.Prefix // options 1 and 28
	Gateway netip.Addr   // options 3 and 121; invalid: no router
	Private bool         // no router option, and router lifetime 0 in RAs

	Hostname string

	Subnet6  netip.Prefix // invalid: no RA, NA or DHCPv6
	Gateway6 netip.Addr
	EUI64    netip.Addr // the VM's address; stateful DHCPv6 serves it
	// Delegated are the prefixes IA_PD gives the VM, in every mode.
	Delegated []netip.Prefix
	// Bridged: the TAP is a port of a bridge, whose other VMs and hosts
	// share the VM's link and answer NS for their own addresses. An NS is
	// answered only for the router's own (routerOwns); any other is Passed.
	Bridged bool

	MTU uint16 // 0: unset

	Nameservers  []netip.Addr // IPv4, option 6
	Nameservers6 []netip.Addr // RDNSS and DHCPv6 option 23
	Domain       string       // option 15
	DomainSearch []string     // option 119; for IPv6 DNSSL/option 24 when set, else Settings.Domains6, else Domain
	Options      []Option     // extra DHCPv4 options; win over Settings.Options per code

	// PXE: BOOTP siaddr and option 66, BOOTP file and option 67; unset
	// takes Settings' NextServer and BootFile.
	NextServer netip.Addr
	BootFile   string
}

// Kind is what a request is.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindDHCPDiscover
	KindDHCPRequest
	KindDHCPInform
	KindDHCPRelease
	KindDHCPDecline
	KindRS
	KindNS
	KindDHCPv6Solicit
	KindDHCPv6Request
	KindDHCPv6Renew
	KindDHCPv6Rebind
	KindDHCPv6InformationRequest
	KindDHCPv6Confirm
	KindDHCPv6Release
	KindDHCPv6Decline
	// KindDHCPOther and KindDHCPv6Other are well-formed DHCP messages of a
	// type a client should not send to a server (e.g. OFFER, Relay-forw).
	KindDHCPOther
	KindDHCPv6Other
	// KindRA is periodic, never a request; it names benchmarks and logs.
	KindRA
)

var kindNames = [...]string{
	KindUnknown:                  "unknown",
	KindDHCPDiscover:             "dhcp-discover",
	KindDHCPRequest:              "dhcp-request",
	KindDHCPInform:               "dhcp-inform",
	KindDHCPRelease:              "dhcp-release",
	KindDHCPDecline:              "dhcp-decline",
	KindRS:                       "rs",
	KindNS:                       "ns",
	KindDHCPv6Solicit:            "dhcpv6-solicit",
	KindDHCPv6Request:            "dhcpv6-request",
	KindDHCPv6Renew:              "dhcpv6-renew",
	KindDHCPv6Rebind:             "dhcpv6-rebind",
	KindDHCPv6InformationRequest: "dhcpv6-information-request",
	KindDHCPv6Confirm:            "dhcpv6-confirm",
	KindDHCPv6Release:            "dhcpv6-release",
	KindDHCPv6Decline:            "dhcpv6-decline",
	KindDHCPOther:                "dhcp-other",
	KindDHCPv6Other:              "dhcpv6-other",
	KindRA:                       "ra",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Outcome is what the responder did with a request.
type Outcome uint8

const (
	// Answered: Frame holds the reply.
	Answered Outcome = iota
	// NAK: Frame holds a DHCPNAK (the VM asked for an address it does not own).
	NAK
	// Ignored: no reply is due (release, decline, DAD for the VM's own
	// address, a request for another server, nothing in the binding).
	Ignored
	// Spoofed: the request's MAC is not the binding's and MACSPOOF is off.
	Spoofed
	// Malformed: the packet breaks its protocol's rules.
	Malformed
	// Unsupported: well-formed but not something this server serves.
	Unsupported
	// Passed: neither answered nor stopped: the packet goes on to where it
	// was headed (an NS on a bridge for a neighbour, which answers itself).
	Passed
	// Limited: dropped unread, over its TAP's rate limit (the caller's
	// decision, before the responder sees the packet).
	Limited
)

var outcomeNames = [...]string{
	Answered:    "answered",
	NAK:         "nak",
	Ignored:     "ignored",
	Spoofed:     "spoofed",
	Malformed:   "malformed",
	Unsupported: "unsupported",
	Passed:      "passed",
	Limited:     "limited",
}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Result is the responder's answer to one packet.
type Result struct {
	// Frame is the full Ethernet frame to send out of the TAP, nil when no
	// reply is due. It is valid until the next call on the same Responder.
	Frame     []byte
	Kind      Kind
	Outcome   Outcome
	XID       uint32           // DHCPv4 xid or DHCPv6 transaction id; 0 for ICMPv6
	ClientMAC net.HardwareAddr // as seen in the request; may alias pkt or internal buffers
	Reason    string           // why, when not Answered; static strings only
	LeftOut   LeftOut          // what Frame had no room for
	// Delegation is what the reply did with the binding's delegated
	// prefixes, for the caller to route them; the zero value when nothing.
	Delegation Delegation
}

// DelegationOp is what a DHCPv6 reply did with delegated prefixes.
type DelegationOp uint8

const (
	// NoDelegation: the reply gave and took back no prefix.
	NoDelegation DelegationOp = iota
	// Delegated: a Reply to a Request, Renew, Rebind or a Solicit with
	// Rapid Commit gave the VM Prefixes for Valid seconds; the VM takes
	// them from the link-local NextHop. (An Advertise only offers.)
	Delegated
	// Released: the VM gave Prefixes back.
	Released
)

var delegationOpNames = [...]string{NoDelegation: "none", Delegated: "delegated", Released: "released"}

func (o DelegationOp) String() string {
	if int(o) < len(delegationOpNames) {
		return delegationOpNames[o]
	}
	return "unknown"
}

// Delegation tells whoever routes delegated prefixes what one reply did:
// the responder itself routes nothing.
type Delegation struct {
	Op DelegationOp
	// NextHop is the request's source address: the VM's link-local
	// address, where the prefixes are routed.
	NextHop netip.Addr
	// Prefixes are the binding's prefixes concerned; valid until the next
	// call on the same Responder.
	Prefixes []netip.Prefix
	Valid    uint32 // Delegated: the valid lifetime given, in seconds; 0xffffffff is infinite
}

// frameCap bounds every reply; DHCPv4 replies are further bounded by the
// client's maximum message size.
const frameCap = 1514

// Responder builds replies into buffers it owns and reuses. It is not safe
// for concurrent use: give each packet-reading goroutine (and the periodic
// RA sender) its own.
type Responder struct {
	s   Settings
	buf [frameCap]byte

	q4   dhcp4Request
	q6   dhcp6Request
	duid [10]byte
	// delegation is the last DHCPv6 reply's; pd holds the prefixes a
	// Release gave back, reused from reply to reply.
	delegation Delegation
	pd         []netip.Prefix
	v4         v4scratch // DHCPv4 option payloads before placement
}

// New returns a Responder for the settings. It copies s, so later changes
// to the caller's value do not show.
func New(s Settings) *Responder {
	return &Responder{s: s}
}

// noLease says why l cannot answer anything: replies need the TAP's MAC
// as their Ethernet source and router identity.
func noLease(l *Lease) string {
	switch {
	case l == nil:
		return "no binding"
	case len(l.TAPMAC) != 6 || len(l.MAC) != 6:
		return "binding without a 6-byte TAP or VM MAC"
	}
	return ""
}

// Respond answers one packet. pkt starts at the IPv4 or IPv6 header, as
// NFQUEUE delivers it; srcMAC is the Ethernet source from NFQUEUE's
// hardware address attribute and may be nil. l is the binding of the TAP
// the packet came in on.
func (r *Responder) Respond(pkt []byte, srcMAC net.HardwareAddr, l *Lease) Result {
	if len(pkt) == 0 {
		return Result{Outcome: Malformed, Reason: "empty packet"}
	}
	switch pkt[0] >> 4 {
	case 4:
		return r.respond4(pkt, srcMAC, l)
	case 6:
		return r.respond6(pkt, srcMAC, l)
	}
	return Result{Outcome: Malformed, Reason: "not IPv4 or IPv6"}
}

// respond6 sends an IPv6 packet to its kind's responder: RS and NS
// (ndp.go), DHCPv6 (dhcp6.go).
func (r *Responder) respond6(pkt []byte, srcMAC net.HardwareAddr, l *Lease) Result {
	p, bad := parseIPv6(pkt)
	if bad != "" {
		return Result{Outcome: Malformed, Reason: bad}
	}
	switch {
	case p.proto == protoICMPv6 && len(p.payload) > 0 && p.payload[0] == icmpRS:
		return r.respondRS(&p, srcMAC, l)
	case p.proto == protoICMPv6 && len(p.payload) > 0 && p.payload[0] == icmpNS:
		return r.respondNS(&p, srcMAC, l)
	case p.proto == protoUDP && p.dstPort == portDHCPv6Server:
		return r.respondDHCPv6(&p, srcMAC, l)
	}
	return Result{Outcome: Unsupported, Reason: "not RS, NS or DHCPv6"}
}
