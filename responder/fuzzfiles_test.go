package responder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

// FuzzBuilders fuzzes the reply builders over what the files say, where
// the packet fuzz targets fuzz what the VM sends: it builds a Lease and
// Settings from every field a binding file or the configuration can set,
// at the sizes their parsers accept, and has every builder answer a valid
// request for it (DHCPv4 OFFER, ACK, NAK and INFORM's ACK; the solicited
// and the periodic RA; NA; DHCPv6 Advertise and Reply, with IA_NA and
// IA_PD). Each reply must be given, decode cleanly with every checksum
// right, and fit the buffer, the link MTU and the client's maximum message
// size; what it left out must account for every DNS server and search
// domain it did not carry, and a Reply that delegates must carry, and
// report, every prefix of the binding.
//
// shape's bits pick the booleans, which side (binding or configuration)
// holds each list, the prefix lengths and the lengths of the names; ns4
// and ns6 are list lengths, each byte of names one search domain's length,
// opts pairs of (code, length) of extra options, pd the binding's
// delegated prefixes (each byte one prefix's length), and req varies the
// requests (maximum size, parameter list, client identifiers, IA_NAs,
// IA_PDs).
func FuzzBuilders(f *testing.F) {
	const subnet6, ip4, lists6 = 1 << 6, 1<<4 | 1<<5, 1 << 12
	// The crashers of issue 13: 87 NAMESERVERS6 without MTU, and a
	// DOMAIN_SEARCH of 1,356 bytes in wire form.
	f.Add(uint64(subnet6|lists6|1<<16), uint16(0), uint16(0), uint16(87), []byte{}, []byte{}, []byte{}, []byte{})
	f.Add(uint64(subnet6|1<<13), uint16(0), uint16(0), uint16(2), []byte{197, 197, 197, 197, 197, 197, 153}, []byte{}, []byte{}, []byte{})
	// The seed binding: MTU 1450, two search domains, two of each server.
	f.Add(uint64(subnet6|ip4|1<<7|1<<8|1<<9|1<<13|24<<17|64<<23|10<<31), uint16(1450), uint16(2), uint16(2),
		[]byte{10, 10}, []byte{42, 4, 66, 16}, []byte{16}, []byte{0x05, 0xdc, 9, 1, 3, 6, 12, 15, 26, 28, 119, 121, 7})
	// Stateful DHCPv6 at MTU 1280 with long lists on both sides.
	f.Add(uint64(subnet6|ip4|1<<8|2<<9|lists6|1<<11|30<<17|64<<23|252<<31|252<<39), uint16(1280), uint16(300), uint16(200),
		bytes.Repeat([]byte{252}, 20), []byte{224, 255, 225, 255, 226, 255, 66, 200}, []byte{8, 24},
		append([]byte{0, 0, 3, 119, 6, 15, 255, 129, 3}, make([]byte, 81)...))
	// Prefix delegation at its largest: 16 prefixes, 8 IA_NAs and 8 IA_PDs
	// of 3 addresses and prefixes each, the longest client DUID, MTU 1280.
	most := make([]byte, 100)
	most[69], most[70], most[89] = 129, 7, 7
	for i := range 8 {
		most[71+i], most[90+i] = 3, 3
	}
	f.Add(uint64(subnet6|ip4|1<<8|2<<9|64<<23), uint16(1280), uint16(2), uint16(2), []byte{}, []byte{},
		bytes.Repeat([]byte{24}, 16), most)
	// A 576-byte DHCPv4 client and a small MTU, with every extra option.
	opts := []byte{}
	for c := range 255 {
		opts = append(opts, byte(c), byte(c))
	}
	f.Add(uint64(ip4|1<<11|1<<14|1<<15|1<<16|8<<17|120<<47), uint16(100), uint16(4096), uint16(4096),
		bytes.Repeat([]byte{200}, 300), opts, []byte{}, []byte{0x02, 0x40, 40})
	f.Fuzz(func(t *testing.T, shape uint64, mtu, ns4, ns6 uint16, names, opts, pd, req []byte) {
		s, l := fuzzFiles(shape, mtu, ns4, ns6, names, opts, pd)
		r := New(s)
		for _, c := range fuzzRequests(r, l, req) {
			c.check(t, r, &s, l)
		}
	})
}

// fuzzFiles builds what a configuration and a binding file can say.
func fuzzFiles(shape uint64, mtu, ns4, ns6 uint16, names, opts, pd []byte) (Settings, *Lease) {
	bit := func(i uint) bool { return shape>>i&1 != 0 }
	bits := func(i, n uint) int { return int(shape >> i & (1<<n - 1)) }

	// [dhcp] and [ipv6]: lease_lifetime 1-0xffffffff with lease_renewal
	// below it, ra_period 1-14400.
	lifetimes := [][2]uint32{{604800, 3600}, {2, 1}, {3600, 3599}, {0xffffffff, 0xfffffffe}, {0xffffffff, 1}, {7200, 7000}, {60, 30}, {86400, 1}}
	lt := lifetimes[bits(55, 3)]
	s := Settings{
		ServerOnLink:  bit(2),
		LeaseLifetime: lt[0],
		LeaseRenewal:  lt[1],
		Mode:          IPv6Mode(bits(9, 2) % 3),
		RAPeriod:      1 + uint32(bits(47, 8))*56,
		PDLifetime:    lt[0], // pd_lifetime takes lease_lifetime's range
	}
	if !bit(3) {
		s.ServerIP = netip.MustParseAddr("192.0.2.1")
	}
	l := &Lease{TAPMAC: tapMAC, MAC: vmMAC, MACSpoof: bit(0), Private: bit(1)}
	// MTU: 68-65535, or unset.
	if mtu != 0 {
		l.MTU = max(mtu, 68)
	}
	// HOSTNAME is required: 1-255 bytes (one that is not a DNS name is
	// served too).
	l.Hostname = longName('h', 1+bits(31, 8)%255)
	if bit(4) {
		l.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(shape >> 58), 2, 100}), bits(17, 6)%33).Masked()
		l.IP = netip.AddrFrom4([4]byte{10, byte(shape >> 58), 2, 100})
		if gw := netip.AddrFrom4([4]byte{10, byte(shape >> 58), 2, 1}); bit(5) && l.Subnet.Contains(gw) && gw != l.IP {
			l.Gateway = gw
		}
	}
	if bit(6) {
		eui := netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344")
		l.Subnet6 = netip.PrefixFrom(eui, bits(23, 8)%129).Masked()
		if gw := netip.MustParseAddr("2001:db8:aaaa:bbbb::1"); bit(7) && l.Subnet6.Contains(gw) {
			l.Gateway6 = gw
		}
		if bit(8) {
			l.EUI64 = eui
		}
	}
	// The lists: the binding's overrides or the configuration's. A
	// binding file holds 64 KiB and a configuration 1 MiB, so thousands
	// of entries are legal; past 4096 nothing new happens but time.
	a4, _ := addrs4(int(ns4) % 4097)
	a6 := addrs6(int(ns6) % 4097)
	var doms []string
	for i, n := range names {
		doms = append(doms, longName(byte('a'+i%26), 1+int(n)%253))
	}
	if bit(11) {
		l.Nameservers = a4
	} else {
		s.Nameservers = a4
	}
	if bit(12) {
		l.Nameservers6 = a6
	} else {
		s.Nameservers6 = a6
	}
	if bit(13) {
		l.DomainSearch = doms
	} else {
		s.Domains6 = doms
	}
	if bit(15) {
		l.Domain = longName('d', 1+bits(39, 8)%253)
	}
	if bit(16) {
		s.Domain = longName('e', 1+bits(39, 8)%253)
	}
	// DHCP_OPTIONS and [dhcp] options: what binding.ParseDHCPOptions
	// accepts (codes the daemon computes are refused, payloads 1-255).
	var extra []Option
	seen := map[byte]bool{}
	for i := 0; i+1 < len(opts); i += 2 {
		code, data := opts[i], bytes.Repeat([]byte{opts[i]}, int(opts[i+1]))
		if seen[code] {
			continue
		}
		if _, err := binding.ParseDHCPOptions(fmt.Sprintf("%d=0x%x", code, data)); err != nil {
			continue
		}
		seen[code] = true
		extra = append(extra, Option{Code: code, Data: data})
	}
	if bit(14) {
		l.Options = extra
	} else {
		s.Options = extra
	}
	// NEXT_SERVER and BOOT_FILE, or [dhcp] next_server and boot_file: a
	// boot file of up to 127 bytes, which takes the file field from the
	// options. Their switches are ns6's low bits, whose shape bits are all
	// taken.
	if ns6&1 != 0 {
		next, file := netip.AddrFrom4([4]byte{192, 0, 2, 69}), longName('f', 1+int(ns4)%127)
		if ns6&2 != 0 {
			l.NextServer, l.BootFile = next, file
		} else {
			s.NextServer, s.BootFile = next, file
		}
	}
	// DELEGATED_PREFIX6: at most 16 prefixes of /8 to /64, apart.
	for i, n := range pd[:min(len(pd), 16)] {
		bits := 8 + int(n)%57
		a := [16]byte{0x20, 0x01, byte(i) << 4}
		l.Delegated = append(l.Delegated, netip.PrefixFrom(netip.AddrFrom16(a), bits).Masked())
	}
	return s, l
}

// fuzzCase is one valid request and what its reply must be.
type fuzzCase struct {
	name    string
	pkt     []byte // nil: the periodic RA
	want    Outcome
	maxSize int // DHCPv4: the client's option 57, 0 when absent
	pd      DelegationOp
}

// fuzzRequests returns a valid request for every builder the lease can
// answer, each varied by req.
func fuzzRequests(r *Responder, l *Lease, req []byte) []fuzzCase {
	at := func(i int) byte {
		if i < len(req) {
			return req[i]
		}
		return 0
	}
	var cs []fuzzCase
	if l.IP.Is4() {
		// Option 57, the parameter request list and a client id.
		maxSize := int(at(0))<<8 | int(at(1))
		var o []byte
		if maxSize != 0 {
			o = append(o, optMaxSize, 2, at(0), at(1))
		}
		if n := int(at(2)) % 64; n > 0 {
			o = append(o, optParamRequest, byte(n))
			for i := range n {
				o = append(o, at(3+i))
			}
		}
		if n := int(at(67)); n > 1 {
			o = append(append(o, optClientID, byte(n), 1), bytes.Repeat([]byte{0xc1}, n-1)...)
		}
		flags := uint16(at(68)&1) << 15
		sid := r.serverID4(l)
		other := netip.AddrFrom4([4]byte{203, 0, 113, 9})
		for _, c := range []struct {
			name      string
			mt        byte
			ciaddr    netip.Addr
			requested netip.Addr
			sid       bool
			want      Outcome
		}{
			{"DISCOVER", dhcpDiscover, netip.IPv4Unspecified(), netip.Addr{}, false, Answered},
			{"REQUEST (selecting)", dhcpRequest, netip.IPv4Unspecified(), l.IP, true, Answered},
			{"REQUEST (renewing)", dhcpRequest, l.IP, netip.Addr{}, false, Answered},
			{"REQUEST for another address", dhcpRequest, netip.IPv4Unspecified(), other, false, NAK},
			{"INFORM", dhcpInform, l.IP, netip.Addr{}, false, Answered},
		} {
			ro := o
			if c.requested.IsValid() {
				ro = append(append(ro[:len(ro):len(ro)], optRequestedIP, 4), c.requested.AsSlice()...)
			}
			if c.sid {
				ro = append(append(ro[:len(ro):len(ro)], optServerID, 4), sid.AsSlice()...)
			}
			cs = append(cs, fuzzCase{name: "DHCPv4 " + c.name, pkt: wrap4(bootRequest(c.mt, flags, c.ciaddr, ro)), want: c.want, maxSize: maxSize})
		}
	}
	if l.Subnet6.Addr().Is6() {
		cs = append(cs,
			fuzzCase{name: "RS", pkt: wrap6(vmLL, netip.MustParseAddr("ff02::2"), 255, protoICMPv6,
				append([]byte{icmpRS, 0, 0, 0, 0, 0, 0, 0, ndoptSLLA, 1}, vmMAC...)), want: Answered},
			fuzzCase{name: "RS from ::", pkt: wrap6(netip.IPv6Unspecified(), netip.MustParseAddr("ff02::2"), 255, protoICMPv6,
				[]byte{icmpRS, 0, 0, 0, 0, 0, 0, 0}), want: Answered},
			fuzzCase{name: "periodic RA", want: Answered})
		rll := r.RouterAddress(l)
		ns := append([]byte{icmpNS, 0, 0, 0, 0, 0, 0, 0}, rll.AsSlice()...)
		ns = append(append(ns, ndoptSLLA, 1), vmMAC...)
		cs = append(cs, fuzzCase{name: "NS for the router", pkt: wrap6(vmLL, solicitedNode(rll), 255, protoICMPv6, ns), want: Answered})
	}
	// DHCPv6: a client DUID of 1-130 bytes (RFC 8415 §11.1).
	n := 1 + int(at(69))%130
	cid := append([]byte{0, o6ClientID, 0, byte(n)}, bytes.Repeat([]byte{0xd0}, n)...)
	cs = append(cs, fuzzCase{name: "DHCPv6 Information-request", pkt: dhcp6Request6(d6InfoRequest, cid), want: Answered})
	sid := r.serverDUID(l)
	sidOpt := append([]byte{0, o6ServerID, byte(len(sid) >> 8), byte(len(sid))}, sid...)
	with := func(opts ...[]byte) []byte { return bytes.Join(append([][]byte{cid}, opts...), nil) }
	// IA_PDs, each holding some of the binding's prefixes and one that is
	// not: prefix delegation is served in every mode.
	var pds []byte
	released := NoDelegation // a Release names one of the binding's prefixes
	for i := range 1 + int(at(89))%maxIAPD {
		ia := binary.BigEndian.AppendUint32(nil, uint32(i+1))
		ia = append(ia, make([]byte, 8)...)
		for j := range int(at(90+i)) % 4 {
			p := netip.MustParsePrefix("2001:db8:eeee::/48")
			if j < len(l.Delegated) {
				p, released = l.Delegated[j], Released
			}
			a := p.Addr().As16()
			ia = append(append(ia, 0, o6IAPrefix, 0, iaPrefixLen, 0, 0, 0, 0, 0, 0, 0, 0, byte(p.Bits())), a[:]...)
		}
		pds = append(append(pds, 0, o6IAPD, byte(len(ia)>>8), byte(len(ia))), ia...)
	}
	taken := NoDelegation
	if len(l.Delegated) > 0 {
		taken = Delegated
	}
	for _, c := range []struct {
		name string
		mt   byte
		opts []byte
		pd   DelegationOp
	}{
		{"Solicit", d6Solicit, with(pds), NoDelegation},
		{"Solicit with rapid commit", d6Solicit, with(pds, []byte{0, o6RapidCommit, 0, 0}), taken},
		{"Request", d6Request, with(sidOpt, pds), taken},
		{"Renew", d6Renew, with(sidOpt, pds), taken},
		{"Rebind", d6Rebind, with(pds), taken},
		{"Release", d6Release, with(sidOpt, pds), released},
		{"Decline", d6Decline, with(sidOpt, pds), NoDelegation},
	} {
		cs = append(cs, fuzzCase{name: "DHCPv6 IA_PD " + c.name, pkt: dhcp6Request6(c.mt, c.opts), want: Answered, pd: c.pd})
	}
	if r.s.Mode == ModeDHCPv6 && l.EUI64.Is6() && l.Subnet6.Addr().Is6() {
		var ias []byte
		for i := range 1 + int(at(70))%maxIANA {
			ia := binary.BigEndian.AppendUint32(nil, uint32(i+1))
			ia = append(ia, make([]byte, 8)...)
			for j := range int(at(71+i)) % 4 {
				a := l.EUI64.As16()
				a[15] += byte(j)
				ia = append(append(ia, 0, o6IAAddr, 0, 24), a[:]...)
				ia = append(ia, make([]byte, 8)...)
			}
			ias = append(append(ias, 0, o6IANA, byte(len(ia)>>8), byte(len(ia))), ia...)
		}
		for _, c := range []struct {
			name string
			mt   byte
			opts []byte
			pd   DelegationOp
		}{
			{"Solicit", d6Solicit, with(ias), NoDelegation},
			{"Solicit with rapid commit", d6Solicit, with(ias, []byte{0, o6RapidCommit, 0, 0}), NoDelegation},
			{"Request", d6Request, with(sidOpt, ias), NoDelegation},
			{"Request with IA_PD", d6Request, with(sidOpt, ias, pds), taken},
			{"Renew", d6Renew, with(sidOpt, ias), NoDelegation},
			{"Renew with IA_PD", d6Renew, with(sidOpt, pds, ias), taken},
			{"Rebind", d6Rebind, with(ias), NoDelegation},
			{"Confirm", d6Confirm, with(ias), NoDelegation},
			{"Release", d6Release, with(sidOpt, ias), NoDelegation},
			{"Decline", d6Decline, with(sidOpt, ias), NoDelegation},
		} {
			want := Answered
			if c.mt == d6Confirm && bytes.Count(ias, []byte{0, o6IAAddr, 0, 24}) == 0 {
				want = Ignored // RFC 8415 §18.3.3: no addresses, no reply
			}
			cs = append(cs, fuzzCase{name: "DHCPv6 " + c.name, pkt: dhcp6Request6(c.mt, c.opts), want: want, pd: c.pd})
		}
	}
	return cs
}

// bootRequest is a BOOTREQUEST from vmMAC with a message type and opts.
func bootRequest(mt byte, flags uint16, ciaddr netip.Addr, opts []byte) []byte {
	b := make([]byte, dhcpHeader, dhcpHeader+3+len(opts)+1)
	b[0], b[1], b[2] = 1, 1, 6
	binary.BigEndian.PutUint32(b[4:8], 0x5eed)
	binary.BigEndian.PutUint16(b[10:12], flags)
	copy(b[12:16], ciaddr.AsSlice())
	copy(b[28:34], vmMAC)
	copy(b[bootpFixed:dhcpHeader], magicCookie[:])
	b = append(b, optMessageType, 1, mt)
	return append(append(b, opts...), optEnd)
}

// dhcp6Request6 is a DHCPv6 client message from vmLL, UDP header included.
func dhcp6Request6(mt byte, opts []byte) []byte {
	msg := append([]byte{mt, 0xab, 0xcd, 0xef}, opts...)
	udp := make([]byte, udpLen, udpLen+len(msg))
	binary.BigEndian.PutUint16(udp[0:2], 546)
	binary.BigEndian.PutUint16(udp[2:4], portDHCPv6Server)
	binary.BigEndian.PutUint16(udp[4:6], uint16(udpLen+len(msg)))
	return wrap6(vmLL, netip.MustParseAddr("ff02::1:2"), 1, protoUDP, append(udp, msg...))
}

// check runs the request and holds its reply to the bounds and counts.
func (c fuzzCase) check(t *testing.T, r *Responder, s *Settings, l *Lease) {
	var res Result
	if c.pkt == nil {
		res = r.RouterAdvertisement(l)
	} else {
		res = r.Respond(c.pkt, vmMAC, l)
	}
	if res.Outcome != c.want {
		t.Fatalf("%s: %v (%s), want %v", c.name, res.Outcome, res.Reason, c.want)
	}
	if res.Frame == nil {
		if c.want == Answered || c.want == NAK {
			t.Fatalf("%s: %v without a frame", c.name, res.Outcome)
		}
		return
	}
	if bad := checkFrame(res.Frame); bad != "" {
		t.Fatalf("%s: %s\n%x", c.name, bad, res.Frame)
	}
	ipLen := len(res.Frame) - ethLen
	if res.Frame[12] == 0x08 { // IPv4
		bound := linkBound(l.MTU, 576)
		if c.maxSize > 576 {
			bound = min(bound, c.maxSize)
		} else {
			bound = min(bound, 576)
		}
		if ipLen > bound {
			t.Fatalf("%s: IPv4 packet of %d bytes, bound %d (MTU %d, client's maximum %d)", c.name, ipLen, bound, l.MTU, c.maxSize)
		}
		if res.Outcome == Answered {
			checkLeftOut4(t, c.name, res, s, l)
		}
		return
	}
	if bound := linkBound(l.MTU, 1280); ipLen > bound {
		t.Fatalf("%s: IPv6 packet of %d bytes, bound %d (MTU %d)", c.name, ipLen, bound, l.MTU)
	}
	checkDelegation(t, res, l)
	if d := res.Delegation; d.Op != c.pd || c.pd == Delegated && (!slices.Equal(d.Prefixes, l.Delegated) || d.Valid != pdLife(s)) {
		t.Fatalf("%s: delegation %v of %v for %d s, want %v of %v for %d s", c.name, d.Op, d.Prefixes, d.Valid, c.pd, l.Delegated, pdLife(s))
	}
	if res.Kind != KindNS {
		checkLeftOut6(t, c.name, res, r, s, l)
	}
}

// checkLeftOut6: the DNS servers and search domains an RA or a DHCPv6
// reply carries, plus those it counts as left out, are the whole lists.
func checkLeftOut6(t *testing.T, name string, res Result, r *Responder, s *Settings, l *Lease) {
	ns := l.Nameservers6
	if len(ns) == 0 {
		ns = s.Nameservers6
	}
	doms, one := r.domains6(l)
	domains := len(doms)
	if one != "" {
		domains = 1
	}
	var servers, names int
	if res.Kind == KindRS || res.Kind == KindRA {
		for o := res.Frame[ethLen+ip6Len+16:]; len(o) >= 8 && o[1] > 0; o = o[int(o[1])*8:] {
			switch o[0] {
			case ndoptRDNSS:
				servers += (int(o[1])*8 - 8) / 16
			case ndoptDNSSL:
				v := bytes.TrimRight(o[8:int(o[1])*8], "\x00") // the padding, and the last root label
				names += countNames(append(v[:len(v):len(v)], 0))
			}
		}
	} else {
		for b := res.Frame[ethLen+ip6Len+udpLen+4:]; len(b) >= 4; {
			code, v, rest, _ := opt6(b)
			switch code {
			case o6DNS:
				servers += len(v) / 16
			case o6Domains:
				names += countNames(v)
			}
			b = rest
		}
	}
	if servers+res.LeftOut.Nameservers != len(ns) || names+res.LeftOut.Domains != domains || res.LeftOut.Options != 0 {
		t.Fatalf("%s: carries %d servers and %d domains, left out %+v, of %d and %d", name, servers, names, res.LeftOut, len(ns), domains)
	}
}

// checkLeftOut4: the same for DHCPv4's options 6 and 119, and when no
// option is counted as left out, every extra option is there, intact.
func checkLeftOut4(t *testing.T, name string, res Result, s *Settings, l *Lease) {
	msg := res.Frame[ethLen+ip4Len+udpLen:]
	var overload byte
	if o := allOptions4(msg, 0)[optOverload]; len(o) == 1 {
		overload = o[0]
	}
	all := allOptions4(msg, overload)
	ns := l.Nameservers
	if len(ns) == 0 {
		ns = s.Nameservers
	}
	servers, names := len(all[optDNS])/4, countNames(all[optDomainSearch])
	if servers+res.LeftOut.Nameservers != len(ns) || names+res.LeftOut.Domains != len(l.DomainSearch) {
		t.Fatalf("%s: carries %d servers and %d domains, left out %+v, of %d and %d", name, servers, names, res.LeftOut, len(ns), len(l.DomainSearch))
	}
	if res.LeftOut.Options > 0 {
		return
	}
	for _, o := range append(l.Options[:len(l.Options):len(l.Options)], s.Options...) {
		if !reservedExtra(o.Code) && all[o.Code] == nil {
			t.Fatalf("%s: option %d neither sent nor counted as left out", name, o.Code)
		}
	}
}

func pdLife(s *Settings) uint32 {
	life, _, _ := pdTimers(s)
	return life
}

func countNames(b []byte) int {
	_, n := wholeNames(b, math.MaxInt)
	return n
}

// linkBound is the largest IP packet a link of mtu takes, with the
// family's floor (576 for IPv4, 1280 for IPv6), on Ethernet; mtu 0 is
// unset.
func linkBound(mtu uint16, floor int) int {
	if mtu == 0 {
		return 1500
	}
	return min(1500, max(int(mtu), floor))
}
