package nfq

import (
	"testing"
	"time"
)

// A TAP gets its burst at once, then perSecond; another TAP's bucket is
// its own; no limit allows everything.
func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(10, 3)
	allowed := func(ifindex int, at time.Time, n int) int {
		got := 0
		for range n {
			if l.Allow(ifindex, at) {
				got++
			}
		}
		return got
	}
	for _, tc := range []struct {
		name    string
		ifindex int
		at      time.Duration
		n, want int
	}{
		{"the burst", 7, 0, 10, 3},
		{"another TAP's own burst", 8, 0, 10, 3},
		{"nothing more at once", 7, 0, 5, 0},
		{"0.25 s: 2.5 tokens", 7, 250 * time.Millisecond, 5, 2},
		{"a second later: back to the burst, not more", 7, 1250 * time.Millisecond, 20, 3},
		{"time going back takes nothing", 7, time.Second, 5, 0},
	} {
		if got := allowed(tc.ifindex, t0.Add(tc.at), tc.n); got != tc.want {
			t.Errorf("%s: %d of %d allowed, want %d", tc.name, got, tc.n, tc.want)
		}
	}
	var none *Limiter = NewLimiter(0, 50)
	if none != nil || !none.Allow(7, t0) {
		t.Errorf("rate 0: %v, want no limit", none)
	}
}

// Full buckets, as good as new ones, go once the map has grown: a host's
// TAPs come and go for months.
func TestLimiterPrunes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(100, 10)
	for i := range minPrune {
		l.Allow(i, t0)
	}
	l.Allow(minPrune, t0.Add(time.Second)) // every bucket is full again
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after pruning, want the new one alone", n)
	}
	for i := range 3 * minPrune {
		l.Allow(i, t0.Add(time.Second)) // none full
	}
	if n := len(l.buckets); n != 3*minPrune {
		t.Errorf("%d buckets, want every one in use", n)
	}
}
