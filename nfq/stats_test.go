package nfq

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

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
