package main

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/metrics"
	"github.com/nfdhcpd/nfdhcpd/nfq"
)

// dropWatch logs, at most once per interval, what the kernel dropped on
// the daemon's behalf since it last looked: NFQUEUE overflows (a queue, or
// its reader's socket buffer, was full) and packets over a TAP's rate
// limit. Neither ever reaches the daemon as an error, so without this they
// would be silent; logging them per packet would be a flood of its own.
type dropWatch struct {
	queues func() ([]metrics.QueueStats, error)    // nil when not readable
	kinds  map[uint16]string                       // our queues, by number
	limits func() (map[int]loader.TapLimit, error) // nil in iptables steering
	name   func(ifindex int) string
	log    *slog.Logger

	lastQueue map[uint16]uint64
	lastLimit map[int]uint64
}

func (d *daemon) startDropWatch(ctx context.Context) {
	w := &dropWatch{kinds: d.cfg.Steered().Names(), log: d.log.With("part", "drops"),
		name: func(ifindex int) string {
			if e := d.store.ByIndex(ifindex); e != nil {
				return e.Binding.TAP
			}
			return "ifindex " + strconv.Itoa(ifindex)
		}}
	if d.nfqueue != nil {
		w.queues = d.nfqueue.Read
	}
	if d.loader != nil {
		w.limits = d.loader.Limits
	}
	w.look(false) // counters from before this start are not ours to report
	go w.run(ctx, nfq.WarnInterval)
}

func (w *dropWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.look(true)
		}
	}
}

// look reads the counters and, when report is set, logs what rose.
func (w *dropWatch) look(report bool) {
	if w.queues != nil {
		qs, err := w.queues()
		if err == nil {
			var delta map[uint16]uint64
			delta, w.lastQueue = queueDrops(w.lastQueue, qs, w.kinds)
			for _, q := range slices.Sorted(maps.Keys(delta)) {
				if report {
					w.log.Warn("NFQUEUE dropped packets: queue or socket buffer full",
						"queue", q, "kind", w.kinds[q], "dropped", delta[q])
				}
			}
		}
	}
	if w.limits != nil {
		ls, err := w.limits()
		if err == nil {
			var delta map[int]uint64
			delta, w.lastLimit = limitDrops(w.lastLimit, ls)
			if report && len(delta) > 0 {
				total, worst := uint64(0), 0
				for idx, n := range delta {
					total += n
					if worst == 0 || n > delta[worst] || (n == delta[worst] && idx < worst) {
						worst = idx
					}
				}
				w.log.Warn("rate limit dropped packets in the kernel", "taps", len(delta), "dropped", total,
					"most", w.name(worst), "most_dropped", delta[worst])
			}
		}
	}
}

// queueDrops returns, per queue of ours, how many packets were dropped
// since prev, and the totals to compare with next time.
func queueDrops(prev map[uint16]uint64, now []metrics.QueueStats, ours map[uint16]string) (delta, next map[uint16]uint64) {
	delta, next = map[uint16]uint64{}, map[uint16]uint64{}
	for _, q := range now {
		if _, ok := ours[q.Queue]; !ok {
			continue
		}
		n := q.QueueFull + q.SocketDrops
		next[q.Queue] = n
		if p, seen := prev[q.Queue]; seen && n > p {
			delta[q.Queue] = n - p
		} else if !seen && prev != nil && n > 0 {
			delta[q.Queue] = n // bound since the last look
		}
	}
	return delta, next
}

// limitDrops returns, per TAP, how many packets its rate limit dropped
// since prev, and the totals to compare with next time. A bucket that is
// new, or smaller than before (its TAP re-created), counts from zero.
func limitDrops(prev map[int]uint64, now map[int]loader.TapLimit) (delta map[int]uint64, next map[int]uint64) {
	delta, next = map[int]uint64{}, map[int]uint64{}
	for idx, l := range now {
		next[idx] = l.Limited
		p, seen := prev[idx]
		switch {
		case prev == nil:
		case seen && l.Limited > p:
			delta[idx] = l.Limited - p
		case (!seen || l.Limited < p) && l.Limited > 0:
			delta[idx] = l.Limited
		}
	}
	return delta, next
}
