package loader

import (
	"fmt"
	"math/bits"
)

// Default mark bits: 0x0e000000 (bits 25-27), base 0.
//
// Common users of skb marks, and why these bits avoid them:
//   - kube-proxy and flannel: 0x4000 (masquerade), 0x8000 (drop);
//     CNI portmap: 0x2000; Cilium: 0x0f00 plus identities in 0xffff0000
//     only on its own devices; wg-quick: 0xca6c, Istio 0x539, both exact
//     values on their own sockets; ad-hoc policy routing: small values in
//     the low byte.
//   - Calico (iptables mode) allocates from 0xffff0000 upwards starting at
//     0x10000 and needs four bits; kube-router and Weave use 0x10000-0x40000;
//     Tailscale 0xff0000; Antrea 0x10000000.
//
// Bits 25-27 sit above all of these and below Antrea's bit; only Calico's
// eBPF data plane is known to use them, and it is not found on hypervisors
// running TAP-based VMs. Both values are settings ([general] mark,
// mark_mask) for the hosts where that is not true.
const (
	defaultMark     uint32 = 0
	defaultMarkMask uint32 = 0x0e000000
)

const kindField uint32 = 0b111

// DefaultMark returns the default [general] mark and mark_mask.
func DefaultMark() (mark, mask uint32) { return defaultMark, defaultMarkMask }

// MarkFor returns the mark value the classifier sets for a single kind
// under cfg.MarkMask: cfg.Mark with the kind's code in the lowest three
// bits of the mask. It returns 0 when k is not exactly one kind.
func MarkFor(cfg Config, k Kinds) uint32 {
	cfg = cfg.withDefaults()
	ki, ok := k.info()
	if !ok {
		return 0
	}
	return cfg.Mark | ki.Code<<bits.TrailingZeros32(cfg.MarkMask)
}

// KindOf returns the kind a packet mark carries under cfg's mask, or 0
// when the mark holds none of ours.
func KindOf(cfg Config, mark uint32) Kinds {
	cfg = cfg.withDefaults()
	for _, ki := range KindTable {
		if mark&cfg.MarkMask == MarkFor(cfg, ki.Kind) {
			return ki.Kind
		}
	}
	return 0
}

// Unmark returns mark with our bits cleared and everyone else's kept: the
// mark to give back with an NF_REPEAT verdict for a packet the daemon does
// not answer, so that it goes through mangle PREROUTING again, past our
// rules, exactly as it arrived.
func Unmark(cfg Config, mark uint32) uint32 {
	cfg = cfg.withDefaults()
	return mark &^ cfg.MarkMask
}

// MarkError is a [general] mark or mark_mask that cannot carry the kinds.
type MarkError struct {
	Key string // "mark" or "mark_mask": the setting at fault
	Err error
}

func (e *MarkError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *MarkError) Unwrap() error { return e.Err }

// ValidateMark checks that the kind codes fit under the mask without
// touching the base bits. Its errors are *MarkError.
func ValidateMark(mark, mask uint32) error {
	bad := func(key, format string, a ...any) error { return &MarkError{Key: key, Err: fmt.Errorf(format, a...)} }
	if mask == 0 {
		return bad("mark_mask", "must not be 0")
	}
	if mark&^mask != 0 {
		return bad("mark", "%#x has bits outside mark_mask %#x", mark, mask)
	}
	field := kindField << bits.TrailingZeros32(mask)
	if bits.TrailingZeros32(mask) > 29 || field&^mask != 0 {
		return bad("mark_mask", "%#x: its lowest three bits must be contiguous (they hold the packet kind)", mask)
	}
	if mark&field != 0 {
		return bad("mark", "%#x overlaps the kind bits %#x of mark_mask %#x", mark, field, mask)
	}
	return nil
}
