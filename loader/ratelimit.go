package loader

import (
	"fmt"
	"strconv"
	"strings"
)

// RateLimit is a token bucket ([general] rate_limit): each bound TAP may
// have PerSecond of its DHCP, RS, NS and DHCPv6 packets a second marked,
// Burst at once; the classifier drops the rest in the kernel. PerSecond 0
// turns it off.
type RateLimit struct {
	PerSecond uint32
	Burst     uint32
}

// DefaultRateLimit is far above what any VM sends (a boot is a handful of
// packets; a DORA every 100 ms is 20/s) and far below what one VM could
// make the daemon spend on it.
var DefaultRateLimit = RateLimit{PerSecond: 200, Burst: 50}

// Bounds of a RateLimit: a token per nanosecond, and a burst the bucket
// arithmetic (burst × ns per token, in 64 bits) always holds.
const (
	maxRate  = 1_000_000_000
	maxBurst = 1_000_000
)

// String returns the configuration file spelling.
func (r RateLimit) String() string {
	if r.PerSecond == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/s burst %d", r.PerSecond, r.Burst)
}

// MarshalText returns the configuration file spelling.
func (r RateLimit) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses "RATE/s burst N", "RATE/s" or "RATE" (burst then
// defaults to a quarter second's worth, at least 1), and "0" or "off".
func (r *RateLimit) UnmarshalText(b []byte) error {
	v := string(b)
	bad := fmt.Errorf("%q: want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit", v)
	f := strings.Fields(v)
	if len(f) == 1 && (f[0] == "0" || f[0] == "off") {
		*r = RateLimit{}
		return nil
	}
	if len(f) != 1 && (len(f) != 3 || f[1] != "burst") {
		return bad
	}
	rate, err := strconv.ParseUint(strings.TrimSuffix(f[0], "/s"), 10, 32)
	if err != nil {
		return bad
	}
	if rate == 0 || rate > maxRate {
		return fmt.Errorf("%q: rate %d/s is outside 1-%d/s (0 alone turns the limit off)", v, rate, maxRate)
	}
	out := RateLimit{PerSecond: uint32(rate), Burst: max(uint32(rate/4), 1)}
	if len(f) == 3 {
		b, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return bad
		}
		if b == 0 || b > maxBurst {
			return fmt.Errorf("%q: burst %d is outside 1-%d", v, b, maxBurst)
		}
		out.Burst = uint32(b)
	}
	*r = out
	return nil
}

func (r RateLimit) validate() error {
	switch {
	case r.PerSecond > maxRate:
		return fmt.Errorf("at most %d/s", maxRate)
	case r.PerSecond > 0 && (r.Burst == 0 || r.Burst > maxBurst):
		return fmt.Errorf("burst must be 1-%d", maxBurst)
	}
	return nil
}

// bucket returns the classifier's form: ns per token, and how far ahead of
// now a TAP's bucket may be drawn.
func (r RateLimit) bucket() (intervalNs, burstNs uint64) {
	if r.PerSecond == 0 {
		return 0, 0
	}
	interval := uint64(1e9) / uint64(r.PerSecond)
	return interval, interval * uint64(r.Burst)
}
