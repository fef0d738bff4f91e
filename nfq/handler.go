package nfq

import (
	"net"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Lookup finds the binding a queued packet belongs to; *binding.Store has it.
type Lookup interface {
	ByIndex(ifindex int) *binding.Entry
	ByBridgeMAC(bridgeIndex int, mac net.HardwareAddr) *binding.Entry
}

// Packet is what NFQUEUE tells about one queued packet.
type Packet struct {
	ID        uint32
	InDev     uint32 // 0 when absent
	PhysInDev uint32 // set for bridged packets seen through br_netfilter
	HwAddr    net.HardwareAddr
	Payload   []byte // from the IPv4 or IPv6 header on
}

// Verdict is what the kernel is told to do with the queued packet.
type Verdict uint8

const (
	// Accept: not ours to stop; the kernel goes on with the packet as it
	// arrived (in tc steering the reader hands it back without our mark bits).
	Accept Verdict = iota
	// Drop: ours; answered here (or refused), so the packet goes no further.
	Drop
)

func (v Verdict) String() string {
	if v == Drop {
		return "drop"
	}
	return "accept"
}

// Decision is the outcome for one packet.
type Decision struct {
	Verdict Verdict
	Entry   *binding.Entry   // nil when the packet is of no binding
	Result  responder.Result // zero when Entry is nil
}

// Handler decides for one reader goroutine at a time: it owns a Responder,
// whose buffers are reused from packet to packet.
type Handler struct {
	lookup   Lookup
	settings *responder.Settings
	resp     *responder.Responder
	// Limit, when set, drops a bound TAP's packets over its rate limit
	// before they are parsed (iptables steering; in tc steering the
	// classifier does it).
	Limit *Limiter
}

// NewHandler returns a Handler over the store's bindings; not safe for
// concurrent use.
func NewHandler(l Lookup, s *responder.Settings) *Handler {
	return &Handler{lookup: l, settings: s, resp: responder.New(*s)}
}

// Handle finds the packet's binding (physindev, else indev, else the source MAC
// among the ports of the bridge it came in on) and builds the reply. A packet
// of no binding is accepted untouched. A packet of a binding is dropped,
// answered or not, so the VM's requests never reach anything else, unless
// the responder passes it on (an NS for a neighbour on the VM's bridge):
// that one is accepted, so that the bridge delivers it.
func (h *Handler) Handle(p Packet) Decision {
	e := h.find(p)
	if e == nil {
		return Decision{Verdict: Accept}
	}
	if h.Limit != nil && !h.Limit.Allow(e.TAP.Index, time.Now()) { // no clock read per packet without a limit
		return Decision{Verdict: Drop, Entry: e, Result: responder.Result{Kind: responder.Classify(p.Payload),
			Outcome: responder.Limited, ClientMAC: p.HwAddr}}
	}
	res := h.resp.Respond(p.Payload, p.HwAddr, LeaseOf(e, h.settings))
	if res.Outcome == responder.Passed {
		return Decision{Verdict: Accept, Entry: e, Result: res}
	}
	return Decision{Verdict: Drop, Entry: e, Result: res}
}

func (h *Handler) find(p Packet) *binding.Entry {
	if p.PhysInDev != 0 {
		// br_netfilter: physindev is the port (the TAP), indev the bridge.
		return h.lookup.ByIndex(int(p.PhysInDev))
	}
	if p.InDev == 0 {
		return nil
	}
	if e := h.lookup.ByIndex(int(p.InDev)); e != nil {
		return e
	}
	if len(p.HwAddr) == 6 {
		// A bridge without br_netfilter: only the frame's source tells the port.
		return h.lookup.ByBridgeMAC(int(p.InDev), p.HwAddr)
	}
	return nil
}
