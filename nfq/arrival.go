package nfq

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// A VM that arrives on a TAP (its binding written, its TAP appeared or
// re-created, its MAC changed) gets an RA at once, not at its next RS or
// up to ra_period later: after a move its neighbour entry for the router
// still holds the old TAP's MAC, and the RA's source link-layer address
// option is what replaces it (RFC 4861 §7.2.3). Then come RFC 4861
// §6.2.4's initial RAs: MAX_INITIAL_RTR_ADVERTISEMENTS in all, at most
// MAX_INITIAL_RTR_ADVERT_INTERVAL apart, before the periodic schedule,
// which goes on as before, takes over.
const (
	initialRAs        = 3
	initialRAInterval = 16 * time.Second
)

// Arrival RAs of all TAPs together go out at most arrivalRate a second,
// arrivalBurst at once: 10,000 TAPs that appear at once (a host starting
// its VMs, or re-creating their TAPs) get their first RAs over 10 s and
// all 30,000 within about 42 s, about 2% of what the daemon answers a
// second, instead of 10,000 frames in one go while VMs' requests wait. A
// lone VM that arrives later finds the bucket full and gets its RA at once.
const (
	arrivalRate  = 1000
	arrivalBurst = 100
)

// arrivalSchedule decides when each TAP's arrival RAs are due and paces
// them all through one token bucket (GCRA). It is pure: the caller says
// what time it is.
type arrivalSchedule struct {
	interval  time.Duration // between one TAP's initial RAs
	gap       time.Duration // between two arrival RAs at the steady rate
	tolerance time.Duration // how far ahead of the steady rate a burst may run
	tat       time.Time     // the steady rate's time for the next RA
	byTAP     map[string]*arrival
	due       arrivalHeap
	seq       uint64
}

// arrival is one TAP's initial RAs still to send.
type arrival struct {
	tap  string
	left int       // RAs still to send, the next one included
	at   time.Time // when the next is due
	seq  uint64    // arrival order: breaks ties, so that a backlog is first come, first served
	i    int       // index in the heap
}

// noneDue is next's wait when nothing is scheduled.
const noneDue = time.Duration(-1)

func newArrivalSchedule(period time.Duration, rate, burst int) *arrivalSchedule {
	interval := initialRAInterval
	if period > 0 && period < interval {
		interval = period // RFC 4861: the initial intervals are capped, never longer than the usual one
	}
	gap := time.Second / time.Duration(rate)
	return &arrivalSchedule{interval: interval, gap: gap, tolerance: time.Duration(burst-1) * gap,
		byTAP: map[string]*arrival{}}
}

// add starts tap's initial RAs afresh, the first due at now: a TAP that
// arrives again (re-created, or its MAC changed) gets all of them again.
func (s *arrivalSchedule) add(tap string, now time.Time) {
	s.seq++
	if a := s.byTAP[tap]; a != nil {
		a.left, a.at, a.seq = initialRAs, now, s.seq
		heap.Fix(&s.due, a.i)
		return
	}
	a := &arrival{tap: tap, left: initialRAs, at: now, seq: s.seq}
	s.byTAP[tap] = a
	heap.Push(&s.due, a)
}

// remove forgets tap's RAs still to send: its binding went away.
func (s *arrivalSchedule) remove(tap string) {
	if a := s.byTAP[tap]; a != nil {
		heap.Remove(&s.due, a.i)
		delete(s.byTAP, tap)
	}
}

// next returns the TAP whose RA is to go out now, booking it, or else ""
// and how long to wait (noneDue: until something is added).
func (s *arrivalSchedule) next(now time.Time) (tap string, wait time.Duration) {
	if len(s.due) == 0 {
		return "", noneDue
	}
	a := s.due[0]
	if a.at.After(now) {
		return "", a.at.Sub(now)
	}
	if ready := s.tat.Add(-s.tolerance); ready.After(now) {
		return "", ready.Sub(now)
	}
	s.tat = maxTime(s.tat, now).Add(s.gap)
	if a.left--; a.left == 0 {
		heap.Pop(&s.due)
		delete(s.byTAP, a.tap)
	} else {
		a.at = now.Add(s.interval)
		heap.Fix(&s.due, 0)
	}
	return a.tap, 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// arrivalHeap orders arrivals by due time, then by arrival.
type arrivalHeap []*arrival

func (h arrivalHeap) Len() int { return len(h) }
func (h arrivalHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h arrivalHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].i = i; h[j].i = j }
func (h *arrivalHeap) Push(x any)   { a := x.(*arrival); a.i = len(*h); *h = append(*h, a) }
func (h *arrivalHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return a
}

// arrivals is the Announcer's schedule, shared between the goroutine that
// follows binding changes and the one that sends.
type arrivals struct {
	once  sync.Once
	mu    sync.Mutex
	sched *arrivalSchedule
	wake  chan struct{} // the schedule changed
}

func (a *Announcer) arrivalState() *arrivals {
	a.arr.once.Do(func() {
		a.arr.sched = newArrivalSchedule(a.Period, arrivalRate, arrivalBurst)
		a.arr.wake = make(chan struct{}, 1)
	})
	return &a.arr
}

// Follow takes one binding change: an entry that is new or changed
// (binding.Activated, binding.Updated) arrives, and gets its RAs; one that
// went away has those still due cancelled. It never blocks, and may be
// called before Run.
func (a *Announcer) Follow(c binding.Change) {
	st := a.arrivalState()
	tap := c.Entry.Binding.TAP
	st.mu.Lock()
	if c.Kind == binding.Deactivated || !c.Entry.Binding.Subnet6.IsValid() {
		st.sched.remove(tap)
	} else {
		st.sched.add(tap, time.Now())
	}
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// runArrivals sends the arrival RAs as they fall due, until ctx is done.
// Each goes to the TAP's entry as it is when the RA leaves.
func (a *Announcer) runArrivals(ctx context.Context, resp *responder.Responder) {
	st := a.arrivalState()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		st.mu.Lock()
		tap, wait := st.sched.next(time.Now())
		st.mu.Unlock()
		if tap != "" {
			if e := a.Bindings.ByName(tap); e != nil {
				a.announce(resp, e, "RA on arrival")
			}
			continue
		}
		var due <-chan time.Time
		if wait != noneDue {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-st.wake:
		case <-due:
		}
	}
}
