package nfq

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

func TestWarnDue(t *testing.T) {
	var s Stats
	a, b := warnKey{"spoofed", "tap10"}, warnKey{"spoofed", "tap11"}
	if n, due := s.warnDue(a); !due || n != 0 {
		t.Fatalf("first: due %v suppressed %d, want due, 0", due, n)
	}
	for range 3 {
		if _, due := s.warnDue(a); due {
			t.Fatal("due again within WarnInterval")
		}
	}
	if _, due := s.warnDue(b); !due {
		t.Fatal("another TAP's problem was held back by tap10's")
	}
	// Age the entry instead of sleeping WarnInterval.
	st := s.warnLast[a]
	st.at = st.at.Add(-WarnInterval)
	s.warnLast[a] = st
	if n, due := s.warnDue(a); !due || n != 3 {
		t.Fatalf("after the interval: due %v suppressed %d, want due, 3", due, n)
	}
}

// A flood of spoofed requests costs no allocation per packet once its
// warning has been logged: the fields are built only when it is due.
func TestSpoofedLogAllocatesNothingWhenSuppressed(t *testing.T) {
	var logs bytes.Buffer
	r := &Reader{stats: &Stats{}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	d := Decision{Verdict: Drop, Entry: entry(10, 0), Result: responder.Result{
		Kind: responder.KindDHCPDiscover, Outcome: responder.Spoofed,
		ClientMAC: net.HardwareAddr{0xaa, 0, 0, 0, 0, 0x99}}}
	r.logDecision(Packet{}, d)
	if n := testing.AllocsPerRun(1000, func() { r.logDecision(Packet{}, d) }); n != 0 {
		t.Fatalf("%v allocations per suppressed spoofed request, want 0", n)
	}
	want := `level=WARN msg="spoofed request dropped" iface=tap10 mac=aa:00:00:00:00:99 bound_mac=aa:6b:39:22:33:44 kind=dhcp-discover suppressed=0`
	if got := logs.String(); strings.Count(got, "spoofed request dropped") != 1 || !strings.Contains(got, want) {
		t.Fatalf("log:\n%s\nwant one line containing\n%s", got, want)
	}
}
