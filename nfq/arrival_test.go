package nfq

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// drain runs the schedule on a clock that jumps to each wait's end, until
// nothing is due or the clock passes until, and returns each TAP's send
// times, as offsets from t0.
func drain(s *arrivalSchedule, from, until time.Time) map[string][]time.Duration {
	sent := map[string][]time.Duration{}
	now := from
	for !now.After(until) {
		tap, wait := s.next(now)
		switch {
		case tap != "":
			sent[tap] = append(sent[tap], now.Sub(t0))
		case wait == noneDue:
			return sent
		default:
			now = now.Add(wait)
		}
	}
	return sent
}

func TestArrivalSchedule(t *testing.T) {
	sec := func(s ...float64) []time.Duration {
		var out []time.Duration
		for _, v := range s {
			out = append(out, time.Duration(v*float64(time.Second)))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		period time.Duration
		steps  func(s *arrivalSchedule) map[string][]time.Duration
		want   map[string][]time.Duration
	}{
		{name: "one arrival: at once, then two more 16 s apart, then the periodic schedule", period: 300 * time.Second,
			steps: func(s *arrivalSchedule) map[string][]time.Duration {
				s.add("tap10", t0)
				return drain(s, t0, t0.Add(time.Hour))
			},
			want: map[string][]time.Duration{"tap10": sec(0, 16, 32)}},
		{name: "ra_period under 16 s spaces them by ra_period", period: 5 * time.Second,
			steps: func(s *arrivalSchedule) map[string][]time.Duration {
				s.add("tap10", t0)
				return drain(s, t0, t0.Add(time.Hour))
			},
			want: map[string][]time.Duration{"tap10": sec(0, 5, 10)}},
		{name: "arriving again restarts the three, at once", period: 300 * time.Second,
			steps: func(s *arrivalSchedule) map[string][]time.Duration {
				s.add("tap10", t0)
				first := drain(s, t0, t0.Add(20*time.Second)) // 0 and 16 sent
				s.add("tap10", t0.Add(20*time.Second))
				again := drain(s, t0.Add(20*time.Second), t0.Add(time.Hour))
				return map[string][]time.Duration{"tap10": append(first["tap10"], again["tap10"]...)}
			},
			want: map[string][]time.Duration{"tap10": sec(0, 16, 20, 36, 52)}},
		{name: "gone: what is still due is not sent", period: 300 * time.Second,
			steps: func(s *arrivalSchedule) map[string][]time.Duration {
				s.add("tap10", t0)
				s.add("tap20", t0)
				first := drain(s, t0, t0.Add(time.Second))
				s.remove("tap10")
				s.remove("tap99") // never there
				rest := drain(s, t0.Add(time.Second), t0.Add(time.Hour))
				return map[string][]time.Duration{"tap10": first["tap10"], "tap20": append(first["tap20"], rest["tap20"]...)}
			},
			want: map[string][]time.Duration{"tap10": sec(0), "tap20": sec(0, 16, 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newArrivalSchedule(tc.period, arrivalRate, arrivalBurst)
			got := tc.steps(s)
			for tap, want := range tc.want {
				if !slices.Equal(got[tap], want) {
					t.Errorf("%s: sent at %v, want %v", tap, got[tap], want)
				}
			}
			if tap, wait := s.next(t0.Add(24 * time.Hour)); tap != "" || wait != noneDue || len(s.byTAP) != 0 {
				t.Errorf("left over: %q, %v, %d TAPs", tap, wait, len(s.byTAP))
			}
		})
	}
}

// 10,000 bindings arriving at once (their TAPs all re-created) are paced:
// never more than the burst at once nor more than the rate over any
// second, every TAP gets its three, in the order they arrived, never less
// than 16 s apart, and the whole is done in about 42 s.
func TestArrivalScheduleBulk(t *testing.T) {
	const n = 10000
	s := newArrivalSchedule(300*time.Second, arrivalRate, arrivalBurst)
	for i := range n {
		s.add(fmt.Sprintf("tap%05d", i), t0)
	}
	var all []time.Duration
	sent := drain(s, t0, t0.Add(time.Hour))
	for i := range n {
		times := sent[fmt.Sprintf("tap%05d", i)]
		if len(times) != initialRAs {
			t.Fatalf("tap%05d: %d RAs, want %d", i, len(times), initialRAs)
		}
		for j := 1; j < len(times); j++ {
			if d := times[j] - times[j-1]; d < initialRAInterval {
				t.Fatalf("tap%05d: RAs %v apart", i, d)
			}
		}
		if i > 0 && times[0] < sent[fmt.Sprintf("tap%05d", i-1)][0] {
			t.Fatalf("tap%05d's first RA went before tap%05d's", i, i-1)
		}
		all = append(all, times...)
	}
	slices.Sort(all)
	for i := range all {
		// The RA arrivalBurst+arrivalRate on from this one is more than a second later.
		if j := i + arrivalBurst + arrivalRate; j < len(all) && all[j]-all[i] <= time.Second {
			t.Fatalf("%d RAs within a second from %v", arrivalBurst+arrivalRate+1, all[i])
		}
		if j := i + arrivalBurst; j < len(all) && all[j] == all[i] {
			t.Fatalf("more than %d RAs at %v", arrivalBurst, all[i])
		}
	}
	firsts := time.Duration(0)
	for i := range n {
		firsts = max(firsts, sent[fmt.Sprintf("tap%05d", i)][0])
	}
	last := all[len(all)-1]
	if firsts > 10*time.Second || last > 43*time.Second {
		t.Errorf("first RAs done at %v, all at %v; want about 10 s and 42 s", firsts, last)
	}
	t.Logf("%d bindings at once: first RAs done at %v, all %d at %v", n, firsts, len(all), last)
}

// recordSender keeps what the Announcer sent.
type recordSender struct {
	mu     sync.Mutex
	frames map[int][][]byte
	sent   chan int
}

func (r *recordSender) Send(ifindex int, frame []byte) error {
	r.mu.Lock()
	r.frames[ifindex] = append(r.frames[ifindex], append([]byte(nil), frame...))
	r.mu.Unlock()
	r.sent <- ifindex
	return nil
}

// fakeEntries is a binding table by TAP name.
type fakeEntries struct {
	mu sync.Mutex
	m  map[string]*binding.Entry
}

func (f *fakeEntries) Entries() []*binding.Entry { return nil } // no periodic RAs
func (f *fakeEntries) ByName(tap string) *binding.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[tap]
}

// An entry that arrives gets an RA on its TAP at once, before any periodic
// one, from the TAP it is on now; one that is gone gets none. The frame is
// the responder's RA for the entry, byte for byte.
func TestAnnouncerFollowsArrivals(t *testing.T) {
	settings := &responder.Settings{RAPeriod: 300, Mode: responder.ModeDHCPv6, RouterAddress: netip.MustParseAddr("fe80::1")}
	e := entry(7, 0)
	b := *e.Binding
	b.Subnet6 = netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")
	e.Binding = &b
	noV6 := entry(8, 0)
	nb := *noV6.Binding
	nb.TAP = "tap11"
	noV6.Binding = &nb
	table := &fakeEntries{m: map[string]*binding.Entry{"tap10": e, "tap11": noV6}}
	rec := &recordSender{frames: map[int][][]byte{}, sent: make(chan int, 16)}
	var logs bytes.Buffer
	a := &Announcer{Bindings: table, Settings: settings, Sender: rec, Period: 300 * time.Second, Stats: &Stats{},
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	// Followed before Run: the daemon's follower may come first.
	a.Follow(binding.Change{Kind: binding.Activated, Entry: noV6})
	a.Follow(binding.Change{Kind: binding.Activated, Entry: e})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	defer stop()

	select {
	case idx := <-rec.sent:
		if idx != 7 {
			t.Fatalf("RA sent on ifindex %d, want 7", idx)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RA on arrival")
	}
	want := responder.New(*settings).RouterAdvertisement(NewLease(e, settings)).Frame
	rec.mu.Lock()
	got := rec.frames[7][0]
	rec.mu.Unlock()
	if !bytes.Equal(got, want) {
		t.Errorf("arrival RA\n%x\nwant the responder's\n%x", got, want)
	}

	// Moved: the TAP is re-created under another ifindex, the binding the
	// same. Its RA goes to the new one; then it goes away before the next.
	moved := *e
	moved.TAP.Index = 9
	table.mu.Lock()
	table.m["tap10"] = &moved
	table.mu.Unlock()
	a.Follow(binding.Change{Kind: binding.Updated, Entry: &moved, Old: e})
	select {
	case idx := <-rec.sent:
		if idx != 9 {
			t.Fatalf("RA after the move sent on ifindex %d, want 9", idx)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RA after the move")
	}
	a.Follow(binding.Change{Kind: binding.Deactivated, Entry: &moved})
	a.arr.mu.Lock()
	left := len(a.arr.sched.byTAP)
	a.arr.mu.Unlock()
	if left != 0 {
		t.Errorf("%d TAPs still scheduled after the last went away", left)
	}
	select {
	case idx := <-rec.sent:
		t.Errorf("an RA was sent on ifindex %d, for a binding without SUBNET6 or gone", idx)
	case <-time.After(100 * time.Millisecond):
	}
	stop() // the log is written after the frame is sent
	if !bytes.Contains(logs.Bytes(), []byte(`msg="RA on arrival" iface=tap10`)) {
		t.Errorf("arrival RA not logged:\n%s", logs.String())
	}
}
