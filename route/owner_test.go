package route

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// fakeKernel holds our routes and logs each call.
type fakeKernel struct {
	mu     sync.Mutex
	routes []Route
	calls  []string
	fail   error // returned by Add, Replace and Delete while set
}

func (k *fakeKernel) List() ([]Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "list")
	return slices.Clone(k.routes), nil
}

func (k *fakeKernel) op(what string, r Route, f func()) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, what+" "+r.String())
	if k.fail != nil {
		return k.fail
	}
	f()
	return nil
}

func (k *fakeKernel) Add(r Route) error {
	return k.op("add", r, func() { k.routes = append(k.routes, r) })
}

func (k *fakeKernel) Replace(r Route) error {
	return k.op("replace", r, func() {
		k.routes = append(slices.DeleteFunc(k.routes, func(h Route) bool { return h.Prefix == r.Prefix }), r)
	})
}

func (k *fakeKernel) Delete(r Route) error {
	return k.op("delete", r, func() { k.routes = slices.DeleteFunc(k.routes, func(h Route) bool { return h == r }) })
}

// took returns the calls since the last took, "list" left out.
func (k *fakeKernel) took() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.DeleteFunc(k.calls, func(c string) bool { return c == "list" })
	k.calls = nil
	return out
}

// fakeBindings maps ifindex to an entry.
type fakeBindings struct {
	mu sync.Mutex
	m  map[int]*binding.Entry
}

func (b *fakeBindings) ByIndex(i int) *binding.Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[i]
}

func (b *fakeBindings) set(ifindex int, bridged bool, prefixes ...netip.Prefix) *binding.Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &binding.Entry{Binding: &binding.Binding{TAP: fmt.Sprintf("tap%d", ifindex), DelegatedPrefixes6: prefixes},
		TAP: binding.Link{Index: ifindex, Name: fmt.Sprintf("tap%d", ifindex)}, Bridged: bridged}
	if b.m == nil {
		b.m = map[int]*binding.Entry{}
	}
	if prefixes == nil && !bridged {
		delete(b.m, ifindex)
		return e
	}
	b.m[ifindex] = e
	return e
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newOwner(k *fakeKernel, b *fakeBindings, c *clock, routes bool) *Owner {
	return New(Options{Kernel: k, Bindings: b, Routes: routes, Lifetime: time.Hour, Now: c.now})
}

func taken(valid uint32, hop netip.Addr, ps ...netip.Prefix) responder.Delegation {
	return responder.Delegation{Op: responder.Delegated, NextHop: hop, Prefixes: ps, Valid: valid}
}

// Each step of a VM's life with its prefixes, and the kernel calls it
// makes: a route from the take to the release, the lifetime's end, the
// binding's loss of the prefix or the binding's end; nothing for a renewal
// that changes nothing.
func TestOwnerLifecycle(t *testing.T) {
	k, b, c := &fakeKernel{}, &fakeBindings{}, &clock{t0}
	e1 := b.set(1, false, pA, pB)
	e2 := b.set(2, false, pC)
	o := newOwner(k, b, c, true)
	o.start()
	k.took()
	step := func(name string, do func(), want ...string) {
		t.Helper()
		do()
		o.sync(false)
		if got := k.took(); !slices.Equal(got, want) {
			t.Errorf("%s: kernel calls %q, want %q", name, got, want)
		}
	}
	step("VM 1 takes both prefixes", func() { o.Delegated(e1, taken(600, ll1, pA, pB)) },
		"add 2001:db8:a::/48 via fe80::1 dev 1", "add 2001:db8:b::/56 via fe80::1 dev 1")
	step("an advertise takes nothing", func() { o.Delegated(e2, responder.Delegation{}) })
	step("VM 1 renews", func() { c.t = c.t.Add(5 * time.Minute); o.Delegated(e1, taken(600, ll1, pA, pB)) })
	step("VM 2 takes its prefix from a new link-local", func() { o.Delegated(e2, taken(600, ll2, pC)) },
		"add 2001:db8:c::/64 via fe80::2 dev 2")
	step("VM 2 renews from another link-local", func() { o.Delegated(e2, taken(600, ll1, pC)) },
		"replace 2001:db8:c::/64 via fe80::1 dev 2")
	step("VM 1 releases one", func() {
		o.Delegated(e1, responder.Delegation{Op: responder.Released, NextHop: ll1, Prefixes: []netip.Prefix{pB}})
	},
		"delete 2001:db8:b::/56 via fe80::1 dev 1")
	step("VM 2 cannot release VM 1's", func() {
		o.Delegated(e2, responder.Delegation{Op: responder.Released, NextHop: ll1, Prefixes: []netip.Prefix{pA}})
	})
	step("VM 1's binding loses the prefix", func() { e1 = b.set(1, false, pB) },
		"delete 2001:db8:a::/48 via fe80::1 dev 1")
	step("VM 2's lifetime runs out", func() { c.t = c.t.Add(10 * time.Minute) },
		"delete 2001:db8:c::/64 via fe80::1 dev 2")
	step("VM 1 takes again, from a global address", func() { o.Delegated(e1, taken(600, netip.MustParseAddr("2001:db8::1"), pB)) })
	step("VM 1 takes again", func() { o.Delegated(e1, taken(0xffffffff, ll1, pB)) },
		"add 2001:db8:b::/56 via fe80::1 dev 1")
	step("an infinite lifetime does not run out", func() { c.t = c.t.Add(1000 * time.Hour) })
	step("the binding goes", func() { b.set(1, false) },
		"delete 2001:db8:b::/56 via fe80::1 dev 1")
	if s := o.State(); len(s) != 0 || o.Routed() != 0 {
		t.Errorf("left %v, %d routed", s, o.Routed())
	}
}

// At start, routes of ours the bindings justify are adopted, for at most
// pd_lifetime; the rest are removed. With pd_routes = no all are removed
// and none added, while the prefixes taken are still followed.
func TestOwnerStart(t *testing.T) {
	for _, routes := range []bool{true, false} {
		t.Run(fmt.Sprint("routes ", routes), func(t *testing.T) {
			left := []Route{{pA, 1, ll1}, {pB, 1, ll1}, {pC, 2, ll2}, {pA, 3, ll1}}
			k, b, c := &fakeKernel{routes: slices.Clone(left)}, &fakeBindings{}, &clock{t0}
			e1 := b.set(1, false, pA)
			b.set(2, true, pC) // bridged: never routed
			o := newOwner(k, b, c, routes)
			o.start()
			want := []string{"delete 2001:db8:a::/48 via fe80::1 dev 3", "delete 2001:db8:b::/56 via fe80::1 dev 1",
				"delete 2001:db8:c::/64 via fe80::2 dev 2"}
			var state []State
			if routes {
				state = []State{{Lease: lease(pA, 1, ll1, t0.Add(time.Hour)), Routed: true}}
			} else {
				want = append([]string{"delete 2001:db8:a::/48 via fe80::1 dev 1"}, want...)
			}
			if got := k.took(); !slices.Equal(got, want) {
				t.Errorf("kernel calls %q, want %q", got, want)
			}
			for i := range state {
				state[i].TAP = "tap1"
			}
			if got := o.State(); !slices.Equal(got, state) {
				t.Errorf("state %v, want %v", got, state)
			}
			o.Delegated(e1, taken(7200, ll2, pA))
			o.sync(false)
			want = nil
			if routes {
				want = []string{"replace 2001:db8:a::/48 via fe80::2 dev 1"}
			}
			if got := k.took(); !slices.Equal(got, want) {
				t.Errorf("after a take: kernel calls %q, want %q", got, want)
			}
			if got := o.State(); len(got) != 1 || got[0].NextHop != ll2 || got[0].Routed != routes {
				t.Errorf("after a take: state %v", got)
			}
			// The take's lifetime, not the adoption's hour, now holds.
			c.t = t0.Add(time.Hour)
			if routes {
				o.sync(false)
				if got := k.took(); len(got) != 0 {
					t.Errorf("the take's own lifetime holds: %q", got)
				}
			}
		})
	}
}

// A bridged TAP's prefixes are followed but never routed.
func TestOwnerBridged(t *testing.T) {
	k, b, c := &fakeKernel{}, &fakeBindings{}, &clock{t0}
	e := b.set(1, true, pA)
	o := newOwner(k, b, c, true)
	o.start()
	o.Delegated(e, taken(60, ll1, pA))
	o.sync(false)
	if got := k.took(); len(got) != 0 {
		t.Errorf("kernel calls %q", got)
	}
	if s := o.State(); len(s) != 1 || s[0].Routed {
		t.Errorf("state %v", s)
	}
}

// What the kernel refuses is counted, logged once, and tried again at the
// next sync; a full sync reads the kernel back and restores a route
// someone deleted.
func TestOwnerKernelErrors(t *testing.T) {
	k, b, c := &fakeKernel{}, &fakeBindings{}, &clock{t0}
	e := b.set(1, false, pA)
	var log strings.Builder
	o := newOwner(k, b, c, true)
	o.log = slogTo(&log)
	o.start()
	k.fail = errors.New("file exists")
	for range 3 {
		o.Delegated(e, taken(60, ll1, pA))
		o.sync(false)
	}
	if o.Errors() != 3 || strings.Count(log.String(), "the kernel refused") != 1 || o.Routed() != 0 {
		t.Errorf("%d errors, %d routed, log:\n%s", o.Errors(), o.Routed(), log.String())
	}
	k.fail = nil
	o.sync(false)
	if o.Routed() != 1 {
		t.Fatal("not retried")
	}
	k.routes = nil // someone deleted it
	k.took()
	o.sync(true)
	if got := k.took(); !slices.Equal(got, []string{"add 2001:db8:a::/48 via fe80::1 dev 1"}) {
		t.Errorf("full sync: %q", got)
	}
}

// A VM that floods reports holds one inbox entry per prefix of its own:
// another VM's take is never crowded out.
func TestOwnerInboxBounded(t *testing.T) {
	k, b, c := &fakeKernel{}, &fakeBindings{}, &clock{t0}
	e1, e2 := b.set(1, false, pA, pB), b.set(2, false, pC)
	o := newOwner(k, b, c, true)
	o.start()
	for i := range 100000 {
		o.Delegated(e1, taken(uint32(60+i%7), ll1, pA, pB))
		if i == 500 {
			o.Delegated(e2, taken(60, ll2, pC))
		}
	}
	if n := len(o.in.m); n != 3 {
		t.Errorf("inbox holds %d reports, want 3", n)
	}
	o.sync(false)
	if o.Routed() != 3 {
		t.Errorf("%d routed", o.Routed())
	}
}

// Run wakes on a report and when the bindings change, and removes a route
// when its lifetime runs out, by its own timer.
func TestOwnerRun(t *testing.T) {
	k, b := &fakeKernel{}, &fakeBindings{}
	e := b.set(1, false, pA, pB)
	changed := make(chan struct{}, 1)
	o := New(Options{Kernel: k, Bindings: b, Routes: true, Changed: changed, Lifetime: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	until := func(what string, n int) {
		t.Helper()
		for start := time.Now(); o.Routed() != n; time.Sleep(time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: %d routed, want %d", what, o.Routed(), n)
			}
		}
	}
	o.Delegated(e, taken(1, ll1, pA))
	o.Delegated(e, taken(3600, ll1, pB))
	until("taken", 2)
	start := time.Now()
	until("pA's lifetime of 1 s ran out", 1)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("removed %v after the take", d)
	}
	b.set(1, false, pA)
	changed <- struct{}{}
	until("pB no longer delegated", 0)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
