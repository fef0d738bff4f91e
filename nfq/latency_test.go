package nfq

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		took   time.Duration
		n      int
		bucket int
	}{
		{0, 1, 0},
		{5 * time.Microsecond, 1, 0}, // bounds are inclusive, as Prometheus's le
		{5*time.Microsecond + 1, 2, 1},
		{time.Millisecond, 3, 7},
		{100 * time.Millisecond, 1, 12},
		{time.Second, 4, 13}, // slower than every bound
	}
	for _, tt := range tests {
		var s Stats
		s.sent(tt.n, tt.took)
		l := s.Latency()
		for i, c := range l.Counts {
			want := uint64(0)
			if i == tt.bucket {
				want = uint64(tt.n)
			}
			if c != want {
				t.Errorf("sent(%d, %v): bucket %d = %d, want %d", tt.n, tt.took, i, c, want)
			}
		}
		if l.Count() != uint64(tt.n) || l.Sum != time.Duration(tt.n)*tt.took {
			t.Errorf("sent(%d, %v): count %d sum %v", tt.n, tt.took, l.Count(), l.Sum)
		}
		if n, total := s.Replies(); n != l.Count() || total != l.Sum {
			t.Errorf("Replies() = %d, %v; histogram says %d, %v", n, total, l.Count(), l.Sum)
		}
	}
}

func TestLatencyObserveAllocs(t *testing.T) {
	var s Stats
	if a := testing.AllocsPerRun(100, func() { s.sent(1, 30*time.Microsecond) }); a != 0 {
		t.Errorf("sent allocates %v times per call", a)
	}
}
