package metrics

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
	nfqpkg "github.com/nfdhcpd/nfdhcpd/nfq"
)

// fakeBindings: tap10 active (ifindex 7), tap11 waiting for its TAP, tap12
// rejected with no good version, tap13 rejected but its old version active.
type fakeBindings struct{}

var (
	b10 = &binding.Binding{TAP: "tap10", MAC: net.HardwareAddr{0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}, Hostname: "testing-vm",
		IP: netip.MustParseAddr("192.0.2.100"), Subnet: netip.MustParsePrefix("192.0.2.0/24"), Gateway: netip.MustParseAddr("192.0.2.1"),
		Subnet6: netip.MustParsePrefix("2001:db8:aaaa:bbbb::/64")}
	b11 = &binding.Binding{TAP: "tap11", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0x11}, Hostname: "vm11",
		Warnings: []*binding.Warning{{File: "/b/tap11", Line: 3, Err: errors.New(`"export FOO" is not KEY=VALUE, ignored`)}}}
	b13 = &binding.Binding{TAP: "tap13", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0x13}, Hostname: "vm13"}
	e10 = &binding.Entry{Binding: b10, TAP: binding.Link{Name: "tap10", Index: 7}}
	e13 = &binding.Entry{Binding: b13, TAP: binding.Link{Name: "tap13", Index: 9}}
)

func (fakeBindings) Status() []binding.FileStatus {
	return []binding.FileStatus{
		{TAP: "tap10", Path: "/b/tap10", Active: true, Binding: b10},
		{TAP: "tap11", Path: "/b/tap11", Binding: b11, Waiting: "no link tap11"},
		{TAP: "tap12", Path: "/b/tap12", Err: errors.New("tap12:3: IP: bad")},
		{TAP: "tap13", Path: "/b/tap13", Active: true, Binding: b13, Err: errors.New("tap13:1: MAC: bad")},
	}
}

func (fakeBindings) ByName(tap string) *binding.Entry {
	switch tap {
	case "tap10":
		return e10
	case "tap13":
		return e13
	}
	return nil
}

func (fakeBindings) Entries() []*binding.Entry { return []*binding.Entry{e10, e13} }

func testSources(t *testing.T) *Sources {
	proc := filepath.Join(t.TempDir(), "nfnetlink_queue")
	os.WriteFile(proc, []byte(""+
		"   42  12345     3 2 65535     5     7 100 1\n"+
		"   43  12346     0 2 65535     0     0 10 1\n"+
		"   99  55555     1 2 65535     4     4 10 1\n"), 0o644)
	nfq, err := OpenNFQueue(proc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nfq.Close() })
	st := &nfqpkg.Stats{}
	st.Unbound.Add(4)
	st.SendErrors.Add(2)
	st.VerdictErrors.Add(1)
	st.PanicsRA.Add(3)
	st.LeftOutNameservers.Add(13)
	st.LeftOutDomains.Add(1)
	return &Sources{
		Version: "1.2.3", Steering: "tc", Stats: st, Bindings: fakeBindings{},
		Classifier: func() (loader.Stats, error) {
			return loader.Stats{DHCP: loader.KindStats{Marked: 10, Spoofed: 2}, NS: loader.KindStats{Disabled: 1, Answered: 8},
				RS: loader.KindStats{Answered: 5}, Unbound: 6, AnswerErrors: 1}, nil
		},
		Method: func(ifindex int) string {
			if ifindex == 7 {
				return loader.MethodTCX
			}
			return ""
		},
		Queues:  map[uint16]string{42: "dhcp", 43: "rs"},
		NFQueue: nfq,
	}
}

func TestCollector(t *testing.T) {
	c := NewCollector(testSources(t))
	want := `
# HELP nfdhcpd_attached_taps tc steering: active bindings by classifier attach method (none: not attached).
# TYPE nfdhcpd_attached_taps gauge
nfdhcpd_attached_taps{method="cls_bpf"} 0
nfdhcpd_attached_taps{method="none"} 1
nfdhcpd_attached_taps{method="tcx"} 1
# HELP nfdhcpd_bindings Binding files: loaded (a good version in force), active (its TAP exists), waiting (loaded, not active), rejected (the last version was refused).
# TYPE nfdhcpd_bindings gauge
nfdhcpd_bindings{state="active"} 2
nfdhcpd_bindings{state="loaded"} 3
nfdhcpd_bindings{state="rejected"} 2
nfdhcpd_bindings{state="waiting"} 1
# HELP nfdhcpd_classifier_answer_errors_total tc steering: answers in the kernel a helper refused to build; the request went on to the daemon (or was dropped, when it could not be restored).
# TYPE nfdhcpd_classifier_answer_errors_total counter
nfdhcpd_classifier_answer_errors_total 1
# HELP nfdhcpd_classifier_unbound_total tc steering: matching packets on an interface with no binding.
# TYPE nfdhcpd_classifier_unbound_total counter
nfdhcpd_classifier_unbound_total 6
# HELP nfdhcpd_nfqueue_dropped_total Packets the kernel dropped before the daemon read them: reason queue_full or socket (netlink buffer overrun).
# TYPE nfdhcpd_nfqueue_dropped_total counter
nfdhcpd_nfqueue_dropped_total{kind="dhcp",queue="42",reason="queue_full"} 5
nfdhcpd_nfqueue_dropped_total{kind="dhcp",queue="42",reason="socket"} 7
nfdhcpd_nfqueue_dropped_total{kind="rs",queue="43",reason="queue_full"} 0
nfdhcpd_nfqueue_dropped_total{kind="rs",queue="43",reason="socket"} 0
# HELP nfdhcpd_nfqueue_waiting Packets waiting in the queue for a verdict.
# TYPE nfdhcpd_nfqueue_waiting gauge
nfdhcpd_nfqueue_waiting{kind="dhcp",queue="42"} 3
nfdhcpd_nfqueue_waiting{kind="rs",queue="43"} 0
# HELP nfdhcpd_left_out_total What replies had no room for: what nameservers (DNS servers), domains (search domains), options (DHCPv4 options).
# TYPE nfdhcpd_left_out_total counter
nfdhcpd_left_out_total{what="domains"} 1
nfdhcpd_left_out_total{what="nameservers"} 13
nfdhcpd_left_out_total{what="options"} 0
# HELP nfdhcpd_panics_total Panics recovered, each logged with its stack: where packet (handling one queued packet, which still got its verdict) or ra (one periodic RA).
# TYPE nfdhcpd_panics_total counter
nfdhcpd_panics_total{where="packet"} 0
nfdhcpd_panics_total{where="ra"} 3
# HELP nfdhcpd_send_errors_total Replies and periodic RAs the kernel refused to send.
# TYPE nfdhcpd_send_errors_total counter
nfdhcpd_send_errors_total 2
# HELP nfdhcpd_verdict_errors_total NFQUEUE verdicts the kernel refused.
# TYPE nfdhcpd_verdict_errors_total counter
nfdhcpd_verdict_errors_total 1
# HELP nfdhcpd_info Build and steering mode; always 1.
# TYPE nfdhcpd_info gauge
nfdhcpd_info{steering="tc",version="1.2.3"} 1
`
	names := []string{"nfdhcpd_attached_taps", "nfdhcpd_bindings", "nfdhcpd_classifier_unbound_total", "nfdhcpd_classifier_answer_errors_total",
		"nfdhcpd_nfqueue_dropped_total", "nfdhcpd_nfqueue_waiting", "nfdhcpd_left_out_total", "nfdhcpd_panics_total", "nfdhcpd_send_errors_total",
		"nfdhcpd_verdict_errors_total", "nfdhcpd_info"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Spot checks of the larger families.
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"nfdhcpd_requests_total", map[string]string{"kind": "unknown", "outcome": "unbound"}, 4},
		{"nfdhcpd_requests_total", map[string]string{"kind": "dhcp-discover", "outcome": "answered"}, 0},
		{"nfdhcpd_classifier_packets_total", map[string]string{"kind": "dhcp", "result": "marked"}, 10},
		{"nfdhcpd_classifier_packets_total", map[string]string{"kind": "dhcp", "result": "spoofed"}, 2},
		{"nfdhcpd_classifier_packets_total", map[string]string{"kind": "ns", "result": "disabled"}, 1},
		{"nfdhcpd_classifier_packets_total", map[string]string{"kind": "ns", "result": "answered"}, 8},
		{"nfdhcpd_classifier_packets_total", map[string]string{"kind": "rs", "result": "answered"}, 5},
		{"nfdhcpd_replies_total", nil, 0},
	} {
		got, ok := scrape(t, c)[Series(tt.name, tt.labels)]
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if n, err := testutil.GatherAndCount(registry(c), "nfdhcpd_requests_total"); err != nil || n != 16 {
		// answered for the 15 request kinds a VM sends, plus unbound; none other is non-zero
		t.Errorf("nfdhcpd_requests_total has %d series (%v), want 16", n, err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP nfdhcpd_reply_duration_seconds Time from reading a packet to its reply sent.
# TYPE nfdhcpd_reply_duration_seconds histogram
nfdhcpd_reply_duration_seconds_bucket{le="5e-06"} 0
nfdhcpd_reply_duration_seconds_bucket{le="1e-05"} 0
nfdhcpd_reply_duration_seconds_bucket{le="2.5e-05"} 0
nfdhcpd_reply_duration_seconds_bucket{le="5e-05"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.0001"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.00025"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.0005"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.001"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.0025"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.005"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.01"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.025"} 0
nfdhcpd_reply_duration_seconds_bucket{le="0.1"} 0
nfdhcpd_reply_duration_seconds_bucket{le="+Inf"} 0
nfdhcpd_reply_duration_seconds_sum 0
nfdhcpd_reply_duration_seconds_count 0
`), "nfdhcpd_reply_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// In iptables steering there is no classifier: its families are absent.
func TestCollectorIPTables(t *testing.T) {
	src := testSources(t)
	src.Steering, src.Classifier, src.Method = "iptables", nil, nil
	got := scrape(t, NewCollector(src))
	for s := range got {
		if strings.HasPrefix(s, "nfdhcpd_classifier_") || strings.HasPrefix(s, "nfdhcpd_attached_taps") {
			t.Errorf("iptables steering reports %s", s)
		}
	}
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(testSources(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestParseNFQueue(t *testing.T) {
	got, err := ParseNFQueue(strings.NewReader("   42  1234     3 2 65535     5     7 100 1\n65535 1 0 2 0 0 0 0 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []QueueStats{{Queue: 42, Waiting: 3, QueueFull: 5, SocketDrops: 7}, {Queue: 65535}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseNFQueue (-want +got):\n%s", d)
	}
	for _, bad := range []string{"42 1 2\n", "42 1 x 2 0 0 0 0 1\n", "65536 1 0 2 0 0 0 0 1\n"} {
		if _, err := ParseNFQueue(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseNFQueue(%q): no error", bad)
		}
	}
}

func TestHandler(t *testing.T) {
	src := testSources(t)
	healthErr := errors.New("starting")
	src.Health = func() error { return healthErr }
	h := NewHandler(src)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 503 || body != "starting\n" {
		t.Errorf("/healthz while starting = %d %q", code, body)
	}
	healthErr = nil
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get("/bindings")
	var rows []BindingRow
	if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil {
		t.Fatalf("/bindings = %d %v: %s", code, err, body)
	}
	want := []BindingRow{
		{TAP: "tap10", File: "/b/tap10", Active: true, Ifindex: 7, Attach: "tcx", MAC: "aa:6b:39:22:33:44",
			IP: "192.0.2.100", Subnet: "192.0.2.0/24", Gateway: "192.0.2.1", Subnet6: "2001:db8:aaaa:bbbb::/64", Hostname: "testing-vm"},
		{TAP: "tap11", File: "/b/tap11", MAC: "02:00:00:00:00:11", Hostname: "vm11", Waiting: "no link tap11",
			Warnings: []string{`/b/tap11:3: "export FOO" is not KEY=VALUE, ignored`}},
		{TAP: "tap12", File: "/b/tap12", Error: "tap12:3: IP: bad"},
		{TAP: "tap13", File: "/b/tap13", Active: true, Ifindex: 9, MAC: "02:00:00:00:00:13", Hostname: "vm13", Error: "tap13:1: MAC: bad"},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("/bindings (-want +got):\n%s", d)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `nfdhcpd_info{steering="tc",version="1.2.3"} 1`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
	if code, _ := get("/nothing"); code != 404 {
		t.Errorf("/nothing = %d, want 404", code)
	}
}

func registry(c prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return reg
}

func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	mfs, err := registry(c).Gather()
	if err != nil {
		t.Fatal(err)
	}
	return flatten(mfs)
}

// The handler's text, parsed back, holds what the collector gathered.
func TestParseExposition(t *testing.T) {
	src := testSources(t)
	rec := httptest.NewRecorder()
	NewHandler(src).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	got, err := ParseExposition(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := scrape(t, NewCollector(src))
	for s, v := range want {
		if got[s] != v {
			t.Errorf("%s = %v after parsing, want %v", s, got[s], v)
		}
	}
	if _, err := ParseExposition(strings.NewReader("nfdhcpd_x{ 1\n")); err == nil {
		t.Error("ParseExposition accepted a broken line")
	}
}

// The file is reread from the start at each scrape, as /proc's is.
func TestNFQueueFileRereads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q")
	os.WriteFile(path, []byte("42 1 0 2 0 1 0 0 1\n"), 0o644)
	q, err := OpenNFQueue(path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, want := range []uint64{1, 1} {
		qs, err := q.Read()
		if err != nil || len(qs) != 1 || qs[0].QueueFull != want {
			t.Errorf("Read() = %+v, %v; want queue_full %d", qs, err, want)
		}
	}
	os.WriteFile(path, []byte("42 1 0 2 0 9 0 0 1\n"), 0o644)
	if qs, err := q.Read(); err != nil || len(qs) != 1 || qs[0].QueueFull != 9 {
		t.Errorf("after rewrite: Read() = %+v, %v; want queue_full 9", qs, err)
	}
}

// statusBindings is a store's view holding just these files; each active
// one has an entry.
type statusBindings []binding.FileStatus

func (s statusBindings) Status() []binding.FileStatus { return s }
func (s statusBindings) ByName(string) *binding.Entry { return nil }
func (s statusBindings) Entries() []*binding.Entry {
	var out []*binding.Entry
	for i, f := range s {
		if f.Active {
			out = append(out, &binding.Entry{Binding: f.Binding, TAP: binding.Link{Name: f.TAP, Index: i + 1}})
		}
	}
	return out
}

// Each file counts once in each state it is in: a binding refused because
// its TAP is not a VM port is rejected, and neither loaded nor waiting.
func TestCollectorBindingStates(t *testing.T) {
	bad := errors.New("tap10:3: IP: bad")
	notPort := binding.VMPort(binding.Link{Name: "eth0", Kind: "device"})
	for _, tt := range []struct {
		name                              string
		file                              binding.FileStatus
		loaded, active, waiting, rejected int
	}{
		{"active", binding.FileStatus{TAP: "tap10", Active: true, Binding: b10}, 1, 1, 0, 0},
		{"waiting", binding.FileStatus{TAP: "tap10", Binding: b10, Waiting: "no link tap10"}, 1, 0, 1, 0},
		{"rejected, no good version", binding.FileStatus{TAP: "tap10", Err: bad}, 0, 0, 0, 1},
		{"active, last version rejected", binding.FileStatus{TAP: "tap10", Active: true, Binding: b10, Err: bad}, 1, 1, 0, 1},
		{"waiting, last version rejected", binding.FileStatus{TAP: "tap10", Binding: b10, Err: bad, Waiting: "no link tap10"}, 1, 0, 1, 1},
		{"refused: not a VM port", binding.FileStatus{TAP: "eth0", Binding: b10, Err: notPort}, 0, 0, 0, 1},
		{"refused, last version rejected too", binding.FileStatus{TAP: "eth0", Binding: b10, Err: errors.Join(bad, notPort)}, 0, 0, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := testSources(t)
			src.Bindings = statusBindings{tt.file}
			got := scrape(t, NewCollector(src))
			for state, want := range map[string]int{"loaded": tt.loaded, "active": tt.active, "waiting": tt.waiting, "rejected": tt.rejected} {
				s := Series("nfdhcpd_bindings", map[string]string{"state": state})
				if got[s] != float64(want) {
					t.Errorf("%s = %v, want %d", s, got[s], want)
				}
			}
		})
	}
}

// A source that cannot be read is logged once per warnInterval and kind,
// however often the endpoint is scraped; the next line after the interval
// says how many were held back.
func TestCollectorWarningsThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := testSources(t)
		proc := filepath.Join(t.TempDir(), "nfnetlink_queue")
		os.WriteFile(proc, []byte("42 1 2\n"), 0o644)
		q, err := OpenNFQueue(proc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		src.NFQueue = q
		src.Classifier = func() (loader.Stats, error) { return loader.Stats{}, errors.New("loader closed") }
		var out strings.Builder
		src.Log = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		const (
			nfqLine = `level=WARN msg="cannot read NFQUEUE statistics" err="/proc/net/netfilter/nfnetlink_queue line 1: 3 fields, want at least 7"`
			clsLine = `level=WARN msg="cannot read the classifier's counters" err="loader closed"`
		)
		c := NewCollector(src)
		for range 5 {
			scrape(t, c)
		}
		want := nfqLine + "\n" + clsLine + "\n"
		if got := out.String(); got != want {
			t.Errorf("log after 5 scrapes:\n%s\nwant:\n%s", got, want)
		}
		time.Sleep(warnInterval - time.Nanosecond)
		scrape(t, c)
		if got := out.String(); got != want {
			t.Errorf("log after a sixth scrape just before warnInterval (%v):\n%s\nwant:\n%s", warnInterval, got, want)
		}
		time.Sleep(time.Nanosecond)
		scrape(t, c)
		want += nfqLine + " suppressed=5\n" + clsLine + " suppressed=5\n"
		if got := out.String(); got != want {
			t.Errorf("log after a scrape at warnInterval (%v):\n%s\nwant:\n%s", warnInterval, got, want)
		}
	})
}
