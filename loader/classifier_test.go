package loader

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

const (
	tcActUnspec = 0xffffffff // TC_ACT_UNSPEC (-1) == TCX_NEXT
	tcActShot   = 2          // TC_ACT_SHOT == TCX_DROP
	loIfindex   = 1          // BPF_PROG_TEST_RUN's device when ctx names none
	skbSize     = 192        // sizeof(struct __sk_buff) since 5.16
)

// skbCtx is the head of struct __sk_buff: BPF_PROG_TEST_RUN takes a
// shorter context in, which lets a test set mark and ifindex, but wants the
// whole struct's size out; the mark comes back at offset 8.
type skbCtx struct {
	Len, PktType, Mark, QueueMapping, Protocol uint32
	VlanPresent, VlanTCI, VlanProto, Priority  uint32
	IngressIfindex, Ifindex                    uint32
}

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for BPF_PROG_TEST_RUN, netns and netlink")
	}
}

// loadUnpinned loads the classifier with private, unpinned maps and the
// default marks configured.
func loadUnpinned(tb testing.TB, cfg Config) *classifierObjects {
	tb.Helper()
	requireRoot(tb)
	spec, err := loadClassifier()
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
	}
	var objs classifierObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			tb.Fatalf("load classifier: %+v", ve)
		}
		tb.Fatalf("load classifier: %v", err)
	}
	tb.Cleanup(func() { objs.Close() })
	l := &Loader{cfg: cfg.withDefaults(), config: objs.Config}
	if err := l.writeConfig(); err != nil {
		tb.Fatal(err)
	}
	return &objs
}

func putIface(tb testing.TB, m *ebpf.Map, ifindex uint32, mac []byte, kinds Kinds, flags uint8) {
	tb.Helper()
	v := classifierIfaceValue{Kinds: uint8(kinds), Flags: flags}
	copy(v.Mac[:], mac)
	if err := m.Put(classifierIfaceKey{Ifindex: ifindex}, &v); err != nil {
		tb.Fatal(err)
	}
}

func resetStats(tb testing.TB, m *ebpf.Map) {
	tb.Helper()
	zero := make([]classifierCounters, ebpf.MustPossibleCPU())
	if err := m.Put(uint32(0), zero); err != nil {
		tb.Fatal(err)
	}
}

func TestClassifier(t *testing.T) {
	cfg := Config{}
	objs := loadUnpinned(t, cfg)
	dhcp, rs, ns, dhcp6 := MarkFor(cfg, KindDHCP), MarkFor(cfg, KindRS), MarkFor(cfg, KindNS), MarkFor(cfg, KindDHCPv6)
	const foreign = 0x4000_0001 // others' bits, outside our mask: must survive

	tests := []struct {
		name      string
		frame     []byte
		bound     bool   // ifaces entry for lo
		kinds     Kinds  // enabled kinds in the entry
		flags     uint8  // entry flags
		noConfig  bool   // config map left empty
		markIn    uint32 // skb mark before the classifier
		verdict   uint32
		markOut   uint32
		wantStats Stats
	}{
		{name: "dhcp", frame: dhcpDiscover(vmMAC), bound: true, kinds: AllKinds,
			verdict: tcActUnspec, markOut: dhcp, wantStats: Stats{DHCP: KindStats{Marked: 1}}},
		{name: "dhcp keeps foreign bits and replaces stale own bits", frame: dhcpDiscover(vmMAC), bound: true, kinds: AllKinds,
			markIn: foreign | dhcp6, verdict: tcActUnspec, markOut: foreign | dhcp, wantStats: Stats{DHCP: KindStats{Marked: 1}}},
		{name: "dhcp with IPv4 options", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv4, ipv4(protoUDP, []byte{0x94, 4, 0, 0}, 0, udp(68, 67, nil))),
			verdict: tcActUnspec, markOut: dhcp, wantStats: Stats{DHCP: KindStats{Marked: 1}}},
		{name: "IHL honoured: port 67 in options is not UDP's", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv4, ipv4(protoUDP, []byte{1, 1, 0, 67}, 0, udp(68, 80, nil))),
			verdict: tcActUnspec},
		{name: "first fragment of dhcp", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv4, ipv4(protoUDP, nil, 0x2000, udp(68, 67, nil))),
			verdict: tcActUnspec, markOut: dhcp, wantStats: Stats{DHCP: KindStats{Marked: 1}}},
		{name: "non-first fragment", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv4, ipv4(protoUDP, nil, 0x0010, udp(68, 67, nil))),
			verdict: tcActUnspec},
		{name: "IHL below 5", bound: true, kinds: AllKinds,
			frame: func() []byte {
				f := dhcpDiscover(vmMAC)
				f[14] = 0x44
				return f
			}(),
			verdict: tcActUnspec},
		{name: "udp to 68", bound: true, kinds: AllKinds,
			frame: ether(vmMAC, etherIPv4, ipv4(protoUDP, nil, 0, udp(67, 68, nil))), verdict: tcActUnspec},
		{name: "tcp to 67", bound: true, kinds: AllKinds,
			frame: ether(vmMAC, etherIPv4, ipv4(protoTCP, nil, 0, udp(68, 67, make([]byte, 12)))), verdict: tcActUnspec},
		{name: "arp", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherARP, make([]byte, 28)), verdict: tcActUnspec},
		{name: "rs", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(133))),
			verdict: tcActUnspec, markOut: rs, wantStats: Stats{RS: KindStats{Marked: 1}}},
		{name: "ns", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(135))),
			verdict: tcActUnspec, markOut: ns, wantStats: Stats{NS: KindStats{Marked: 1}}},
		{name: "na is not ours", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(136))),
			verdict: tcActUnspec},
		{name: "echo request is not ours", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(128))),
			verdict: tcActUnspec},
		{name: "dhcpv6", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoUDP, udp(546, 547, make([]byte, 4)))),
			verdict: tcActUnspec, markOut: dhcp6, wantStats: Stats{DHCPv6: KindStats{Marked: 1}}},
		{name: "udp6 to 546", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoUDP, udp(547, 546, nil))),
			verdict: tcActUnspec},
		{name: "ns after hop-by-hop and destination options", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv6, ipv6(protoHopOpts, ext(protoDstOpts, ext(protoICMPv6, icmpv6(135))))),
			verdict: tcActUnspec, markOut: ns, wantStats: Stats{NS: KindStats{Marked: 1}}},
		{name: "dhcpv6 after three extension headers", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv6, ipv6(protoHopOpts, ext(protoRouting, ext(protoDstOpts, ext(protoUDP, udp(546, 547, nil)))))),
			verdict: tcActUnspec, markOut: dhcp6, wantStats: Stats{DHCPv6: KindStats{Marked: 1}}},
		{name: "four extension headers: beyond the bound", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv6, ipv6(protoHopOpts, ext(protoDstOpts, ext(protoRouting, ext(protoDstOpts, ext(protoUDP, udp(546, 547, nil))))))),
			verdict: tcActUnspec},
		{name: "fragmented dhcpv6", bound: true, kinds: AllKinds,
			frame:   ether(vmMAC, etherIPv6, ipv6(protoFrag, fragHeader(protoUDP, udp(546, 547, nil)))),
			verdict: tcActUnspec},
		// BPF_PROG_TEST_RUN refuses (EINVAL) frames that end inside the
		// Ethernet or IP header, so truncation is exercised past them.
		{name: "truncated: UDP ports", bound: true, kinds: AllKinds, frame: dhcpDiscover(vmMAC)[:14+20+3], verdict: tcActUnspec},
		{name: "truncated: options push ports out", bound: true, kinds: AllKinds,
			frame: ether(vmMAC, etherIPv4, ipv4(protoUDP, make([]byte, 40), 0, nil)), verdict: tcActUnspec},
		{name: "truncated: extension header", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoHopOpts, []byte{58})),
			verdict: tcActUnspec},
		{name: "truncated: ICMPv6 type", bound: true, kinds: AllKinds, frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, nil)),
			verdict: tcActUnspec},
		{name: "wrong MAC dropped", frame: dhcpDiscover(otherMAC), bound: true, kinds: AllKinds,
			verdict: tcActShot, wantStats: Stats{DHCP: KindStats{Spoofed: 1}}},
		{name: "wrong MAC on ns dropped", frame: ether(otherMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(135))), bound: true, kinds: AllKinds,
			markIn: foreign, verdict: tcActShot, markOut: foreign, wantStats: Stats{NS: KindStats{Spoofed: 1}}},
		{name: "wrong MAC with MACSPOOF", frame: dhcpDiscover(otherMAC), bound: true, kinds: AllKinds, flags: flagMACSpoof,
			verdict: tcActUnspec, markOut: dhcp, wantStats: Stats{DHCP: KindStats{Marked: 1}}},
		{name: "wrong MAC on non-matching traffic untouched", frame: ether(otherMAC, etherIPv4, ipv4(protoUDP, nil, 0, udp(68, 53, nil))),
			bound: true, kinds: AllKinds, verdict: tcActUnspec},
		{name: "unbound ifindex", frame: dhcpDiscover(otherMAC), markIn: foreign,
			verdict: tcActUnspec, markOut: foreign, wantStats: Stats{Unbound: 1}},
		{name: "kind not enabled", frame: ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(133))), bound: true, kinds: KindDHCP | KindNS,
			verdict: tcActUnspec, wantStats: Stats{RS: KindStats{Disabled: 1}}},
		{name: "not configured", frame: dhcpDiscover(vmMAC), bound: true, kinds: AllKinds, noConfig: true,
			verdict: tcActUnspec, wantStats: Stats{Unconfigured: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetStats(t, objs.Stats)
			key := classifierIfaceKey{Ifindex: loIfindex}
			if err := objs.Ifaces.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				t.Fatal(err)
			}
			if tt.bound {
				putIface(t, objs.Ifaces, loIfindex, vmMAC, tt.kinds, tt.flags)
			}
			if tt.noConfig {
				if err := objs.Config.Put(uint32(0), classifierMarkConfig{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					l := &Loader{cfg: cfg.withDefaults(), config: objs.Config}
					if err := l.writeConfig(); err != nil {
						t.Fatal(err)
					}
				})
			}
			in := skbCtx{Mark: tt.markIn, Ifindex: loIfindex}
			out := make([]byte, skbSize)
			verdict, err := objs.NfdhcpdClassify.Run(&ebpf.RunOptions{Data: tt.frame, DataOut: make([]byte, len(tt.frame)+256), Context: in, ContextOut: out})
			if err != nil {
				t.Fatal(err)
			}
			if verdict != tt.verdict {
				t.Errorf("verdict = %#x, want %#x", verdict, tt.verdict)
			}
			if tt.markOut == 0 {
				tt.markOut = tt.markIn
			}
			if mark := binary.NativeEndian.Uint32(out[8:]); mark != tt.markOut {
				t.Errorf("mark = %#x, want %#x", mark, tt.markOut)
			}
			got, err := readStats(objs.Stats)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", got, tt.wantStats)
			}
		})
	}
}
