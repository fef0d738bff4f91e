package metrics

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/route"
)

var (
	pdA = netip.MustParsePrefix("2001:db8:cccc::/56")
	pdB = netip.MustParsePrefix("2001:db8:dddd::/64")
	pdC = netip.MustParsePrefix("2001:db8:eeee::/48")
	b20 = &binding.Binding{TAP: "tap20", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0x20}, Hostname: "vm20",
		DelegatedPrefixes6: []netip.Prefix{pdA, pdB, pdC}}
	e20 = &binding.Entry{Binding: b20, TAP: binding.Link{Name: "tap20", Index: 20}}
)

// pdBindings is one active binding that delegates three prefixes.
type pdBindings struct{}

func (pdBindings) Status() []binding.FileStatus {
	return []binding.FileStatus{{TAP: "tap20", Path: "/b/tap20", Active: true, Binding: b20}}
}
func (pdBindings) ByName(tap string) *binding.Entry {
	return map[string]*binding.Entry{"tap20": e20}[tap]
}
func (pdBindings) Entries() []*binding.Entry { return []*binding.Entry{e20} }

// fakeRoutes: pdA taken and routed until a given time, pdB taken for ever
// and not routed (yet), pdC not taken.
type fakeRoutes struct{}

var expiry = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func (fakeRoutes) State() []route.State {
	ll := netip.MustParseAddr("fe80::20")
	return []route.State{
		{Lease: route.Lease{Route: route.Route{Prefix: pdA, Ifindex: 20, NextHop: ll}, TAP: "tap20", Expires: expiry}, Routed: true},
		{Lease: route.Lease{Route: route.Route{Prefix: pdB, Ifindex: 20, NextHop: ll}, TAP: "tap20"}},
	}
}
func (fakeRoutes) Routed() int    { return 1 }
func (fakeRoutes) Errors() uint64 { return 4 }

// The delegated prefixes show in /metrics, /bindings and the SIGUSR1
// table: which each binding names, which its VM took, which are routed.
func TestDelegatedPrefixes(t *testing.T) {
	src := &Sources{Version: "1", Steering: "iptables", Stats: testSources(t).Stats, Bindings: pdBindings{}, Routes: fakeRoutes{}}
	if err := testutil.CollectAndCompare(NewCollector(src), strings.NewReader(`
# HELP nfdhcpd_delegated_prefixes Prefixes delegated by DHCPv6: state delegated (named by active bindings), taken (by their VM, lifetime not run out), routed (a route of ours in the host's table).
# TYPE nfdhcpd_delegated_prefixes gauge
nfdhcpd_delegated_prefixes{state="delegated"} 3
nfdhcpd_delegated_prefixes{state="routed"} 1
nfdhcpd_delegated_prefixes{state="taken"} 2
# HELP nfdhcpd_route_errors_total Route changes and listings for delegated prefixes the kernel refused.
# TYPE nfdhcpd_route_errors_total counter
nfdhcpd_route_errors_total 4
`), "nfdhcpd_delegated_prefixes", "nfdhcpd_route_errors_total"); err != nil {
		t.Error(err)
	}

	rec := httptest.NewRecorder()
	NewHandler(src).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bindings", nil))
	var rows []BindingRow
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	want := []BindingRow{{TAP: "tap20", File: "/b/tap20", Active: true, Ifindex: 20, MAC: "02:00:00:00:00:20", Hostname: "vm20",
		DelegatedPrefixes6: []string{"2001:db8:cccc::/56", "2001:db8:dddd::/64", "2001:db8:eeee::/48"},
		Delegations: []Delegation{
			{Prefix: "2001:db8:cccc::/56", NextHop: "fe80::20", Expires: "2025-06-01T12:00:00Z", Routed: true},
			{Prefix: "2001:db8:dddd::/64", NextHop: "fe80::20"},
		}}}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("/bindings (-want +got):\n%s", d)
	}
	if !strings.Contains(rec.Body.String(), `"routed": false`) {
		t.Errorf("a prefix taken but not routed says so:\n%s", rec.Body.String())
	}

	var out bytes.Buffer
	if err := WriteTable(&out, append(rows, tableRows[1]), false); err != nil {
		t.Fatal(err)
	}
	wantTable := `TAP    STATE    IFINDEX  ATTACH  MAC                IP  IPV6 PREFIX  DELEGATED                                                                    HOSTNAME  WHY
tap20  active   20       -       02:00:00:00:00:20  -   -            2001:db8:cccc::/56 (routed), 2001:db8:dddd::/64 (taken), 2001:db8:eeee::/48  vm20      -
tap11  waiting  -        -       02:00:00:00:00:11  -   -            -                                                                            vm11      no link tap11
`
	if out.String() != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), wantTable)
	}
}
