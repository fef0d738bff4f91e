package nfq

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds of the reply latency histogram. A
// reply takes ~0.2 µs to build; the send and verdict syscalls and the wait
// in the queue make up the rest, so the buckets span 5 µs to 100 ms.
var LatencyBuckets = [...]time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	100 * time.Millisecond,
}

// Latency is a snapshot of the reply latency histogram. Counts[i] is the
// number of replies that took at most LatencyBuckets[i] and more than the
// bucket before (not cumulative); the last element counts the slower ones.
type Latency struct {
	Counts [len(LatencyBuckets) + 1]uint64
	Sum    time.Duration
}

// Count is the number of replies observed.
func (l *Latency) Count() uint64 {
	var n uint64
	for _, c := range l.Counts {
		n += c
	}
	return n
}

// latencyHistogram is fixed-bucket and lock-free: observing is one linear
// scan of 13 bounds and two atomic adds, with no allocation.
type latencyHistogram struct {
	counts [len(LatencyBuckets) + 1]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
}

// observe counts n replies that each took d: a batch of replies is sent
// together, so each is counted with the batch's time, an upper bound.
func (h *latencyHistogram) observe(d time.Duration, n uint64) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(n)
	h.sum.Add(n * uint64(d))
}

func (h *latencyHistogram) snapshot() Latency {
	var l Latency
	for i := range h.counts {
		l.Counts[i] = h.counts[i].Load()
	}
	l.Sum = time.Duration(h.sum.Load())
	return l
}
