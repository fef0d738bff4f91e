package nfq

import (
	"sync"
	"time"
)

// Limiter is the per-TAP token bucket of iptables steering, where no
// classifier limits a VM before its requests reach the queue: [general]
// rate_limit, the same bucket the classifier keeps in tc steering. A VM
// that floods its TAP then costs a verdict per packet, no parse, reply or
// log line, so the readers keep ahead of the flood and the kernel's queue
// has room for every other VM's requests. Shared by every reader.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[int]*bucket // by the TAP's ifindex
	pruneAt int             // prune full buckets once the map grows past it
}

type bucket struct {
	tokens float64
	last   time.Time
}

// minPrune is the map size below which full buckets are kept.
const minPrune = 1024

// NewLimiter returns a Limiter that lets each TAP send perSecond requests
// with bursts of burst; nil (no limit) when perSecond is 0.
func NewLimiter(perSecond, burst uint32) *Limiter {
	if perSecond == 0 {
		return nil
	}
	return &Limiter{rate: float64(perSecond), burst: float64(max(burst, 1)),
		buckets: make(map[int]*bucket), pruneAt: minPrune}
}

// Allow takes a token from ifindex's bucket at now, and reports whether
// there was one. A nil Limiter allows everything.
func (l *Limiter) Allow(ifindex int, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ifindex]
	if b == nil {
		l.prune(now)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ifindex] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune drops the buckets that are full again by now: a full bucket is a
// new one, so the map holds only the TAPs that sent lately, whatever
// number of TAPs came and went.
func (l *Limiter) prune(now time.Time) {
	if len(l.buckets) < l.pruneAt {
		return
	}
	for i, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, i)
		}
	}
	l.pruneAt = max(minPrune, 2*len(l.buckets))
}
