package nfq

import (
	"context"
	"log/slog"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Entries lists the active bindings and finds one by its TAP's name;
// *binding.Store has both.
type Entries interface {
	Entries() []*binding.Entry
	ByName(tap string) *binding.Entry
}

// FrameSender sends a frame out of an interface; *Sender is one.
type FrameSender interface {
	Send(ifindex int, frame []byte) error
}

// Announcer sends the unsolicited Router Advertisements: periodic ones, and
// those due when a binding arrives (see Follow).
type Announcer struct {
	Bindings Entries
	Settings *responder.Settings
	Sender   FrameSender
	Period   time.Duration
	Stats    *Stats
	Log      *slog.Logger

	arr arrivals
}

// Run sends, until ctx is done, the arrival RAs as they fall due, and
// the periodic ones (see periodic).
func (a *Announcer) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A Responder of its own: it is not safe for concurrent use.
		a.runArrivals(ctx, responder.New(*a.Settings))
	}()
	a.periodic(ctx)
	<-done
}

// periodic announces to every binding with SUBNET6 once per Period, spread
// evenly over the period rather than in one burst, until ctx is done. The
// table is read afresh each round, so bindings that come and go are
// followed.
func (a *Announcer) periodic(ctx context.Context) {
	resp := responder.New(*a.Settings)
	for {
		round := time.Now()
		var with6 []*binding.Entry
		for _, e := range a.Bindings.Entries() {
			if e.Binding.Subnet6.IsValid() {
				with6 = append(with6, e)
			}
		}
		if len(with6) > 0 {
			step := a.Period / time.Duration(len(with6))
			for i, e := range with6 {
				if !sleepUntil(ctx, round.Add(time.Duration(i)*step)) {
					return
				}
				a.announce(resp, e, "periodic RA")
			}
		}
		if !sleepUntil(ctx, round.Add(a.Period)) {
			return
		}
	}
}

// announce sends e's RA, logged at debug level as what. A panic is
// contained to this one RA: it is logged and counted, and the round goes
// on with the next binding.
func (a *Announcer) announce(resp *responder.Responder, e *binding.Entry, what string) {
	defer func() {
		if v := recover(); v != nil {
			a.Stats.recovered(a.Log, PanicRA, e.TAP.Name, v)
		}
	}()
	res := resp.RouterAdvertisement(LeaseOf(e, a.Settings))
	if res.Frame == nil {
		return
	}
	if res.LeftOut.Any() {
		a.Stats.countLeftOut(res.LeftOut)
	}
	if err := a.Sender.Send(e.TAP.Index, res.Frame); err != nil {
		a.Stats.SendErrors.Add(1)
		a.Stats.warnOnce(a.Log, warnKey{what: "ra"}, "cannot send "+what, "iface", e.Binding.TAP, "err", err)
		return
	}
	a.Log.Debug(what, "iface", e.Binding.TAP)
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
