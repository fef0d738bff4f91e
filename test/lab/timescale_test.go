package lab

import (
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Duration
	}{
		{"", time.Second},
		{"3", 3 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0.5", time.Second}, // never tighter than the promise
		{"fast", time.Second},
	} {
		t.Setenv("NFDHCPD_E2E_TIME_SCALE", c.env)
		if got := Within(time.Second); got != c.want {
			t.Errorf("scale %q: Within(1s) = %v, want %v", c.env, got, c.want)
		}
	}
}
