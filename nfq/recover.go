package nfq

import (
	"log/slog"
	"runtime/debug"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Where a recovered panic happened: the label of nfdhcpd_panics_total.
const (
	PanicPacket = "packet" // handling one queued packet
	PanicRA     = "ra"     // building or sending one periodic RA
)

// recovered counts and logs a panic recovered while serving iface, as
// net/http does per request: one VM's input must not stop the daemon
// that serves every VM. It must be called from the deferred function
// that recovered, so that the stack logged is the panic's. The log is at
// most once per WarnInterval per place and interface.
func (s *Stats) recovered(log *slog.Logger, where, iface string, v any) {
	if where == PanicRA {
		s.PanicsRA.Add(1)
	} else {
		s.PanicsPacket.Add(1)
	}
	n, due := s.warn.Due(warnKey{what: "panic " + where, iface: iface})
	if !due {
		return
	}
	log.Error("panic recovered; the daemon goes on", "where", where, "iface", iface,
		"panic", v, "suppressed", n, "stack", string(debug.Stack()))
}

// countLeftOut adds what a reply had no room for to the counters.
func (s *Stats) countLeftOut(o responder.LeftOut) {
	s.LeftOutNameservers.Add(uint64(o.Nameservers))
	s.LeftOutDomains.Add(uint64(o.Domains))
	s.LeftOutOptions.Add(uint64(o.Options))
}
