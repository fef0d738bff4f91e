package nfq

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// brokenEntry is a bound TAP whose reply cannot be built: with no
// Binding, preparing its lease panics, as a builder bug would.
func brokenEntry(index int, name string) *binding.Entry {
	return &binding.Entry{TAP: binding.Link{Index: index, Name: name, MAC: tapMAC}}
}

// panickyLookup is fakeLookup whose lookup itself panics for one ifindex.
type panickyLookup struct {
	fakeLookup
	index int
}

func (p panickyLookup) ByIndex(i int) *binding.Entry {
	if i == p.index {
		panic("lookup broken")
	}
	return p.fakeLookup.ByIndex(i)
}

// queuedDiscover is the netlink message of a DISCOVER queued with id
// from ifindex indev.
func queuedDiscover(t *testing.T, id, indev uint32) nlmsg {
	body := cat(make([]byte, nfgenHdrLen),
		nla(nfqaPacketHdr, append(be32(id), 0x08, 0x00, 0)...),
		nla(nfqaIfindexIndev, be32(indev)...),
		nla(nfqaHwaddr, 0, 6, 0, 0, 0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44, 0, 0),
		nla(nfqaPayload, discoverPayload(t, vmMAC)...))
	return nlmsg{Type: nfnlSubsysQueue<<8 | nfqnlMsgPacket, Body: body}
}

// A panic while handling one packet is contained to that packet, as
// net/http does per request: the packet still gets its verdict (drop, as
// it came from a bound TAP), the panic is counted and logged once with
// its stack and TAP, and the packets after it are served.
func TestPanicWhileHandlingIsContained(t *testing.T) {
	settings := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1"), LeaseLifetime: 3600, LeaseRenewal: 600}
	lookup := panickyLookup{fakeLookup{10: entry(10, 0), 66: brokenEntry(66, "tap66")}, 77}
	var logs bytes.Buffer
	r := &Reader{
		cfg:     ReaderConfig{Name: "dhcp", Queue: 42},
		handler: NewHandler(lookup, settings),
		stats:   &Stats{},
		log:     slog.New(slog.NewTextHandler(&logs, nil)),
		replies: new(replyBatch),
	}
	r.verdicts.reset(42)
	r.message(queuedDiscover(t, 1, 66)) // panics building the reply: dropped
	r.message(queuedDiscover(t, 2, 11)) // no binding: accepted
	r.message(queuedDiscover(t, 3, 10)) // answered
	r.message(queuedDiscover(t, 4, 66)) // panics again: counted, not logged again
	r.message(queuedDiscover(t, 5, 77)) // the lookup panics too: dropped, bound or not
	r.message(queuedDiscover(t, 6, 11))

	want := cat(verdictMsg(nfqnlMsgVerdict, nfDrop, 1), verdictMsg(nfqnlMsgVerdict, nfAccept, 2),
		verdictMsg(nfqnlMsgVerdictBatch, nfDrop, 5), verdictMsg(nfqnlMsgVerdict, nfAccept, 6))
	if got := r.verdicts.bytes(); !bytes.Equal(got, want) {
		t.Errorf("verdicts\n%x\nwant\n%x", got, want)
	}
	if n := r.stats.PanicsPacket.Load(); n != 3 {
		t.Errorf("%d panics counted, want 3", n)
	}
	if n := r.stats.Count(responder.KindDHCPDiscover, responder.Answered); n != 1 {
		t.Errorf("%d DISCOVERs counted as answered, want 1 (a panicked packet is not counted)", n)
	}
	if r.replies.n != 1 {
		t.Fatalf("%d replies queued, want the one to tap10", r.replies.n)
	}
	p := gopacket.NewPacket(r.replies.frames[0][:], layers.LayerTypeEthernet, gopacket.Default)
	if offer, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); !ok || offer.Xid != 0xabcd || !offer.YourClientIP.Equal(net.IPv4(192, 0, 2, 100)) {
		t.Errorf("the packet after the panic got no OFFER: %v", p)
	}
	out := logs.String()
	if n := strings.Count(out, "iface=tap66"); n != 1 {
		t.Errorf("tap66's panic logged %d times, want once within WarnInterval:\n%s", n, out)
	}
	for _, s := range []string{`level=ERROR msg="panic recovered; the daemon goes on" where=packet iface=tap66`,
		"nfq.NewLease", "where=packet iface=- panic=\"lookup broken\""} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}

// A panic while building one periodic RA is contained the same way: the
// round goes on with the next binding.
func TestPanicInPeriodicRAIsContained(t *testing.T) {
	settings := &responder.Settings{RAPeriod: 300}
	var logs bytes.Buffer
	a := &Announcer{Settings: settings, Stats: &Stats{}, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	resp := responder.New(*settings)
	a.announce(resp, brokenEntry(66, "tap66"), "periodic RA")
	if n := a.Stats.PanicsRA.Load(); n != 1 {
		t.Errorf("%d panics counted, want 1", n)
	}
	if !strings.Contains(logs.String(), "where=ra iface=tap66") {
		t.Errorf("log lacks the RA's panic:\n%s", logs.String())
	}
	s, err := OpenSender()
	if err != nil {
		t.Skipf("the next RA needs an AF_PACKET socket: %v", err)
	}
	defer s.Close()
	a.Sender = s
	lo := entry(1, 0) // the loopback device takes the frame
	b := *lo.Binding
	b.Subnet6 = netip.MustParsePrefix("2001:db8::/64")
	lo.Binding = &b
	a.announce(resp, lo, "periodic RA")
	if a.Stats.PanicsRA.Load() != 1 || a.Stats.SendErrors.Load() != 0 || !strings.Contains(logs.String(), `msg="periodic RA" iface=tap10`) {
		t.Errorf("the next RA was not sent: panics %d, send errors %d\n%s", a.Stats.PanicsRA.Load(), a.Stats.SendErrors.Load(), logs.String())
	}
}
