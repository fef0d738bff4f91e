package loader

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// KindStats counts one kind's packets by outcome.
type KindStats struct {
	Marked   uint64 // mark set and passed on to the stack
	Spoofed  uint64 // source MAC not the binding's, no MACSPOOF: dropped
	Disabled uint64 // interface bound but this kind not enabled: untouched
	Limited  uint64 // over its TAP's rate limit: dropped
	Answered uint64 // answered by the classifier itself (RS, NS)
}

// Stats are the classifier's counters summed over CPUs.
type Stats struct {
	DHCP, RS, NS, DHCPv6 KindStats
	Unbound              uint64 // matching packet on an ifindex with no ifaces entry
	Unconfigured         uint64 // matching packet before the config map was written
	AnswerErrors         uint64 // answers a helper refused to build: passed on, or dropped if not restored
}

// Of returns k's counters when k is exactly one kind.
func (s *Stats) Of(k Kinds) *KindStats {
	switch k {
	case KindDHCP:
		return &s.DHCP
	case KindRS:
		return &s.RS
	case KindNS:
		return &s.NS
	case KindDHCPv6:
		return &s.DHCPv6
	}
	return nil
}

// Stats reads the per-CPU counters and sums them.
func (l *Loader) Stats() (Stats, error) {
	l.mapsMu.RLock()
	defer l.mapsMu.RUnlock()
	if l.stats == nil {
		return Stats{}, fmt.Errorf("loader closed")
	}
	return readStats(l.stats)
}

type statsMap interface {
	Lookup(key, valueOut any) error
}

func readStats(m statsMap) (Stats, error) {
	var perCPU []classifierCounters
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return Stats{}, fmt.Errorf("read stats map: %w", err)
	}
	return sumCounters(perCPU), nil
}

func sumCounters(perCPU []classifierCounters) Stats {
	var s Stats
	add := func(dst *KindStats, src classifierKindCounters) {
		dst.Marked += src.Marked
		dst.Spoofed += src.Spoofed
		dst.Disabled += src.Disabled
		dst.Limited += src.Limited
		dst.Answered += src.Answered
	}
	for _, c := range perCPU {
		add(&s.DHCP, c.Dhcp)
		add(&s.RS, c.Rs)
		add(&s.NS, c.Ns)
		add(&s.DHCPv6, c.Dhcpv6)
		s.Unbound += c.Unbound
		s.Unconfigured += c.Unconfigured
		s.AnswerErrors += c.AnswerErrors
	}
	return s
}

// TapLimit is one TAP's token bucket counters.
type TapLimit struct {
	Passed  uint64 // packets admitted by the bucket
	Limited uint64 // packets over the limit: dropped in the kernel
}

// Limits reads every TAP's bucket counters, by ifindex. A TAP that sent
// nothing of ours since it was bound, or any TAP while the limit is off,
// has no entry.
func (l *Loader) Limits() (map[int]TapLimit, error) {
	l.mapsMu.RLock()
	defer l.mapsMu.RUnlock()
	if l.limits == nil {
		return nil, fmt.Errorf("loader closed")
	}
	return readLimits(l.limits)
}

func readLimits(m *ebpf.Map) (map[int]TapLimit, error) {
	out := map[int]TapLimit{}
	var key classifierIfaceKey
	var val classifierIfaceLimit
	it := m.Iterate()
	for it.Next(&key, &val) {
		out[int(key.Ifindex)] = TapLimit{Passed: val.Passed, Limited: val.Limited}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read limits map: %w", err)
	}
	return out, nil
}
