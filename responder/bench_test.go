package responder

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
)

// BenchmarkReply measures one reply of each kind: the budget is under 2 µs
// and at most 2 allocations per reply.
func BenchmarkReply(b *testing.B) {
	for _, c := range replyCases() {
		b.Run(c.name, func(b *testing.B) {
			s := testSettings()
			s.Mode = c.mode
			r, l := New(s), goldenLease()
			var pkt []byte
			if c.pkt != nil {
				pkt = c.pkt(b)
			}
			if c.reply(b, r, pkt, l) == nil {
				b.Fatal("no reply")
			}
			b.ReportAllocs()
			for b.Loop() {
				c.reply(b, r, pkt, l)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	pkt := replyCases()[0].pkt(b)
	b.ReportAllocs()
	for b.Loop() {
		Classify(pkt)
	}
}

// TestReplyAllocs holds the allocation budget in the ordinary test run, so
// a regression fails CI rather than waiting for someone to read benchmarks.
func TestReplyAllocs(t *testing.T) {
	for _, c := range replyCases() {
		s := testSettings()
		s.Mode = c.mode
		r, l := New(s), goldenLease()
		var pkt []byte
		if c.pkt != nil {
			pkt = c.pkt(t)
		}
		if n := testing.AllocsPerRun(100, func() { c.reply(t, r, pkt, l) }); n > 0 {
			t.Errorf("%s: %v allocations per reply, want 0", c.name, n)
		}
	}
	// A PXE offer with the timers in the client's order: option 66 is
	// the next server's text, written into the scratch.
	s := testSettings()
	s.NextServer, s.BootFile = netip.MustParseAddr("192.0.2.69"), "pxelinux.0"
	r, l := New(s), goldenLease()
	pkt := dhcp4Packet(t, layers.DHCPMsgTypeDiscover, nil, opt(layers.DHCPOptParamsRequest, 1, 51, 66, 67, 58, 59))
	if n := testing.AllocsPerRun(100, func() { r.Respond(pkt, vmMAC, l) }); n > 0 {
		t.Errorf("PXE offer: %v allocations per reply, want 0", n)
	}
}
