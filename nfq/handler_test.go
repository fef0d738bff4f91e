package nfq

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// fakeLookup is a binding table: entries by TAP ifindex, and the bridge
// each TAP is a port of.
type fakeLookup map[int]*binding.Entry

func (f fakeLookup) ByIndex(i int) *binding.Entry { return f[i] }

func (f fakeLookup) ByBridgeMAC(br int, mac net.HardwareAddr) *binding.Entry {
	for _, e := range f {
		if e.Bridged && e.TAP.MasterIndex == br && e.Binding.MAC.String() == mac.String() {
			return e
		}
	}
	return nil
}

var (
	vmMAC  = net.HardwareAddr{0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}
	tapMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
)

func entry(tapIndex, bridge int) *binding.Entry {
	b := &binding.Binding{
		TAP: "tap10", MAC: vmMAC, Hostname: "testing-vm",
		IP:      netip.MustParseAddr("192.0.2.100"),
		Subnet:  netip.MustParsePrefix("192.0.2.0/24"),
		Gateway: netip.MustParseAddr("192.0.2.1"),
	}
	e := &binding.Entry{Binding: b, TAP: binding.Link{Index: tapIndex, Name: "tap10", MAC: tapMAC, MasterIndex: bridge}}
	e.InDev = e.TAP
	e.Bridged = bridge != 0
	return e
}

// discoverPayload is a DHCPDISCOVER from the IPv4 header on, as NFQUEUE gives it.
func discoverPayload(t *testing.T, mac net.HardwareAddr) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	dhcp := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
		HardwareLen: 6, Xid: 0xabcd, ClientHWAddr: mac,
		Options: layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)})}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, dhcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHandle(t *testing.T) {
	settings := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1"), LeaseLifetime: 3600, LeaseRenewal: 600}
	routed := fakeLookup{10: entry(10, 0)}
	bridged := fakeLookup{10: entry(10, 5)}
	other := net.HardwareAddr{0xaa, 0, 0, 0, 0, 0x99}
	tests := []struct {
		name    string
		lookup  fakeLookup
		p       Packet
		verdict Verdict
		outcome responder.Outcome
		reply   bool
	}{
		{"routed TAP by indev", routed, Packet{InDev: 10, HwAddr: vmMAC}, Drop, responder.Answered, true},
		{"unbound interface", routed, Packet{InDev: 11, HwAddr: vmMAC}, Accept, 0, false},
		{"no indev at all", routed, Packet{HwAddr: vmMAC}, Accept, 0, false},
		{"bridged with br_netfilter: physindev", bridged, Packet{InDev: 5, PhysInDev: 10, HwAddr: vmMAC}, Drop, responder.Answered, true},
		{"physindev of an unbound port", bridged, Packet{InDev: 5, PhysInDev: 11, HwAddr: vmMAC}, Accept, 0, false},
		{"bridge without br_netfilter: source MAC", bridged, Packet{InDev: 5, HwAddr: vmMAC}, Drop, responder.Answered, true},
		{"bridge without br_netfilter: unknown MAC", bridged, Packet{InDev: 5, HwAddr: other}, Accept, 0, false},
		{"bridge without br_netfilter: no MAC", bridged, Packet{InDev: 5}, Accept, 0, false},
		{"spoofed chaddr on a bound TAP", routed, Packet{InDev: 10, HwAddr: other}, Drop, responder.Spoofed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(tt.lookup, settings)
			mac := tt.p.HwAddr
			if mac == nil {
				mac = vmMAC
			}
			tt.p.Payload = discoverPayload(t, mac)
			d := h.Handle(tt.p)
			if d.Verdict != tt.verdict {
				t.Fatalf("verdict %v, want %v", d.Verdict, tt.verdict)
			}
			if tt.verdict == Accept {
				if d.Entry != nil || d.Result.Frame != nil {
					t.Fatalf("accepted packet has entry %v / frame", d.Entry)
				}
				return
			}
			if d.Result.Outcome != tt.outcome {
				t.Fatalf("outcome %v (%s), want %v", d.Result.Outcome, d.Result.Reason, tt.outcome)
			}
			if (d.Result.Frame != nil) != tt.reply {
				t.Fatalf("reply frame present = %v, want %v", d.Result.Frame != nil, tt.reply)
			}
			if tt.reply {
				p := gopacket.NewPacket(d.Result.Frame, layers.LayerTypeEthernet, gopacket.Default)
				off, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
				if !ok || off.Xid != 0xabcd || !off.YourClientIP.Equal(net.IPv4(192, 0, 2, 100)) {
					t.Fatalf("reply is not the OFFER for xid 0xabcd: %v", p)
				}
				if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.SrcMAC.String() != tapMAC.String() {
					t.Fatalf("reply from %v, want the TAP's MAC %v", eth.SrcMAC, tapMAC)
				}
			}
		})
	}
}

// entry6 is entry with the seed's IPv6 keys.
func entry6(tapIndex, bridge int) *binding.Entry {
	e := entry(tapIndex, bridge)
	b := *e.Binding
	b.Subnet6 = netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")
	b.Gateway6 = netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	b.EUI64 = netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344")
	e.Binding = &b
	return e
}

// nsPayload is an NS for target from the VM's link-local address (from ::
// to the solicited-node group, with no SLLA, for a DAD probe), from the IPv6
// header on.
func nsPayload(t *testing.T, target netip.Addr, dad bool) []byte {
	t.Helper()
	src := net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, vmMAC[0] ^ 2, vmMAC[1], vmMAC[2], 0xff, 0xfe, vmMAC[3], vmMAC[4], vmMAC[5]}
	tb := target.As16()
	dst := net.IP{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, tb[13], tb[14], tb[15]}
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: vmMAC}}}
	if dad {
		src, ns.Options = net.IPv6unspecified, nil
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: src, DstIP: dst}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	icmp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, icmp, ns); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// On a routed TAP the daemon answers NS for the whole SUBNET6; on a bridge
// only for the router's own addresses, and every other NS is accepted so
// that the bridge delivers it to the host that owns the address.
func TestHandleNS(t *testing.T) {
	settings := &responder.Settings{}
	routed := fakeLookup{10: entry6(10, 0)}
	bridged := fakeLookup{10: entry6(10, 5)}
	gw6 := netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	routerLL := netip.MustParseAddr("fe80::ff:fe00:10") // of tapMAC
	neighbour := netip.MustParseAddr("2001:db8:aaaa:bbbb::11")
	eui := netip.MustParseAddr("2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344")
	brnf := Packet{InDev: 5, PhysInDev: 10, HwAddr: vmMAC}
	noBrnf := Packet{InDev: 5, HwAddr: vmMAC}
	tests := []struct {
		name    string
		lookup  fakeLookup
		p       Packet
		target  netip.Addr
		dad     bool
		verdict Verdict
		outcome responder.Outcome
	}{
		{"routed: gateway6", routed, Packet{InDev: 10, HwAddr: vmMAC}, gw6, false, Drop, responder.Answered},
		{"routed: router link-local", routed, Packet{InDev: 10, HwAddr: vmMAC}, routerLL, false, Drop, responder.Answered},
		{"routed: another address of SUBNET6 is proxied", routed, Packet{InDev: 10, HwAddr: vmMAC}, neighbour, false, Drop, responder.Answered},
		{"routed: DAD for the VM's own address is swallowed", routed, Packet{InDev: 10, HwAddr: vmMAC}, eui, true, Drop, responder.Ignored},
		{"bridged, br_netfilter: gateway6", bridged, brnf, gw6, false, Drop, responder.Answered},
		{"bridged, br_netfilter: router link-local", bridged, brnf, routerLL, false, Drop, responder.Answered},
		{"bridged, br_netfilter: DAD for gateway6 is defended", bridged, brnf, gw6, true, Drop, responder.Answered},
		{"bridged, br_netfilter: a neighbour goes on", bridged, brnf, neighbour, false, Accept, responder.Passed},
		{"bridged, br_netfilter: DAD for the VM's own address goes on", bridged, brnf, eui, true, Accept, responder.Passed},
		{"bridged, no br_netfilter: gateway6", bridged, noBrnf, gw6, false, Drop, responder.Answered},
		{"bridged, no br_netfilter: a neighbour goes on", bridged, noBrnf, neighbour, false, Accept, responder.Passed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(tt.lookup, settings)
			tt.p.Payload = nsPayload(t, tt.target, tt.dad)
			d := h.Handle(tt.p)
			if d.Verdict != tt.verdict || d.Entry != tt.lookup[10] || d.Result.Kind != responder.KindNS || d.Result.Outcome != tt.outcome {
				t.Fatalf("verdict %v entry %v kind %v outcome %v (%s), want %v, tap10's entry, ns, %v",
					d.Verdict, d.Entry, d.Result.Kind, d.Result.Outcome, d.Result.Reason, tt.verdict, tt.outcome)
			}
			if (d.Result.Frame != nil) != (tt.outcome == responder.Answered) {
				t.Fatalf("reply frame present = %v for outcome %v", d.Result.Frame != nil, tt.outcome)
			}
			if tt.outcome != responder.Answered {
				return
			}
			p := gopacket.NewPacket(d.Result.Frame, layers.LayerTypeEthernet, gopacket.Default)
			na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
			if !ok || !net.IP(tt.target.AsSlice()).Equal(na.TargetAddress) {
				t.Fatalf("reply is not the NA for %v: %v", tt.target, p)
			}
		})
	}
}

func TestNewLeaseMerges(t *testing.T) {
	s := &responder.Settings{
		Nameservers: []netip.Addr{netip.MustParseAddr("192.0.2.2")},
		Domain:      "example.com",
		Options:     []responder.Option{{Code: 42, Data: []byte{192, 0, 2, 5}}, {Code: 66, Data: []byte("tftp")}},
	}
	e := entry(10, 0)
	if l := NewLease(e, s); l.Domain != "example.com" || l.Nameservers[0] != s.Nameservers[0] ||
		len(l.Options) != 2 || l.DomainSearch[0] != "example.com" {
		t.Fatalf("defaults not taken from the configuration: %+v", l)
	}
	b := *e.Binding
	b.Domain = "vm.example.net"
	b.Nameservers = []netip.Addr{netip.MustParseAddr("198.51.100.53")}
	b.DHCPOptions = []binding.DHCPOption{{Code: 42, Data: []byte{198, 51, 100, 123}}}
	e.Binding = &b
	l := NewLease(e, s)
	if l.Domain != "vm.example.net" || l.Nameservers[0] != b.Nameservers[0] {
		t.Fatalf("binding overrides lost: %+v", l)
	}
	want := []responder.Option{{Code: 42, Data: []byte{198, 51, 100, 123}}, {Code: 66, Data: []byte("tftp")}}
	if len(l.Options) != 2 || l.Options[0].Code != 42 || string(l.Options[0].Data) != string(want[0].Data) || l.Options[1].Code != 66 {
		t.Fatalf("options %v, want the binding's 42 then the configuration's 66", l.Options)
	}
}

// The domain comes from the configuration, else from HOSTNAME's domain part,
// but only when HOSTNAME is a DNS name: one the original forgave (web_01)
// is still the VM's option 12, never the source of a search list.
func TestNewLeaseDomainFromHostname(t *testing.T) {
	for _, tt := range []struct {
		hostname, domain string
		search           []string
	}{
		{"vm.example.com", "example.com", []string{"example.com"}},
		{"vm", "", nil},
		{"web_01.example.com", "", nil},
		{"web_01", "", nil},
		{"my vm.example.com", "", nil},
	} {
		e := entry(10, 0)
		b := *e.Binding
		b.Hostname = tt.hostname
		e.Binding = &b
		l := NewLease(e, &responder.Settings{})
		if l.Hostname != tt.hostname || l.Domain != tt.domain || !slices.Equal(l.DomainSearch, tt.search) {
			t.Errorf("HOSTNAME %q: hostname %q, domain %q, search %q; want %q, %q", tt.hostname, l.Hostname, l.Domain, l.DomainSearch, tt.domain, tt.search)
		}
	}
}

// NEXT_SERVER and BOOT_FILE win over [dhcp] next_server and boot_file,
// each on its own.
func TestNewLeasePXE(t *testing.T) {
	s := &responder.Settings{NextServer: netip.MustParseAddr("192.0.2.69"), BootFile: "pxelinux.0"}
	e := entry(10, 0)
	if l := NewLease(e, s); l.NextServer != s.NextServer || l.BootFile != "pxelinux.0" {
		t.Errorf("configuration's PXE not taken: %v %q", l.NextServer, l.BootFile)
	}
	b := *e.Binding
	b.BootFile = "http://boot.example.com/vm10.ipxe"
	e.Binding = &b
	if l := NewLease(e, s); l.NextServer != s.NextServer || l.BootFile != b.BootFile {
		t.Errorf("binding's BOOT_FILE: %v %q", l.NextServer, l.BootFile)
	}
	b.NextServer = netip.MustParseAddr("198.51.100.69")
	if l := NewLease(e, s); l.NextServer != b.NextServer || l.BootFile != b.BootFile {
		t.Errorf("binding's NEXT_SERVER: %v %q", l.NextServer, l.BootFile)
	}
	if l := NewLease(e, &responder.Settings{}); l.NextServer != b.NextServer || l.BootFile != b.BootFile {
		t.Errorf("binding's PXE alone: %v %q", l.NextServer, l.BootFile)
	}
}

// With a Limit (iptables steering), a bound TAP's packets past its bucket
// are dropped unparsed, Limited, with no reply; another TAP's are not, and
// packets of no binding are accepted as ever.
func TestHandleLimited(t *testing.T) {
	settings := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1"), LeaseLifetime: 3600, LeaseRenewal: 600}
	h := NewHandler(fakeLookup{10: entry(10, 0), 11: entry(11, 0)}, settings)
	h.Limit = NewLimiter(1, 2)
	p := Packet{InDev: 10, HwAddr: vmMAC, Payload: discoverPayload(t, vmMAC)}
	for i, want := range []responder.Outcome{responder.Answered, responder.Answered, responder.Limited, responder.Limited} {
		d := h.Handle(p)
		if d.Verdict != Drop || d.Result.Outcome != want || (d.Result.Frame != nil) != (want == responder.Answered) {
			t.Errorf("packet %d: %v %v frame %v, want drop %v", i, d.Verdict, d.Result.Outcome, d.Result.Frame != nil, want)
		}
		if want == responder.Limited && d.Result.Kind != responder.KindDHCPDiscover {
			t.Errorf("packet %d: kind %v, want it classified for the metrics", i, d.Result.Kind)
		}
	}
	if d := h.Handle(Packet{InDev: 11, HwAddr: vmMAC, Payload: p.Payload}); d.Result.Outcome == responder.Limited {
		t.Error("tap11 limited by tap10's flood")
	}
	if d := h.Handle(Packet{InDev: 12, HwAddr: vmMAC, Payload: p.Payload}); d.Verdict != Accept {
		t.Errorf("unbound: %v", d.Verdict)
	}
}
