package nfq

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// The binding log warns, as the binding loads, about lists its replies
// can never carry whole; a binding whose lists fit loads silently.
func TestPreparerWarnsAboutListsThatDoNotFit(t *testing.T) {
	s := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1"), Nameservers6: []netip.Addr{netip.MustParseAddr("2001:db8::53")}}
	var logs bytes.Buffer
	prepare := Preparer(s, slog.New(slog.NewTextHandler(&logs, nil)))

	good := entry(10, 0)
	if l, ok := prepare(good).(*responder.Lease); !ok || l.IP != good.Binding.IP {
		t.Fatalf("Prepare returned %v, want the binding's Lease", l)
	}
	if logs.Len() != 0 {
		t.Errorf("a binding that fits logged:\n%s", logs.String())
	}

	long := entry(11, 0)
	b := *long.Binding
	b.TAP = "tap11"
	b.Subnet6 = netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")
	for i := range 100 {
		b.Nameservers6 = append(b.Nameservers6, netip.MustParseAddr(fmt.Sprintf("2001:db8:53::%x", i+1)))
	}
	long.Binding = &b
	if l, ok := prepare(long).(*responder.Lease); !ok || len(l.Nameservers6) != 100 {
		t.Fatalf("Prepare returned %v, want the binding's Lease", l)
	}
	for _, want := range []string{
		`level=WARN msg="binding's lists do not fit its replies; the rest is left out" iface=tap11 why="an RA of 1500 bytes has no room for 13 of 100 DNS servers"`,
		`iface=tap11 why="a DHCPv6 reply of 1500 bytes has no room for 12 of 100 DNS servers"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// LeaseOf hands out the Lease the store prepared, the same one every time,
// not a copy built per packet; without Prepare it builds the same Lease.
func TestLeaseOf(t *testing.T) {
	s := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1")}
	e := entry(10, 0)
	built := LeaseOf(e, s)
	if built == nil || built.IP != e.Binding.IP {
		t.Fatalf("without Prepare: %+v", built)
	}
	e.Prepared = Preparer(s, slog.New(slog.DiscardHandler))(e)
	if got := LeaseOf(e, s); got != e.Prepared || got == built {
		t.Errorf("with Prepare: %p, want the prepared %p", got, e.Prepared)
	}
}
