package responder

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

func opt(c layers.DHCPOpt, b ...byte) layers.DHCPOption { return layers.NewDHCPOption(c, b) }

var (
	clientID61 = append([]byte{1}, vmMAC...)
	fullPRL    = opt(layers.DHCPOptParamsRequest, 1, 3, 6, 15, 119, 121, 12, 26, 28)
)

func TestDHCPv4(t *testing.T) {
	reqIP := func(s string) layers.DHCPOption { return opt(layers.DHCPOptRequestIP, ip4b(s)...) }
	sid := opt(layers.DHCPOptServerID, ip4b("192.0.2.1")...)
	renewing := func(d *layers.DHCPv4) { d.ClientIP = net.IP(ip4b("192.0.2.100")) }
	bcast := func(d *layers.DHCPv4) { d.Flags = 0x8000 }

	type want struct {
		outcome  Outcome
		kind     Kind
		msgType  layers.DHCPMsgType
		ethDst   net.HardwareAddr
		ipDst    string
		yiaddr   string
		ciaddr   string
		order    []uint8          // exact option order, when set
		opts     map[uint8][]byte // exact payloads of these options
		absent   []uint8
		reasonIn string
	}
	tests := []struct {
		name  string
		lease func(*Lease)
		set   func(*Settings)
		src   net.HardwareAddr
		pkt   func(t *testing.T) []byte
		want  want
	}{{
		name:  "discover gets offer with every option in option 55 order",
		lease: func(l *Lease) { l.MTU = 1450; l.DomainSearch = []string{"example.com", "example.org."} },
		src:   vmMAC,
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, opt(layers.DHCPOptClientID, clientID61...), fullPRL)
		},
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0",
			order: []uint8{53, 54, 61, 51, 58, 59, 1, 3, 6, 15, 119, 121, 12, 26, 28},
			opts: map[uint8][]byte{
				53: {2}, 54: ip4b("192.0.2.1"), 61: clientID61,
				51: u32(604800), 58: u32(3600), 59: u32(529200),
				1: {255, 255, 255, 0}, 3: ip4b("192.0.2.1"), 6: append(ip4b("192.0.2.2"), ip4b("192.0.2.3")...),
				15: []byte("example.com"), 119: []byte("\x07example\x03com\x00\x07example\x03org\x00"),
				121: {0, 192, 0, 2, 1}, 12: []byte("testing-vm"), 26: {0x05, 0xaa}, 28: ip4b("192.0.2.255"),
			}},
	}, {
		name: "discover without option 55 gets the default order and no option 121",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil) },
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0",
			order: []uint8{53, 54, 51, 58, 59, 1, 3, 28, 6, 12, 15}},
	}, {
		name: "broadcast flag sends to 255.255.255.255 and ff:ff:ff:ff:ff:ff",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, bcast) },
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: broadcastMAC, ipDst: "255.255.255.255", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0"},
	}, {
		name: "selecting request gets ack",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeRequest, nil, reqIP("192.0.2.100"), sid)
		},
		want: want{outcome: Answered, kind: KindDHCPRequest, msgType: layers.DHCPMsgTypeAck,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0",
			opts: map[uint8][]byte{53: {5}, 51: u32(604800)}},
	}, {
		name: "init-reboot request for an address not ours gets a broadcast nak",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeRequest, nil, reqIP("192.0.2.77"), opt(layers.DHCPOptClientID, clientID61...))
		},
		want: want{outcome: NAK, kind: KindDHCPRequest, msgType: layers.DHCPMsgTypeNak,
			ethDst: broadcastMAC, ipDst: "255.255.255.255", yiaddr: "0.0.0.0", ciaddr: "0.0.0.0",
			order: []uint8{53, 54, 61, 56}, opts: map[uint8][]byte{56: []byte("requested address is not assigned to this client")}, reasonIn: "not the binding's"},
	}, {
		name: "renewing request (ciaddr) gets unicast ack echoing ciaddr",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeRequest, renewing) },
		want: want{outcome: Answered, kind: KindDHCPRequest, msgType: layers.DHCPMsgTypeAck,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "192.0.2.100"},
	}, {
		name: "renewing with an old address gets nak",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeRequest, func(d *layers.DHCPv4) { d.ClientIP = net.IP(ip4b("192.0.2.50")) })
		},
		want: want{outcome: NAK, kind: KindDHCPRequest, msgType: layers.DHCPMsgTypeNak,
			ethDst: broadcastMAC, ipDst: "255.255.255.255", yiaddr: "0.0.0.0", ciaddr: "0.0.0.0"},
	}, {
		name: "request with no address at all gets nak",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeRequest, nil) },
		want: want{outcome: NAK, kind: KindDHCPRequest, msgType: layers.DHCPMsgTypeNak,
			ethDst: broadcastMAC, ipDst: "255.255.255.255", yiaddr: "0.0.0.0", ciaddr: "0.0.0.0"},
	}, {
		name: "inform gets ack to ciaddr without lease options and yiaddr 0",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeInform, renewing) },
		want: want{outcome: Answered, kind: KindDHCPInform, msgType: layers.DHCPMsgTypeAck,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "0.0.0.0", ciaddr: "192.0.2.100",
			opts: map[uint8][]byte{12: []byte("testing-vm")}, absent: []uint8{51, 58, 59}},
	}, {
		name:  "private binding gets no router options even when asked",
		lease: func(l *Lease) { l.Private = true },
		pkt:   func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, fullPRL) },
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0", absent: []uint8{3, 121}},
	}, {
		name:  "server_on_link uses the gateway as server identifier and source",
		set:   func(s *Settings) { s.ServerOnLink = true },
		lease: func(l *Lease) { l.Gateway = netip.MustParseAddr("192.0.2.254") },
		pkt:   func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil) },
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0",
			opts: map[uint8][]byte{54: ip4b("192.0.2.254"), 3: ip4b("192.0.2.254")}},
	}, {
		name: "extra options: binding's win over settings' per code, and may replace built-ins",
		set: func(s *Settings) {
			s.Options = []Option{{42, ip4b("198.51.100.1")}, {66, []byte("boot.example.com")}, {6, ip4b("198.51.100.53")}}
		},
		lease: func(l *Lease) { l.Options = []Option{{42, ip4b("192.0.2.5")}, {224, []byte{1, 2}}, {53, []byte{9}}} },
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, opt(layers.DHCPOptParamsRequest, 66, 42))
		},
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: vmMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0",
			order: []uint8{53, 54, 51, 58, 59, 66, 42, 1, 3, 28, 6, 12, 15, 224},
			opts:  map[uint8][]byte{53: {2}, 42: ip4b("192.0.2.5"), 66: []byte("boot.example.com"), 224: {1, 2}, 6: ip4b("198.51.100.53")}},
	}, {
		name: "chaddr not the binding's is spoofed",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, func(d *layers.DHCPv4) { d.ClientHWAddr = otherMAC })
		},
		want: want{outcome: Spoofed, kind: KindDHCPDiscover},
	}, {
		name: "Ethernet source not the binding's is spoofed",
		src:  otherMAC,
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil) },
		want: want{outcome: Spoofed, kind: KindDHCPDiscover},
	}, {
		name:  "MACSPOOF answers another MAC, to that MAC",
		lease: func(l *Lease) { l.MACSpoof = true },
		src:   otherMAC,
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, func(d *layers.DHCPv4) { d.ClientHWAddr = otherMAC })
		},
		want: want{outcome: Answered, kind: KindDHCPDiscover, msgType: layers.DHCPMsgTypeOffer,
			ethDst: otherMAC, ipDst: "192.0.2.100", yiaddr: "192.0.2.100", ciaddr: "0.0.0.0"},
	}, {
		name:  "binding without IP gets no DHCPv4",
		lease: func(l *Lease) { l.IP = netip.Addr{} },
		pkt:   func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil) },
		want:  want{outcome: Ignored, kind: KindDHCPDiscover, reasonIn: "no IPv4"},
	}, {
		name: "release is reported, not answered",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeRelease, renewing, sid) },
		want: want{outcome: Ignored, kind: KindDHCPRelease, reasonIn: "released"},
	}, {
		name: "decline is reported, not answered",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDecline, nil, reqIP("192.0.2.100"), sid)
		},
		want: want{outcome: Ignored, kind: KindDHCPDecline, reasonIn: "declined"},
	}, {
		name: "request selecting another server is ignored",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeRequest, nil, reqIP("192.0.2.100"), opt(layers.DHCPOptServerID, 10, 0, 0, 1))
		},
		want: want{outcome: Ignored, kind: KindDHCPRequest, reasonIn: "another server"},
	}, {
		name: "relayed request is ignored",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, func(d *layers.DHCPv4) { d.RelayAgentIP = net.IP(ip4b("10.0.0.1")) })
		},
		want: want{outcome: Ignored, kind: KindDHCPDiscover, reasonIn: "relayed"},
	}, {
		name: "offer from a client is unsupported",
		pkt:  func(t *testing.T) []byte { return dhcp4Packet(t, layers.DHCPMsgTypeOffer, nil) },
		want: want{outcome: Unsupported, kind: KindDHCPOther},
	}, {
		name: "BOOTREPLY is malformed",
		pkt: func(t *testing.T) []byte {
			return dhcp4Packet(t, layers.DHCPMsgTypeDiscover, func(d *layers.DHCPv4) { d.Operation = layers.DHCPOpReply })
		},
		want: want{outcome: Malformed, kind: KindUnknown},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			if tc.set != nil {
				tc.set(&s)
			}
			l := testLease()
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(s).Respond(tc.pkt(t), tc.src, l)
			w := tc.want
			if res.Outcome != w.outcome || res.Kind != w.kind {
				t.Fatalf("outcome %v kind %v (%q), want %v %v", res.Outcome, res.Kind, res.Reason, w.outcome, w.kind)
			}
			if w.reasonIn != "" && !strings.Contains(res.Reason, w.reasonIn) {
				t.Errorf("reason %q, want it to contain %q", res.Reason, w.reasonIn)
			}
			if w.outcome != Answered && w.outcome != NAK {
				if res.Frame != nil {
					t.Errorf("frame sent for %v", w.outcome)
				}
				if res.Reason == "" {
					t.Error("no reason given")
				}
				return
			}
			if w.kind != KindUnknown && res.XID != 0x12345678 {
				t.Errorf("XID %#x", res.XID)
			}
			d := decode(t, res.Frame)
			if !bytes.Equal(d.eth.DstMAC, w.ethDst) || !bytes.Equal(d.eth.SrcMAC, tapMAC) {
				t.Errorf("Ethernet %v -> %v, want %v -> %v", d.eth.SrcMAC, d.eth.DstMAC, tapMAC, w.ethDst)
			}
			wantSrc := "192.0.2.1"
			if v, ok := w.opts[54]; ok {
				wantSrc = netip.AddrFrom4([4]byte(v)).String()
			}
			if d.ip4.SrcIP.String() != wantSrc || d.ip4.DstIP.String() != w.ipDst || d.ip4.TTL != 64 {
				t.Errorf("IPv4 %v -> %v ttl %d, want %v -> %v", d.ip4.SrcIP, d.ip4.DstIP, d.ip4.TTL, wantSrc, w.ipDst)
			}
			if d.udp.SrcPort != 67 || d.udp.DstPort != 68 {
				t.Errorf("UDP %d -> %d", d.udp.SrcPort, d.udp.DstPort)
			}
			p := d.dhcp
			if p.Operation != layers.DHCPOpReply || p.Xid != 0x12345678 || p.HardwareLen != 6 ||
				p.YourClientIP.String() != w.yiaddr || p.ClientIP.String() != w.ciaddr || !p.NextServerIP.Equal(net.IPv4zero) {
				t.Errorf("BOOTP op %v xid %#x yiaddr %v ciaddr %v siaddr %v", p.Operation, p.Xid, p.YourClientIP, p.ClientIP, p.NextServerIP)
			}
			if len(res.Frame)-42 < dhcpMinReply {
				t.Errorf("DHCP message %d bytes, below the BOOTP minimum", len(res.Frame)-42)
			}
			order, got := opts4(p)
			if got[53][0] != byte(w.msgType) {
				t.Errorf("message type %v, want %v", got[53], w.msgType)
			}
			if w.order != nil && !slices.Equal(order, w.order) {
				t.Errorf("option order %v, want %v", order, w.order)
			}
			for c, v := range w.opts {
				eqBytes(t, "option "+layers.DHCPOpt(c).String(), got[c], v)
			}
			for _, c := range w.absent {
				if _, ok := got[c]; ok {
					t.Errorf("option %d present: %x", c, got[c])
				}
			}
		})
	}
}

// Option 57 bounds the reply; past the options field, RFC 2131 option
// overload moves options into file and sname. An option that still does
// not fit is left out whole, never truncated mid-option, except the
// lists: the search list keeps the whole names that fit the room left.
func TestDHCPv4SizeLimits(t *testing.T) {
	long := make([]string, 15)
	for i := range long {
		long[i] = strings.Repeat("x", 20) + ".example.com" // 34 bytes encoded
	}
	extras := []Option{
		{224, bytes.Repeat([]byte{0xe0}, 120)}, {225, bytes.Repeat([]byte{0xe1}, 120)},
		{226, bytes.Repeat([]byte{0xe2}, 120)}, {227, bytes.Repeat([]byte{0xe3}, 60)},
		{228, bytes.Repeat([]byte{0xe4}, 50)},
	}
	base := []uint8{53, 54, 51, 58, 59, 1, 3, 28, 6, 12, 15}
	for _, tc := range []struct {
		name     string
		maxSize  int // 0: no option 57
		limit    int // DHCP message length bound
		overload byte
		present  []uint8
		absent   []uint8
		names    int // of option 119
		left     LeftOut
	}{
		// options field 548-240 = 308 bytes: base options, 224 and 227
		// fill it; 225 goes to file, 228 to sname; 226 fits nowhere, and
		// 119 keeps the one name that fits the 40 bytes left.
		{"no option 57: 576-byte reply overloads file and sname", 0, 548, 3,
			[]uint8{224, 225, 227, 228}, []uint8{226}, 1, LeftOut{Domains: 14, Options: 1}},
		{"option 57 below 576 is raised to 576", 300, 548, 3,
			[]uint8{224, 225, 227, 228}, []uint8{226}, 1, LeftOut{Domains: 14, Options: 1}},
		{"option 57 of 1500 fits everything without overload", 1500, 1472, 0,
			[]uint8{119, 224, 225, 226, 227, 228}, nil, 15, LeftOut{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			l.DomainSearch = long
			l.Options = extras
			opts := []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 1, 3, 119)}
			if tc.maxSize > 0 {
				opts = append(opts, opt(layers.DHCPOptMaxMessageSize, byte(tc.maxSize>>8), byte(tc.maxSize)))
			}
			res := New(testSettings()).Respond(dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, opts...), vmMAC, l)
			d := decode(t, res.Frame)
			msg := res.Frame[42:]
			if len(msg) > tc.limit {
				t.Errorf("message %d bytes, limit %d", len(msg), tc.limit)
			}
			_, got := opts4(d.dhcp)
			if ov := got[52]; tc.overload != 0 && (len(ov) != 1 || ov[0] != tc.overload) || tc.overload == 0 && ov != nil {
				t.Errorf("overload option %x, want %d", ov, tc.overload)
			}
			all := allOptions4(msg, tc.overload)
			for _, c := range append(base, tc.present...) {
				if all[c] == nil {
					t.Errorf("option %d missing", c)
				}
			}
			for _, c := range tc.absent {
				if all[c] != nil {
					t.Errorf("option %d present", c)
				}
			}
			for _, o := range extras {
				if all[o.Code] != nil {
					eqBytes(t, "option "+layers.DHCPOpt(o.Code).String(), all[o.Code], o.Data)
				}
			}
			if want := strings.Repeat("\x14"+strings.Repeat("x", 20)+"\x07example\x03com\x00", tc.names); string(all[119]) != want {
				t.Errorf("option 119 is %d bytes after RFC 3396 concatenation, want %d names (%d)", len(all[119]), tc.names, len(want))
			}
			if res.LeftOut != tc.left {
				t.Errorf("left out %+v, want %+v", res.LeftOut, tc.left)
			}
		})
	}
}

// allOptions4 reads a DHCP message's options as RFC 2131 says, the file
// and sname fields too when overload says so, and concatenates each
// option's instances per RFC 3396 (gopacket reads the options field only).
func allOptions4(msg []byte, overload byte) map[uint8][]byte {
	all := map[uint8][]byte{}
	for i, area := range [][]byte{msg[240:], msg[108:236], msg[44:108]} {
		if i > 0 && overload&byte(i) == 0 {
			continue
		}
		for len(area) > 0 && area[0] != 255 {
			if area[0] == 0 {
				area = area[1:]
				continue
			}
			all[area[0]] = append(all[area[0]], area[2:2+int(area[1])]...)
			area = area[2+int(area[1]):]
		}
	}
	return all
}

// addrs4 returns n distinct IPv4 addresses, 10.53.0.1 on, as option 6
// carries them.
func addrs4(n int) ([]netip.Addr, []byte) {
	var as []netip.Addr
	var b []byte
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 53, byte((i + 1) >> 8), byte(i + 1)})
		as, b = append(as, a), append(b, a.AsSlice()...)
	}
	return as, b
}

// A DHCPv4 reply fits the client's maximum message size and the link MTU
// (at least 576). A DNS server list that fits no region whole keeps the
// addresses that fit the room left once every other option is placed,
// split in 255-byte instances (RFC 3396) where it is long.
func TestDHCPv4Fits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		servers  int
		mtu      uint16
		maxSize  int // 0: no option 57
		carried  int
		ipLength int // bound of the IPv4 packet
	}{
		// 304 bytes of options field; 70 taken by the others (74 with
		// option 26): 58 addresses, 57 with an MTU.
		{"100 servers, a 576-byte client: the first 58 fit", 100, 0, 0, 58, 576},
		{"100 servers, a 1500-byte client: all", 100, 0, 1500, 100, 1500},
		{"MTU below IPv4's 576: a 576-byte link all the same", 100, 500, 1500, 57, 576},
		// 728 bytes of options field, 74 taken: 162 addresses in three instances.
		{"MTU 1000 bounds a 1500-byte client", 300, 1000, 1500, 162, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			l.MTU = tc.mtu
			var want []byte
			l.Nameservers, want = addrs4(tc.servers)
			var opts []layers.DHCPOption
			if tc.maxSize > 0 {
				opts = append(opts, opt(layers.DHCPOptMaxMessageSize, byte(tc.maxSize>>8), byte(tc.maxSize)))
			}
			res := New(testSettings()).Respond(dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, opts...), vmMAC, l)
			if res.Outcome != Answered {
				t.Fatalf("%v (%s)", res.Outcome, res.Reason)
			}
			decode(t, res.Frame)
			if got := len(res.Frame) - ethLen; got > tc.ipLength {
				t.Errorf("IPv4 packet of %d bytes, bound %d", got, tc.ipLength)
			}
			msg := res.Frame[ethLen+ip4Len+udpLen:]
			all := allOptions4(msg, 3)
			eqBytes(t, "option 6", all[optDNS], want[:4*tc.carried])
			if wantLeft := (LeftOut{Nameservers: tc.servers - tc.carried}); res.LeftOut != wantLeft {
				t.Errorf("left out %+v, want %+v", res.LeftOut, wantLeft)
			}
		})
	}
}

// hexBytes reads hex with spaces and line breaks, as the tests write it.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 2132 §9.8: the server "MUST try to insert the requested options in
// the order requested by the client". The lease timers (51, 58, 59) go in
// the client's order when it asks for them, and first when it does not;
// either way their room in the options field is kept, so a change of order
// never changes what fits.
func TestDHCPv4OptionOrder(t *testing.T) {
	// What Android sends: client id, maximum size, vendor class, its own
	// host name, and its parameter request list.
	android := []layers.DHCPOption{
		opt(layers.DHCPOptClientID, clientID61...),
		opt(layers.DHCPOptMaxMessageSize, 0x05, 0xdc),
		opt(layers.DHCPOptClassID, []byte("android-dhcp-14")...),
		opt(layers.DHCPOptHostname, []byte("Pixel-8")...),
		opt(layers.DHCPOptParamsRequest, 1, 33, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108),
	}
	huge := Option{224, bytes.Repeat([]byte{0xe0}, 288)} // 292 bytes encoded: the options field less the timers' 18, and 3
	for _, tc := range []struct {
		name     string
		opts     []layers.DHCPOption
		extra    []Option
		msgType  layers.DHCPMsgType
		fields   string // the options field exactly, to its end option
		order    []uint8
		leftOpts int
	}{{
		name: "Android's list: every option in its order, then the host name it did not ask for",
		opts: android, msgType: layers.DHCPMsgTypeDiscover,
		fields: `350102 3604c0000201 3d0701aa6b39223344
			0104ffffff00 0304c0000201 0608c0000202c0000203 0f0b6578616d706c652e636f6d 1a0205aa 1c04c00002ff
			330400093a80 3a0400000e10 3b0400081330
			0c0a74657374696e672d766d ff`,
	}, {
		name:    "Android's list in a REQUEST: the ACK in the same order",
		opts:    append(android, opt(layers.DHCPOptRequestIP, ip4b("192.0.2.100")...), opt(layers.DHCPOptServerID, ip4b("192.0.2.1")...)),
		msgType: layers.DHCPMsgTypeRequest,
		fields: `350105 3604c0000201 3d0701aa6b39223344
			0104ffffff00 0304c0000201 0608c0000202c0000203 0f0b6578616d706c652e636f6d 1a0205aa 1c04c00002ff
			330400093a80 3a0400000e10 3b0400081330
			0c0a74657374696e672d766d ff`,
	}, {
		name:    "timers asked for in another order, some between others",
		opts:    []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 59, 1, 58, 3, 51)},
		msgType: layers.DHCPMsgTypeDiscover,
		order:   []uint8{53, 54, 59, 1, 58, 3, 51, 28, 6, 12, 15, 26},
	}, {
		name:    "one timer asked for: the others first, as when none is",
		opts:    []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 1, 3, 6, 58)},
		msgType: layers.DHCPMsgTypeDiscover,
		order:   []uint8{53, 54, 51, 59, 1, 3, 6, 58, 28, 12, 15, 26},
	}, {
		name:    "no timers asked for: they go first",
		opts:    []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 1, 3, 6)},
		msgType: layers.DHCPMsgTypeDiscover,
		order:   []uint8{53, 54, 51, 58, 59, 1, 3, 6, 28, 12, 15, 26},
	}, {
		name:    "INFORM: no timers even when asked for",
		opts:    android,
		msgType: layers.DHCPMsgTypeInform,
		order:   []uint8{53, 54, 61, 1, 3, 6, 15, 26, 28, 12},
	}, {
		// The options field (548 bytes, no option 57) has 295 bytes
		// after 53 and 54. Placed before the timers, option 224 would
		// take 292 of them and push the timers into the file field; it
		// is left out instead, as when the timers went first.
		name:     "a large option asked for before the timers does not push them out of the options field",
		opts:     []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 224, 51, 58, 59)},
		extra:    []Option{huge},
		msgType:  layers.DHCPMsgTypeDiscover,
		order:    []uint8{53, 54, 51, 58, 59, 1, 3, 28, 6, 12, 15, 26},
		leftOpts: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			l.MTU = 1450
			l.Options = tc.extra
			mod := func(d *layers.DHCPv4) {}
			if tc.msgType == layers.DHCPMsgTypeInform {
				mod = func(d *layers.DHCPv4) { d.ClientIP = net.IP(ip4b("192.0.2.100")) }
			}
			res := New(testSettings()).Respond(dhcp4Packet(t, tc.msgType, mod, tc.opts...), vmMAC, l)
			if res.Outcome != Answered {
				t.Fatalf("%v (%s)", res.Outcome, res.Reason)
			}
			d := decode(t, res.Frame)
			msg := res.Frame[ethLen+ip4Len+udpLen:]
			if tc.fields != "" {
				want := hexBytes(t, tc.fields)
				if got := msg[dhcpHeader:]; !bytes.Equal(got[:min(len(got), len(want))], want) || slices.ContainsFunc(got[len(want):], func(b byte) bool { return b != 0 }) {
					t.Errorf("options field:\n%x\nwant:\n%x and padding", got, want)
				}
			}
			if order, got := opts4(d.dhcp); tc.order != nil && !slices.Equal(order, tc.order) {
				t.Errorf("option order %v, want %v", order, tc.order)
			} else if _, over := got[optOverload]; over {
				t.Errorf("options overloaded into file or sname: %x", got[optOverload])
			}
			if res.LeftOut.Options != tc.leftOpts {
				t.Errorf("%d options left out, want %d", res.LeftOut.Options, tc.leftOpts)
			}
		})
	}
}

// PXE firmware boots from the BOOTP siaddr and file fields; options 66
// and 67 carry the same to clients that ask for them. The binding's next
// server and boot file win over the configuration's, and the file field is
// never also used for options while it holds a boot file.
func TestDHCPv4PXE(t *testing.T) {
	pxe := func(s *Settings) { s.NextServer, s.BootFile = netip.MustParseAddr("192.0.2.69"), "pxelinux.0" }
	asks := opt(layers.DHCPOptParamsRequest, 1, 3, 66, 67)
	extras := []Option{ // as in TestDHCPv4SizeLimits: without a boot file, 225 goes to file
		{224, bytes.Repeat([]byte{0xe0}, 120)}, {225, bytes.Repeat([]byte{0xe1}, 120)},
		{226, bytes.Repeat([]byte{0xe2}, 120)}, {227, bytes.Repeat([]byte{0xe3}, 60)},
		{228, bytes.Repeat([]byte{0xe4}, 50)},
	}
	for _, tc := range []struct {
		name     string
		set      func(*Settings)
		lease    func(*Lease)
		msgType  layers.DHCPMsgType
		opts     []layers.DHCPOption
		siaddr   string
		file     string
		order    []uint8
		want     map[uint8][]byte
		absent   []uint8
		overload byte
	}{{
		name: "the configuration's, and 66 and 67 where the client asks", set: pxe,
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "192.0.2.69", file: "pxelinux.0",
		order: []uint8{53, 54, 51, 58, 59, 1, 3, 66, 67, 28, 6, 12, 15},
		want:  map[uint8][]byte{66: []byte("192.0.2.69"), 67: []byte("pxelinux.0")},
	}, {
		name: "in the ACK too", set: pxe,
		msgType: layers.DHCPMsgTypeRequest, opts: []layers.DHCPOption{asks, opt(layers.DHCPOptRequestIP, ip4b("192.0.2.100")...)},
		siaddr: "192.0.2.69", file: "pxelinux.0",
		want: map[uint8][]byte{66: []byte("192.0.2.69"), 67: []byte("pxelinux.0")},
	}, {
		name: "not asked for: the fields only", set: pxe,
		msgType: layers.DHCPMsgTypeDiscover,
		siaddr:  "192.0.2.69", file: "pxelinux.0", absent: []uint8{66, 67},
	}, {
		name: "the binding's win, each on its own", set: pxe,
		lease:   func(l *Lease) { l.BootFile = "http://boot.example.com/vm.ipxe" },
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "192.0.2.69", file: "http://boot.example.com/vm.ipxe",
		want: map[uint8][]byte{66: []byte("192.0.2.69"), 67: []byte("http://boot.example.com/vm.ipxe")},
	}, {
		name: "the binding's alone",
		lease: func(l *Lease) {
			l.NextServer, l.BootFile = netip.MustParseAddr("198.51.100.69"), "undionly.kpxe"
		},
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "198.51.100.69", file: "undionly.kpxe",
		want: map[uint8][]byte{66: []byte("198.51.100.69"), 67: []byte("undionly.kpxe")},
	}, {
		name:    "a boot file without a next server: siaddr 0 and no option 66",
		set:     func(s *Settings) { s.BootFile = "http://boot.example.com/menu.ipxe" },
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "0.0.0.0", file: "http://boot.example.com/menu.ipxe",
		want: map[uint8][]byte{67: []byte("http://boot.example.com/menu.ipxe")}, absent: []uint8{66},
	}, {
		name: "an operator's option 66 wins over next_server's", set: func(s *Settings) {
			pxe(s)
			s.Options = []Option{{66, []byte("tftp.example.com")}}
		},
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "192.0.2.69", file: "pxelinux.0",
		want: map[uint8][]byte{66: []byte("tftp.example.com"), 67: []byte("pxelinux.0")},
	}, {
		name: "a NAK carries neither", set: pxe,
		msgType: layers.DHCPMsgTypeRequest, opts: []layers.DHCPOption{asks, opt(layers.DHCPOptRequestIP, ip4b("192.0.2.7")...)},
		siaddr: "0.0.0.0", file: "", absent: []uint8{66, 67},
	}, {
		name:    "no PXE: neither",
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{asks},
		siaddr: "0.0.0.0", file: "", absent: []uint8{66, 67},
	}, {
		// 224 and 227 fill the options field and 228 goes to sname; 225,
		// which went to the file field without a boot file, is left out.
		name: "options that would overload the file field go to sname or are left out", set: pxe,
		lease:   func(l *Lease) { l.Options = extras },
		msgType: layers.DHCPMsgTypeDiscover, opts: []layers.DHCPOption{opt(layers.DHCPOptParamsRequest, 1, 3)},
		siaddr: "192.0.2.69", file: "pxelinux.0", overload: 2,
		want: map[uint8][]byte{224: extras[0].Data, 227: extras[3].Data, 228: extras[4].Data}, absent: []uint8{225, 226},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			if tc.set != nil {
				tc.set(&s)
			}
			l := testLease()
			if tc.lease != nil {
				tc.lease(l)
			}
			res := New(s).Respond(dhcp4Packet(t, tc.msgType, nil, tc.opts...), vmMAC, l)
			if res.Outcome != Answered && res.Outcome != NAK {
				t.Fatalf("%v (%s)", res.Outcome, res.Reason)
			}
			decode(t, res.Frame)
			msg := res.Frame[ethLen+ip4Len+udpLen:]
			eqBytes(t, "siaddr", msg[20:24], ip4b(tc.siaddr))
			eqBytes(t, "file", msg[fileOff:fileOff+fileLen], append([]byte(tc.file), make([]byte, fileLen-len(tc.file))...))
			all := allOptions4(msg, tc.overload)
			if ov := all[optOverload]; tc.overload != 0 && !bytes.Equal(ov, []byte{tc.overload}) || tc.overload == 0 && ov != nil {
				t.Errorf("overload %x, want %d", ov, tc.overload)
			}
			if tc.order != nil {
				if order, _ := opts4(decode(t, res.Frame).dhcp); !slices.Equal(order, tc.order) {
					t.Errorf("option order %v, want %v", order, tc.order)
				}
			}
			for c, v := range tc.want {
				eqBytes(t, "option "+layers.DHCPOpt(c).String(), all[c], v)
			}
			for _, c := range tc.absent {
				if all[c] != nil {
					t.Errorf("option %d present: %x", c, all[c])
				}
			}
		})
	}
}
