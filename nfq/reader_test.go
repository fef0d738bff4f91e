package nfq

import (
	"bytes"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// queuedNS is the kernel's message for a bridged NS (br_netfilter: indev the
// bridge 5, physindev tap10) with id 0x102 and the given skb mark.
func queuedNS(t *testing.T, target netip.Addr, mark uint32) nlmsg {
	t.Helper()
	body := cat(make([]byte, nfgenHdrLen),
		nla(nfqaPacketHdr, 0, 0, 0x01, 0x02, 0x86, 0xdd, 0),
		nla(nfqaMark, be32(mark)...),
		nla(nfqaIfindexIndev, be32(5)...),
		nla(nfqaIfindexPhys, be32(10)...),
		nla(nfqaHwaddr, cat([]byte{0, 6, 0, 0}, vmMAC, []byte{0, 0})...),
		nla(nfqaPayload, nsPayload(t, target, false)...))
	return nlmsg{Type: nfnlSubsysQueue<<8 | nfqnlMsgPacket, Body: body}
}

// An NS the responder passes on leaves with the verdict that lets it go on
// as it arrived: in tc steering NF_REPEAT with only our mark bits cleared, so
// the daemon's rules no longer match it and everyone else's bits are kept;
// in iptables steering NF_ACCEPT. An NS for the router is dropped and
// answered. Each is counted under its outcome.
func TestMessageBridgedNS(t *testing.T) {
	const (
		mask    = 0x0e000000
		nsMark  = 0x06000000 // the classifier's NS kind
		foreign = 0x00000011 // someone else's bits
	)
	gw6 := netip.MustParseAddr("2001:db8:aaaa:bbbb::1")
	neighbour := netip.MustParseAddr("2001:db8:aaaa:bbbb::11")
	for _, tt := range []struct {
		name    string
		mask    uint32
		target  netip.Addr
		want    []byte
		replies int
		outcome responder.Outcome
	}{
		{"tc: a neighbour is handed back without our bits", mask, neighbour,
			verdictMsg(nfqnlMsgVerdict, nfRepeat, 0x102, foreign), 0, responder.Passed},
		{"iptables: a neighbour is accepted", 0, neighbour,
			verdictMsg(nfqnlMsgVerdict, nfAccept, 0x102), 0, responder.Passed},
		{"tc: gateway6 is answered and dropped", mask, gw6,
			verdictMsg(nfqnlMsgVerdict, nfDrop, 0x102), 1, responder.Answered},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{
				cfg:     ReaderConfig{Queue: 42, MarkMask: tt.mask},
				handler: NewHandler(fakeLookup{10: entry6(10, 5)}, &responder.Settings{}),
				stats:   &Stats{},
				log:     slog.New(slog.DiscardHandler),
				replies: new(replyBatch),
			}
			r.verdicts.reset(42)
			r.message(queuedNS(t, tt.target, nsMark|foreign))
			if got := r.verdicts.bytes(); !bytes.Equal(got, tt.want) {
				t.Fatalf("verdicts\n%x\nwant\n%x", got, tt.want)
			}
			if r.replies.n != tt.replies {
				t.Errorf("%d replies queued, want %d", r.replies.n, tt.replies)
			}
			if n := r.stats.Count(responder.KindNS, tt.outcome); n != 1 {
				t.Errorf("ns/%v counted %d times, want 1", tt.outcome, n)
			}
		})
	}
}
