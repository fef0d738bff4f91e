package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Answers in the kernel are held to the responder, byte for byte: every
// request below runs through the classifier (BPF_PROG_TEST_RUN, with its
// maps written by putEntry from responder.Templates, as the daemon writes
// them) and through the responder, as NFQUEUE would hand it over. The
// classifier either answers with exactly the responder's frame, or passes
// the request on to the daemon untouched.

const tcActRedirect = 7 // TC_ACT_REDIRECT == TCX_REDIRECT

var (
	tapMAC  = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x01}
	loMAC   = net.HardwareAddr{0, 0, 0, 0, 0, 0} // BPF_PROG_TEST_RUN's device: unicast to it is PACKET_HOST
	unspec  = netip.IPv6Unspecified()
	vmLL    = netip.MustParseAddr("fe80::5054:ff:fe12:3456")
	vmEUI64 = netip.MustParseAddr("2001:db8:aaaa:bbbb:5054:ff:fe12:3456")
	gw6     = netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	rtrLL   = netip.MustParseAddr("fe80::42:acff:fe11:1") // EUI-64 of tapMAC
	allRtrs = netip.MustParseAddr("ff02::2")
)

func answerSettings() responder.Settings {
	return responder.Settings{
		Mode:         responder.ModeSLAACDHCPv6,
		RAPeriod:     300,
		Nameservers6: []netip.Addr{netip.MustParseAddr("2001:db8:100::1"), netip.MustParseAddr("2001:db8:200::2")},
		Domains6:     []string{"example.com"},
	}
}

func answerLease() *responder.Lease {
	return &responder.Lease{
		TAPMAC:   tapMAC,
		MAC:      vmMAC,
		Hostname: "vm",
		Subnet6:  netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64"),
		Gateway6: gw6,
		EUI64:    vmEUI64,
		MTU:      1450,
	}
}

// ndReq is an RS or NS frame, field by field.
type ndReq struct {
	ethDst, ethSrc net.HardwareAddr // default: the IPv6 destination's multicast MAC, or lo's; vmMAC
	src, dst       netip.Addr       // dst default: ff02::2 for an RS, the target's solicited-node for an NS
	typ, code      uint8
	hop            uint8 // default 255
	target         netip.Addr
	opts           []byte
	hopByHop       bool   // an 8-byte hop-by-hop header first
	trailer        []byte // bytes after the IPv6 payload (Ethernet padding)
	plenDelta      int    // added to the IPv6 payload length
}

func rsReq(src netip.Addr, slla bool) ndReq {
	r := ndReq{typ: 133, src: src}
	if slla {
		r.opts = sllaOpt(vmMAC)
	}
	return r
}

func nsReq(src, target netip.Addr, slla bool) ndReq {
	r := ndReq{typ: 135, src: src, target: target}
	if slla {
		r.opts = sllaOpt(vmMAC)
	}
	return r
}

func sllaOpt(mac net.HardwareAddr) []byte { return append([]byte{1, 1}, mac...) }

func solicited(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

func (r ndReq) frame() []byte {
	dst := r.dst
	if !dst.IsValid() {
		dst = allRtrs
		if r.typ == 135 {
			dst = solicited(r.target)
		}
	}
	msg := []byte{r.typ, r.code, 0, 0, 0, 0, 0, 0}
	if r.typ == 135 {
		t := r.target.As16()
		msg = append(msg, t[:]...)
	}
	msg = append(msg, r.opts...)
	// A correct checksum, as a VM sends it; neither side checks it.
	s, d := r.src.As16(), dst.As16()
	var acc uint32
	for _, b := range [][]byte{s[:], d[:], msg} {
		for i := 0; i < len(b); i += 2 {
			acc += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	acc += uint32(len(msg)) + 58
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	binary.BigEndian.PutUint16(msg[2:], ^uint16(acc))

	payload, next := msg, uint8(58)
	if r.hopByHop {
		payload, next = append([]byte{58, 0, 1, 4, 0, 0, 0, 0}, msg...), 0
	}
	hop := r.hop
	if hop == 0 {
		hop = 255
	}
	ip := make([]byte, 40, 40+len(payload))
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)+r.plenDelta))
	ip[6], ip[7] = next, hop
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	ethDst, ethSrc := r.ethDst, r.ethSrc
	if ethDst == nil {
		ethDst = loMAC
		if dst.IsMulticast() {
			ethDst = net.HardwareAddr{0x33, 0x33, d[12], d[13], d[14], d[15]}
		}
	}
	if ethSrc == nil {
		ethSrc = vmMAC
	}
	f := append(append([]byte{}, ethDst...), ethSrc...)
	f = binary.BigEndian.AppendUint16(f, etherIPv6)
	f = append(append(f, ip...), payload...)
	return append(f, r.trailer...)
}

// answerRig is the classifier with its maps, and the loader that writes them.
type answerRig struct {
	objs *classifierObjects
	l    *Loader
	cfg  Config
}

func newAnswerRig(tb testing.TB, cfg Config) *answerRig {
	objs := loadUnpinned(tb, cfg)
	l := &Loader{cfg: cfg.withDefaults(), ifaces: objs.Ifaces, limits: objs.Limits, stats: objs.Stats,
		config: objs.Config, answers: objs.Answers, scratch: objs.Scratch, gen: firstGen()}
	return &answerRig{objs: objs, l: l, cfg: cfg}
}

// bind writes lo's entries as the daemon does for a binding.
func (r *answerRig) bind(tb testing.TB, s responder.Settings, lease *responder.Lease) {
	tb.Helper()
	t := responder.New(s).Templates(lease)
	ifc := Iface{Index: loIfindex, Name: "lo", MAC: lease.MAC, MACSpoof: lease.MACSpoof, Kinds: AllKinds,
		Answers: Answers{RA: t.RA, NA: t.NA}}
	if err := r.l.putEntry(ifc); err != nil {
		tb.Fatal(err)
	}
}

// run passes frame through the classifier, and returns its verdict, the
// frame as it left, and its mark.
func (r *answerRig) run(tb testing.TB, frame []byte) (uint32, []byte, uint32) {
	tb.Helper()
	out := make([]byte, 2048)
	ctx := make([]byte, skbSize)
	opts := &ebpf.RunOptions{Data: frame, DataOut: out, Context: skbCtx{Ifindex: loIfindex}, ContextOut: ctx}
	verdict, err := r.objs.NfdhcpdClassify.Run(opts)
	if err != nil {
		tb.Fatalf("run %x: %v", frame, err)
	}
	return verdict, opts.DataOut, binary.NativeEndian.Uint32(ctx[8:])
}

// check runs frame through both sides and holds the classifier to the
// responder; it reports whether the classifier answered.
func (r *answerRig) check(tb testing.TB, s responder.Settings, lease *responder.Lease, frame []byte) bool {
	tb.Helper()
	verdict, out, mark := r.run(tb, frame)
	if verdict == tcActRedirect {
		res := responder.New(s).Respond(frame[14:], net.HardwareAddr(frame[6:12]), lease)
		if res.Outcome != responder.Answered {
			tb.Fatalf("frame %x: the classifier answered, the responder says %v (%s)", frame, res.Outcome, res.Reason)
		}
		if !bytes.Equal(out, res.Frame) {
			tb.Fatalf("frame %x: the classifier answered\n%x\nthe responder\n%x", frame, out, res.Frame)
		}
		return true
	}
	if !bytes.Equal(out, frame) {
		tb.Fatalf("frame %x: passed on changed (verdict %#x):\n%x", frame, verdict, out)
	}
	if kind := refClassify(frame); kind != 0 && verdict == tcActUnspec && mark != MarkFor(r.cfg, kind) {
		tb.Fatalf("frame %x: passed on with mark %#x, want %#x", frame, mark, MarkFor(r.cfg, kind))
	}
	return false
}

// answered are requests the classifier answers itself, on a TAP whose
// router link-local address is rll.
func answered(rll netip.Addr) map[string]ndReq {
	return map[string]ndReq{
		"rs from link-local with SLLA":       rsReq(vmLL, true),
		"rs from link-local without SLLA":    rsReq(vmLL, false),
		"rs from :: (to all nodes)":          rsReq(unspec, false),
		"rs from global with SLLA (to all)":  rsReq(vmEUI64, true),
		"rs unicast to the router":           func() ndReq { r := rsReq(vmLL, true); r.dst = rll; return r }(),
		"ns gateway6 to solicited-node":      nsReq(vmLL, gw6, true),
		"ns gateway6 unicast, no SLLA (NUD)": func() ndReq { r := nsReq(vmLL, gw6, false); r.dst = gw6; return r }(),
		"ns router link-local from global":   nsReq(vmEUI64, rll, true),
		"ns router link-local NUD":           func() ndReq { r := nsReq(vmLL, rll, false); r.dst = rll; return r }(),
		"ns gateway6 from global, unicast":   func() ndReq { r := nsReq(vmEUI64, gw6, true); r.dst = gw6; return r }(),
		"dad for gateway6":                   nsReq(unspec, gw6, false),
		"dad for the router link-local":      nsReq(unspec, rll, false),
		"ns to solicited-node, broadcast":    func() ndReq { r := nsReq(vmLL, gw6, true); r.ethDst = bcastMAC; return r }(),
	}
}

// passed are requests the classifier leaves to the daemon, with why.
func passed() map[string]ndReq {
	mod := func(r ndReq, f func(*ndReq)) ndReq { f(&r); return r }
	ns := nsReq(vmLL, gw6, true)
	rs := rsReq(vmLL, true)
	return map[string]ndReq{
		"ns for another subnet address (proxied by the daemon)": nsReq(vmLL, netip.MustParseAddr("2001:db8:aaaa:bbbb::77"), true),
		"ns for the VM's own address":                           nsReq(vmLL, vmEUI64, true),
		"ns for a multicast target":                             nsReq(vmLL, netip.MustParseAddr("ff02::1"), true),
		"ns hop limit 64":                                       mod(ns, func(r *ndReq) { r.hop = 64 }),
		"ns code 1":                                             mod(ns, func(r *ndReq) { r.code = 1 }),
		"ns with a nonce option":                                mod(ns, func(r *ndReq) { r.opts = []byte{14, 1, 1, 2, 3, 4, 5, 6} }),
		"ns with SLLA and a nonce":                              mod(ns, func(r *ndReq) { r.opts = append(sllaOpt(vmMAC), 14, 1, 1, 2, 3, 4, 5, 6) }),
		"ns with a 16-byte SLLA option":                         mod(ns, func(r *ndReq) { r.opts = append([]byte{1, 2}, make([]byte, 14)...) }),
		"ns with a zero-length option":                          mod(ns, func(r *ndReq) { r.opts = []byte{1, 0, 0, 0, 0, 0, 0, 0} }),
		"ns with SLLA of another MAC":                           mod(ns, func(r *ndReq) { r.opts = sllaOpt(otherMAC) }),
		"dad with SLLA":                                         mod(nsReq(unspec, gw6, true), func(*ndReq) {}),
		"dad not to solicited-node":                             mod(nsReq(unspec, gw6, false), func(r *ndReq) { r.dst = netip.MustParseAddr("ff02::1") }),
		"ns with Ethernet padding":                              mod(ns, func(r *ndReq) { r.trailer = make([]byte, 4) }),
		"ns with a payload length short of the frame":           mod(ns, func(r *ndReq) { r.plenDelta = -8 }),
		"ns after a hop-by-hop header":                          mod(ns, func(r *ndReq) { r.hopByHop = true }),
		"ns to another host's MAC":                              mod(ns, func(r *ndReq) { r.dst = gw6; r.ethDst = otherMAC }),
		"ns unicast in a multicast frame":                       mod(ns, func(r *ndReq) { r.dst = gw6; r.ethDst = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} }),
		"ns from a multicast source":                            mod(ns, func(r *ndReq) { r.src = netip.MustParseAddr("ff02::1") }),
		"ns from ::1":                                           mod(ns, func(r *ndReq) { r.src = netip.IPv6Loopback() }),
		"ns to ::1":                                             mod(ns, func(r *ndReq) { r.dst = netip.IPv6Loopback() }),
		"ns to interface-local ff01::1":                         mod(ns, func(r *ndReq) { r.dst = netip.MustParseAddr("ff01::1") }),
		"ns to reserved-scope ff00::1":                          mod(ns, func(r *ndReq) { r.dst = netip.MustParseAddr("ff00::1") }),
		"ns from another MAC (MACSPOOF off: dropped)":           mod(ns, func(r *ndReq) { r.ethSrc = otherMAC }),
		"rs from :: with SLLA":                                  rsReq(unspec, true),
		"rs hop limit 1":                                        mod(rs, func(r *ndReq) { r.hop = 1 }),
		"rs code 3":                                             mod(rs, func(r *ndReq) { r.code = 3 }),
		"rs with an unknown option":                             mod(rs, func(r *ndReq) { r.opts = []byte{200, 1, 0, 0, 0, 0, 0, 0} }),
		"rs with SLLA of another MAC":                           mod(rs, func(r *ndReq) { r.opts = sllaOpt(otherMAC) }),
		"rs with Ethernet padding":                              mod(rs, func(r *ndReq) { r.trailer = []byte{0, 0} }),
		"rs after a hop-by-hop header":                          mod(rs, func(r *ndReq) { r.hopByHop = true }),
		"rs to another host's MAC":                              mod(rs, func(r *ndReq) { r.dst = rtrLL; r.ethDst = otherMAC }),
	}
}

func TestAnswersMatchResponder(t *testing.T) {
	cfg := Config{Answer: KindRS | KindNS}
	rig := newAnswerRig(t, cfg)
	many := func(n int) []netip.Addr {
		var out []netip.Addr
		for i := range n {
			out = append(out, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
		}
		return out
	}
	for _, b := range []struct {
		name     string
		settings func(*responder.Settings)
		lease    func(*responder.Lease)
	}{
		{name: "seed binding"},
		{name: "no GATEWAY6, no MTU", lease: func(l *responder.Lease) { l.Gateway6, l.MTU = netip.Addr{}, 0 }},
		{name: "PRIVATE, stateful DHCPv6", settings: func(s *responder.Settings) { s.Mode = responder.ModeDHCPv6 },
			lease: func(l *responder.Lease) { l.Private = true }},
		{name: "40 DNS servers and a search list", lease: func(l *responder.Lease) {
			l.Nameservers6, l.DomainSearch = many(40), []string{"a.example.com", "b.example.org"}
		}},
		{name: "an RA of 1514 bytes (87 DNS servers, no MTU)", lease: func(l *responder.Lease) {
			l.MTU, l.Nameservers6, l.DomainSearch = 0, many(90), nil
		}},
		{name: "MACSPOOF", lease: func(l *responder.Lease) { l.MACSpoof = true }},
		{name: "bridge port", lease: func(l *responder.Lease) { l.Bridged = true }},
		{name: "router_address", settings: func(s *responder.Settings) { s.RouterAddress = netip.MustParseAddr("fe80::1") }},
	} {
		s, lease := answerSettings(), answerLease()
		if b.settings != nil {
			b.settings(&s)
		}
		if b.lease != nil {
			b.lease(lease)
		}
		rig.bind(t, s, lease)
		for name, req := range answered(responder.New(s).RouterAddress(lease)) {
			if b.lease != nil && lease.Gateway6 != gw6 && req.target == gw6 {
				continue // no GATEWAY6 in this binding to ask for
			}
			t.Run(b.name+"/answered/"+name, func(t *testing.T) {
				resetStats(t, rig.objs.Stats)
				if !rig.check(t, s, lease, req.frame()) {
					t.Fatal("not answered in the kernel")
				}
				st, err := readStats(rig.objs.Stats)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.RS.Answered + st.NS.Answered; got != 1 || st.RS.Marked+st.NS.Marked != 0 {
					t.Errorf("stats %+v: want one answered, none marked", st)
				}
			})
		}
		for name, req := range passed() {
			t.Run(b.name+"/passed/"+name, func(t *testing.T) {
				resetStats(t, rig.objs.Stats)
				if rig.check(t, s, lease, req.frame()) {
					t.Fatal("answered in the kernel")
				}
				st, err := readStats(rig.objs.Stats)
				if err != nil {
					t.Fatal(err)
				}
				if st.RS.Answered+st.NS.Answered != 0 {
					t.Errorf("stats %+v: answered", st)
				}
			})
		}
	}
}

// A request the kernel would answer goes to the daemon untouched when its
// templates are not current for its ifaces entry, are gone, or answers are
// off; and the rate limit drops it before anything is answered.
func TestAnswersPassedOn(t *testing.T) {
	s, lease := answerSettings(), answerLease()
	ns := nsReq(vmLL, gw6, true).frame()
	rs := rsReq(vmLL, true).frame()
	key := classifierIfaceKey{Ifindex: loIfindex}
	for _, tc := range []struct {
		name    string
		cfg     Config
		mod     func(t *testing.T, r *answerRig)
		verdict uint32 // for both
		rs      uint32 // for the RS, when not verdict
		want    Stats
	}{
		{name: "current templates: answered", cfg: Config{Answer: KindRS | KindNS},
			verdict: tcActRedirect, want: Stats{NS: KindStats{Answered: 1}, RS: KindStats{Answered: 1}}},
		{name: "answers off in the config map", cfg: Config{},
			verdict: tcActUnspec, want: Stats{NS: KindStats{Marked: 1}, RS: KindStats{Marked: 1}}},
		{name: "ns only", cfg: Config{Answer: KindNS},
			verdict: tcActRedirect, rs: tcActUnspec, want: Stats{NS: KindStats{Answered: 1}, RS: KindStats{Marked: 1}}},
		{name: "templates of another generation", cfg: Config{Answer: KindRS | KindNS},
			mod: func(t *testing.T, r *answerRig) {
				tm := responder.New(s).Templates(lease)
				if err := r.l.putAnswers(Iface{Index: loIfindex}, Answers{RA: tm.RA, NA: tm.NA}, r.l.gen+1); err != nil {
					t.Fatal(err)
				}
			},
			verdict: tcActUnspec, want: Stats{NS: KindStats{Marked: 1}, RS: KindStats{Marked: 1}}},
		{name: "no templates", cfg: Config{Answer: KindRS | KindNS},
			mod: func(t *testing.T, r *answerRig) {
				if err := r.objs.Answers.Delete(key); err != nil {
					t.Fatal(err)
				}
			},
			verdict: tcActUnspec, want: Stats{NS: KindStats{Marked: 1}, RS: KindStats{Marked: 1}}},
		{name: "binding rewritten without templates", cfg: Config{Answer: KindRS | KindNS},
			mod: func(t *testing.T, r *answerRig) {
				if err := r.l.putEntry(Iface{Index: loIfindex, Name: "lo", MAC: vmMAC, Kinds: AllKinds}); err != nil {
					t.Fatal(err)
				}
				if err := r.objs.Answers.Lookup(key, new(classifierIfaceAnswers)); err == nil {
					t.Error("answers entry left behind")
				}
			},
			verdict: tcActUnspec, want: Stats{NS: KindStats{Marked: 1}, RS: KindStats{Marked: 1}}},
		{name: "over the rate limit: dropped, not answered", cfg: Config{Answer: KindRS | KindNS, Limit: RateLimit{PerSecond: 1, Burst: 1}},
			mod: func(t *testing.T, r *answerRig) {
				if v, _, _ := r.run(t, ns); v != tcActRedirect {
					t.Fatalf("first NS: verdict %#x", v)
				}
				resetStats(t, r.objs.Stats)
			},
			verdict: tcActShot, want: Stats{NS: KindStats{Limited: 1}, RS: KindStats{Limited: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newAnswerRig(t, tc.cfg)
			rig.bind(t, s, lease)
			if tc.mod != nil {
				tc.mod(t, rig)
			}
			resetStats(t, rig.objs.Stats)
			for _, f := range [][]byte{ns, rs} {
				verdict, out, _ := rig.run(t, f)
				want := tc.verdict
				if f[14+40] == 133 && tc.rs != 0 {
					want = tc.rs
				}
				if verdict != want {
					t.Errorf("ICMPv6 type %d: verdict %#x, want %#x", f[14+40], verdict, want)
				}
				if verdict != tcActRedirect && !bytes.Equal(out, f) {
					t.Errorf("passed on changed:\n%x\nwas\n%x", out, f)
				}
			}
			st, err := readStats(rig.objs.Stats)
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.want {
				t.Errorf("stats %+v, want %+v", st, tc.want)
			}
		})
	}
}

func TestAnswersValue(t *testing.T) {
	tm := responder.New(answerSettings()).Templates(answerLease())
	for _, tc := range []struct {
		a   Answers
		err string
	}{
		{a: Answers{RA: tm.RA, NA: tm.NA}},
		{a: Answers{RA: make([]byte, raMax+1)}, err: "RA template of 1521 bytes"},
		{a: Answers{RA: make([]byte, 20)}, err: "RA template of 20 bytes"},
		{a: Answers{NA: [][]byte{tm.NA[0][:80]}}, err: "NA template of 80 bytes"},
		{a: Answers{NA: [][]byte{tm.NA[0], tm.NA[1], tm.NA[0]}}, err: "3 NA templates"},
	} {
		v, err := tc.a.value(7)
		if fmt.Sprint(err) != fmt.Sprint(nilIfEmpty(tc.err)) && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err))) {
			t.Errorf("%v: error %v, want %q", len(tc.a.RA), err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if v.Gen != 7 || int(v.RaLen) != len(tm.RA) || !bytes.Equal(v.Ra[:v.RaLen], tm.RA) || v.NaCount != 2 {
			t.Errorf("value gen %d ra %d na %d", v.Gen, v.RaLen, v.NaCount)
		}
		for i, na := range tm.NA {
			if !bytes.Equal(v.Na[i].Frame[:NALen], na) || !bytes.Equal(v.Na[i].Target[:], na[naTargetOff:naTargetOff+16]) {
				t.Errorf("NA %d: %x target %x", i, v.Na[i].Frame, v.Na[i].Target)
			}
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FuzzAnswers runs random frames through the classifier with a binding's
// templates in place: each is either passed on untouched or answered with
// exactly the responder's reply.
func FuzzAnswers(f *testing.F) {
	s, lease := answerSettings(), answerLease()
	rig := newAnswerRig(f, Config{Answer: KindRS | KindNS})
	rig.bind(f, s, lease)
	for _, reqs := range []map[string]ndReq{answered(rtrLL), passed()} {
		for _, r := range reqs {
			f.Add(r.frame())
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		out := make([]byte, 2048)
		opts := &ebpf.RunOptions{Data: frame, DataOut: out, Context: skbCtx{Ifindex: loIfindex}, ContextOut: make([]byte, skbSize)}
		verdict, err := rig.objs.NfdhcpdClassify.Run(opts)
		if err != nil {
			return // BPF_PROG_TEST_RUN refuses frames shorter than their headers
		}
		if verdict == tcActRedirect {
			res := responder.New(s).Respond(frame[14:], net.HardwareAddr(frame[6:12]), lease)
			if res.Outcome != responder.Answered || !bytes.Equal(opts.DataOut, res.Frame) {
				t.Fatalf("frame %x: the classifier answered\n%x\nthe responder (%v, %s)\n%x",
					frame, opts.DataOut, res.Outcome, res.Reason, res.Frame)
			}
			return
		}
		if !bytes.Equal(opts.DataOut, frame) {
			t.Fatalf("frame %x: passed on changed (verdict %#x):\n%x", frame, verdict, opts.DataOut)
		}
	})
}

// The answers entry follows the binding through the loader: written with
// the ifaces entry and of its generation, rewritten in place, removed when
// a binding has no templates, at Detach, and by Reconcile for a TAP no
// longer bound; a start with answers off (Config.Answer 0) turns the
// classifier's answers off before Reconcile, which then removes them.
func TestAnswersEntryFollowsBinding(t *testing.T) {
	lab := newLab(t)
	host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
	cfg := lab.config(t, AttachAuto)
	cfg.Answer = KindRS | KindNS
	l := openLoader(t, cfg)
	idx := host.Attrs().Index
	tm := responder.New(answerSettings()).Templates(answerLease())
	ifc := Iface{Index: idx, Name: "tap0", MAC: vmMAC, Kinds: AllKinds, Answers: Answers{RA: tm.RA, NA: tm.NA}}
	pinned := func() map[int]Answers {
		t.Helper()
		got, err := PinnedAnswers(lab.pinPath)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	gens := func() (iface, answers uint64) {
		t.Helper()
		key := classifierIfaceKey{Ifindex: uint32(idx)}
		var v classifierIfaceValue
		var a classifierIfaceAnswers
		if err := l.ifaces.Lookup(key, &v); err != nil {
			t.Fatal(err)
		}
		if err := l.answers.Lookup(key, &a); err != nil {
			return v.Gen, 0
		}
		return v.Gen, a.Gen
	}

	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); !reflect.DeepEqual(got, map[int]Answers{idx: ifc.Answers}) {
		t.Fatalf("PinnedAnswers = %v, want the templates", got)
	}
	g1, a1 := gens()
	if g1 == 0 || a1 != g1 {
		t.Fatalf("generations: ifaces %d, answers %d", g1, a1)
	}

	// A new TAP MAC: new templates, in place, of a new generation.
	lease := answerLease()
	lease.TAPMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	tm2 := responder.New(answerSettings()).Templates(lease)
	ifc.Answers = Answers{RA: tm2.RA, NA: tm2.NA}
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); !reflect.DeepEqual(got, map[int]Answers{idx: ifc.Answers}) {
		t.Fatalf("after the MAC change PinnedAnswers = %v", got)
	}
	if g2, a2 := gens(); g2 == g1 || a2 != g2 {
		t.Errorf("generations after rewrite: ifaces %d (was %d), answers %d", g2, g1, a2)
	}

	// Kinds not marked are not answered: only what Kinds and Config.Answer allow.
	ifc.Kinds = KindDHCP | KindNS
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if got := pinned()[idx]; got.RA != nil || len(got.NA) != 2 {
		t.Errorf("RS not marked: RA %x, %d NA", got.RA, len(got.NA))
	}
	ifc.Kinds = AllKinds

	ifc.Answers = Answers{}
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); len(got) != 0 {
		t.Errorf("binding without templates: answers entry left: %v", got)
	}

	ifc.Answers = Answers{RA: tm.RA, NA: tm.NA}
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if err := l.Detach(idx, "tap0"); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); len(got) != 0 {
		t.Errorf("Detach left the answers entry: %v", got)
	}

	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); len(got) != 0 {
		t.Errorf("Reconcile left the answers entry of an unwanted TAP: %v", got)
	}

	// A restart with answers off: off in the config map from Open on, and
	// the templates gone once reconciled, although the Iface still has them.
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	l.Close()
	cfg.Answer = 0
	l = openLoader(t, cfg)
	var c classifierMarkConfig
	if err := l.config.Lookup(uint32(0), &c); err != nil || c.AnswerKinds != 0 {
		t.Errorf("config after a start with answers off: %+v, %v", c, err)
	}
	if got := pinned(); len(got) != 1 {
		t.Errorf("before Reconcile: %d answers entries, want the one left", len(got))
	}
	if _, err := l.Reconcile(context.Background(), []Iface{ifc}); err != nil {
		t.Fatal(err)
	}
	if got := pinned(); len(got) != 0 {
		t.Errorf("answers off: Reconcile left %v", got)
	}
}
