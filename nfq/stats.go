package nfq

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nfdhcpd/nfdhcpd/internal/throttle"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Bounds of the counter table; the responder's enums are small.
const (
	maxKinds    = 32
	maxOutcomes = 16
)

// Stats counts what the readers did. Counters are atomics, so readers on
// several queues never share a lock on the packet path.
type Stats struct {
	Unbound       atomic.Uint64 // accepted untouched: no binding for the interface
	SendErrors    atomic.Uint64
	VerdictErrors atomic.Uint64
	// Panics recovered while handling a packet, and while building or
	// sending a periodic RA.
	PanicsPacket, PanicsRA atomic.Uint64
	// What replies had no room for (responder.LeftOut), summed.
	LeftOutNameservers, LeftOutDomains, LeftOutOptions atomic.Uint64
	byKind                                             [maxKinds][maxOutcomes]atomic.Uint64
	latencyNanos                                       atomic.Uint64 // sum over replies sent
	replies                                            atomic.Uint64
	latency                                            latencyHistogram

	warn throttle.Log[warnKey] // the readers' and the announcer's warnings
}

// WarnInterval is how often one kind of problem is logged at most: a flooding
// VM or a broken TAP must not turn the log into a flood too.
const WarnInterval = throttle.DefaultInterval

// Count reports how many requests of kind ended with outcome.
func (s *Stats) Count(k responder.Kind, o responder.Outcome) uint64 {
	if int(k) >= maxKinds || int(o) >= maxOutcomes {
		return 0
	}
	return s.byKind[k][o].Load()
}

// Replies reports replies sent and their summed handling time.
func (s *Stats) Replies() (n uint64, total time.Duration) {
	return s.replies.Load(), time.Duration(s.latencyNanos.Load())
}

// Latency reports the replies' handling times as a histogram.
func (s *Stats) Latency() Latency { return s.latency.snapshot() }

// record counts one packet's decision; replies are counted once sent.
func (s *Stats) record(d Decision) {
	if d.Entry == nil {
		s.Unbound.Add(1)
		return
	}
	k, o := d.Result.Kind, d.Result.Outcome
	if int(k) < maxKinds && int(o) < maxOutcomes {
		s.byKind[k][o].Add(1)
	}
}

// sent counts n replies sent, each handled within took.
func (s *Stats) sent(n int, took time.Duration) {
	if n <= 0 {
		return
	}
	s.replies.Add(uint64(n))
	s.latencyNanos.Add(uint64(n) * uint64(took))
	s.latency.observe(took, uint64(n))
}

// warnKey names one kind of problem, on one interface when iface is set.
type warnKey struct{ what, iface string }

// warnOnce logs msg at warn level at most once per WarnInterval per key,
// with the count of those held back since.
func (s *Stats) warnOnce(log *slog.Logger, key warnKey, msg string, args ...any) {
	s.warn.Warn(log, key, msg, args...)
}
