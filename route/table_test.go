package route

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	pA  = netip.MustParsePrefix("2001:db8:a::/48")
	pB  = netip.MustParsePrefix("2001:db8:b::/56")
	pC  = netip.MustParsePrefix("2001:db8:c::/64")
	ll1 = netip.MustParseAddr("fe80::1")
	ll2 = netip.MustParseAddr("fe80::2")
	t0  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// delegating is a Justified over a fixed map of ifindex to prefixes.
func delegating(m map[int][]netip.Prefix) Justified {
	return func(ifindex int, p netip.Prefix) bool {
		for _, q := range m[ifindex] {
			if q == p {
				return true
			}
		}
		return false
	}
}

func lease(p netip.Prefix, ifindex int, hop netip.Addr, expires time.Time) Lease {
	return Lease{Route: Route{Prefix: p, Ifindex: ifindex, NextHop: hop}, TAP: "tap" + string(rune('0'+ifindex)), Expires: expires}
}

func TestTake(t *testing.T) {
	ok := delegating(map[int][]netip.Prefix{1: {pA, pB}, 2: {pC, pB}})
	for _, tc := range []struct {
		name   string
		before []Lease
		take   Lease
		err    string
		after  []Lease
	}{
		{"taken", nil, lease(pA, 1, ll1, t0), "", []Lease{lease(pA, 1, ll1, t0)}},
		{"renewed: lifetime and next hop refreshed", []Lease{lease(pA, 1, ll1, t0)}, lease(pA, 1, ll2, t0.Add(time.Hour)), "",
			[]Lease{lease(pA, 1, ll2, t0.Add(time.Hour))}},
		{"a global next hop", nil, lease(pA, 1, netip.MustParseAddr("2001:db8::1"), t0), "next hop 2001:db8::1 is not a link-local address", nil},
		{"an IPv4 next hop", nil, lease(pA, 1, netip.MustParseAddr("169.254.0.1"), t0), "next hop 169.254.0.1 is not a link-local address", nil},
		{"no next hop", nil, lease(pA, 1, netip.Addr{}, t0), "next hop invalid IP is not a link-local address", nil},
		{"not the binding's", nil, lease(pC, 1, ll1, t0), "the binding on ifindex 1 does not delegate 2001:db8:c::/64", nil},
		{"held by another TAP whose binding names it too", []Lease{lease(pB, 2, ll2, t0)}, lease(pB, 1, ll1, t0),
			"2001:db8:b::/56 is held by tap2, whose binding delegates it too", []Lease{lease(pB, 2, ll2, t0)}},
		{"held by another TAP that lost it", []Lease{lease(pA, 2, ll2, t0)}, lease(pA, 1, ll1, t0), "", []Lease{lease(pA, 1, ll1, t0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable()
			for _, l := range tc.before {
				tb.leases[l.Prefix] = l
			}
			err := tb.Take(tc.take, ok)
			if got := errString(err); got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
			if got := tb.Leases(); !equalLeases(got, tc.after) {
				t.Errorf("leases %v, want %v", got, tc.after)
			}
		})
	}
}

func TestReleasePruneNext(t *testing.T) {
	tb := NewTable()
	ok := delegating(map[int][]netip.Prefix{1: {pA, pB}, 2: {pC}})
	for _, l := range []Lease{lease(pA, 1, ll1, t0.Add(time.Minute)), lease(pB, 1, ll1, time.Time{}), lease(pC, 2, ll2, t0.Add(time.Hour))} {
		if err := tb.Take(l, ok); err != nil {
			t.Fatal(err)
		}
	}
	if got := tb.Next(); got != t0.Add(time.Minute) {
		t.Errorf("next %v", got)
	}
	if tb.Release(2, pA) || !tb.Release(2, pC) || tb.Release(2, pC) {
		t.Error("Release: only the holder releases, once")
	}
	// A minute on, pA has run out; pB never does, until its binding drops it.
	if gone := tb.Prune(t0.Add(time.Minute), ok); !equalLeases(gone, []Lease{lease(pA, 1, ll1, t0.Add(time.Minute))}) {
		t.Errorf("pruned %v", gone)
	}
	if got := tb.Next(); !got.IsZero() {
		t.Errorf("next %v, want none", got)
	}
	if gone := tb.Prune(t0.Add(1000*time.Hour), ok); len(gone) != 0 {
		t.Errorf("an infinite lease pruned: %v", gone)
	}
	if gone := tb.Prune(t0, delegating(map[int][]netip.Prefix{1: {pA}})); !equalLeases(gone, []Lease{lease(pB, 1, ll1, time.Time{})}) {
		t.Errorf("pruned %v, want pB, no longer delegated", gone)
	}
	if l := tb.Leases(); len(l) != 0 {
		t.Errorf("left %v", l)
	}
}

func TestAdopt(t *testing.T) {
	tb := NewTable()
	ok := delegating(map[int][]netip.Prefix{1: {pA, pB}})
	have := []Route{
		{pA, 1, ll1}, // justified: kept
		{pB, 2, ll1}, // another TAP's now
		{pC, 1, ll1}, // no longer delegated
		{pB, 1, netip.MustParseAddr("2001:db8::9")}, // not a VM's link-local
	}
	kept := tb.Adopt(have, ok, func(i int) string { return "tap" + string(rune('0'+i)) }, t0)
	if want := []Lease{lease(pA, 1, ll1, t0)}; !equalLeases(kept, want) || !equalLeases(tb.Leases(), want) {
		t.Errorf("kept %v, table %v", kept, tb.Leases())
	}
	if c := Plan(tb.Leases(), have); !reflect.DeepEqual(c, Changes{Delete: []Route{have[3], have[1], have[2]}}) {
		t.Errorf("plan %+v", c)
	}
}

func TestPlan(t *testing.T) {
	a1 := Route{pA, 1, ll1}
	a2 := Route{pA, 2, ll2}
	b1 := Route{pB, 1, ll1}
	c1 := Route{pC, 1, ll1}
	want := func(rs ...Route) []Lease {
		var out []Lease
		for _, r := range rs {
			out = append(out, Lease{Route: r})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		want []Lease
		have []Route
		c    Changes
	}{
		{"nothing", nil, nil, Changes{}},
		{"in place", want(a1, b1), []Route{b1, a1}, Changes{}},
		{"added", want(a1, b1), []Route{a1}, Changes{Add: []Route{b1}}},
		{"gone", want(a1), []Route{a1, b1, c1}, Changes{Delete: []Route{b1, c1}}},
		{"moved to another TAP and next hop", want(a2), []Route{a1}, Changes{Replace: []Route{a2}}},
		{"twice in the kernel, the match kept", want(a2), []Route{a1, a2}, Changes{Delete: []Route{a1}}},
		{"twice in the kernel, neither a match", want(a2), []Route{a1, {pA, 3, ll1}}, Changes{Replace: []Route{a2}, Delete: []Route{{pA, 3, ll1}}}},
		{"everything at once", want(c1, a2), []Route{b1, a1}, Changes{Add: []Route{c1}, Replace: []Route{a2}, Delete: []Route{b1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := Plan(tc.want, tc.have); !reflect.DeepEqual(c, tc.c) {
				t.Errorf("plan %+v, want %+v", c, tc.c)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalLeases(a, b []Lease) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRouteString(t *testing.T) {
	if s := (Route{pA, 7, ll1}).String(); !strings.Contains(s, "2001:db8:a::/48 via fe80::1 dev 7") {
		t.Error(s)
	}
}
