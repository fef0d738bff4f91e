package nfq

import (
	"context"
	"log/slog"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Entries lists the active bindings; *binding.Store has it.
type Entries interface {
	Entries() []*binding.Entry
}

// Announcer sends the periodic unsolicited Router Advertisements.
type Announcer struct {
	Bindings Entries
	Settings *responder.Settings
	Sender   *Sender
	Period   time.Duration
	Stats    *Stats
	Log      *slog.Logger
}

// Run announces to every binding with SUBNET6 once per Period, spread evenly
// over the period rather than in one burst, until ctx is done. The table is
// read afresh each round, so bindings that come and go are followed.
func (a *Announcer) Run(ctx context.Context) {
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
				a.announce(resp, e)
			}
		}
		if !sleepUntil(ctx, round.Add(a.Period)) {
			return
		}
	}
}

// announce sends e's RA. A panic is contained to this one RA: it is
// logged and counted, and the round goes on with the next binding.
func (a *Announcer) announce(resp *responder.Responder, e *binding.Entry) {
	defer func() {
		if v := recover(); v != nil {
			a.Stats.recovered(a.Log, PanicRA, e.TAP.Name, v)
		}
	}()
	l, ok := e.Prepared.(*responder.Lease)
	if !ok {
		l = NewLease(e, a.Settings)
	}
	res := resp.RouterAdvertisement(l)
	if res.Frame == nil {
		return
	}
	if res.LeftOut.Any() {
		a.Stats.countLeftOut(res.LeftOut)
	}
	if err := a.Sender.Send(e.TAP.Index, res.Frame); err != nil {
		a.Stats.SendErrors.Add(1)
		a.Stats.warnOnce(a.Log, warnKey{what: "ra"}, "cannot send periodic RA", "iface", e.Binding.TAP, "err", err)
		return
	}
	a.Log.Debug("periodic RA", "iface", e.Binding.TAP)
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
