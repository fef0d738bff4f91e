package metrics

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/internal/throttle"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Sources is what the exporter reads at each scrape. Stats and Bindings are
// required; the rest is optional.
type Sources struct {
	Version  string
	Steering string // "tc" or "iptables": the mode in force
	Stats    *nfq.Stats
	Bindings Bindings
	// Classifier reads the classifier's pinned counters; nil in iptables
	// steering.
	Classifier func() (loader.Stats, error)
	// Method tells how the classifier is attached to an ifindex; nil in
	// iptables steering.
	Method func(ifindex int) string
	// Queues names the daemon's NFQUEUE queue numbers by kind (dhcp, rs, ns,
	// dhcpv6); other queues in NFQueue are not reported.
	Queues map[uint16]string
	// NFQueue is ProcNFQueue, opened while the daemon was root; nil: no
	// queue counters.
	NFQueue *NFQueueFile
	// Routes tells the delegated prefixes taken and routed; nil: not
	// reported.
	Routes Routes
	// Health reports why the daemon is not serving, nil when it is.
	Health func() error
	Log    *slog.Logger
}

// Collector is a prometheus.Collector over Sources.
type Collector struct {
	src  *Sources
	warn throttle.Log[string] // by what could not be read
}

// warnInterval is how often the collector logs that one source cannot be
// read: anyone who reaches the endpoint can scrape in a loop, and the log
// must not grow with the scrapes. The count held back comes with the next
// line.
const warnInterval = time.Minute

// NewCollector returns a collector reading src at every scrape.
func NewCollector(src *Sources) *Collector {
	return &Collector{src: src, warn: throttle.Log[string]{Interval: warnInterval}}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("nfdhcpd_"+name, help, labels, nil)
}

var (
	descRequests   = desc("requests_total", "Requests by kind and outcome; outcome unbound counts packets of no binding, accepted untouched.", "kind", "outcome")
	descReplies    = desc("replies_total", "Replies sent.")
	descLatency    = desc("reply_duration_seconds", "Time from reading a packet to its reply sent.")
	descSendErrors = desc("send_errors_total", "Replies and periodic RAs the kernel refused to send.")
	descVerdictErr = desc("verdict_errors_total", "NFQUEUE verdicts the kernel refused.")
	descPanics     = desc("panics_total", "Panics recovered, each logged with its stack: where packet (handling one queued packet, which still got its verdict) or ra (one periodic RA).", "where")
	descLeftOut    = desc("left_out_total", "What replies had no room for: what nameservers (DNS servers), domains (search domains), options (DHCPv4 options).", "what")
	descQueueDrop  = desc("nfqueue_dropped_total", "Packets the kernel dropped before the daemon read them: reason queue_full or socket (netlink buffer overrun).", "queue", "kind", "reason")
	descQueueWait  = desc("nfqueue_waiting", "Packets waiting in the queue for a verdict.", "queue", "kind")
	descBindings   = desc("bindings", "Binding files: loaded (a good version in force), active (its TAP exists), waiting (loaded, not active), rejected (the last version was refused).", "state")
	descClsPackets = desc("classifier_packets_total", "tc steering: packets the classifier marked for the daemon, answered itself (RS, NS), dropped as spoofed or over their TAP's rate limit (limited), or let through because the kind is disabled.", "kind", "result")
	descClsAnsErr  = desc("classifier_answer_errors_total", "tc steering: answers in the kernel a helper refused to build; the request went on to the daemon (or was dropped, when it could not be restored).")
	descClsUnbound = desc("classifier_unbound_total", "tc steering: matching packets on an interface with no binding.")
	descAttached   = desc("attached_taps", "tc steering: active bindings by classifier attach method (none: not attached).", "method")
	descInfo       = desc("info", "Build and steering mode; always 1.", "version", "steering")
	descDelegated  = desc("delegated_prefixes", "Prefixes delegated by DHCPv6: state delegated (named by active bindings), taken (by their VM, lifetime not run out), routed (a route of ours in the host's table).", "state")
	descRouteErrs  = desc("route_errors_total", "Route changes and listings for delegated prefixes the kernel refused.")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descReplies, descLatency, descSendErrors, descVerdictErr,
		descPanics, descLeftOut, descQueueDrop, descQueueWait, descBindings, descClsPackets, descClsAnsErr, descClsUnbound, descAttached, descInfo,
		descDelegated, descRouteErrs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(descInfo, 1, s.Version, s.Steering)

	c.collectRequests(counter)
	n, _ := s.Stats.Replies()
	counter(descReplies, n)
	lat := s.Stats.Latency()
	buckets := make(map[float64]uint64, len(nfq.LatencyBuckets))
	var cum uint64
	for i, b := range nfq.LatencyBuckets {
		cum += lat.Counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(descLatency, lat.Count(), lat.Sum.Seconds(), buckets)
	counter(descSendErrors, s.Stats.SendErrors.Load())
	counter(descVerdictErr, s.Stats.VerdictErrors.Load())
	counter(descPanics, s.Stats.PanicsPacket.Load(), nfq.PanicPacket)
	counter(descPanics, s.Stats.PanicsRA.Load(), nfq.PanicRA)
	counter(descLeftOut, s.Stats.LeftOutNameservers.Load(), "nameservers")
	counter(descLeftOut, s.Stats.LeftOutDomains.Load(), "domains")
	counter(descLeftOut, s.Stats.LeftOutOptions.Load(), "options")

	c.collectQueues(counter, gauge)
	c.collectBindings(gauge)
	c.collectClassifier(counter)
	c.collectRoutes(counter, gauge)
}

func (c *Collector) collectRoutes(counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, int, ...string)) {
	r := c.src.Routes
	if r == nil {
		return
	}
	n := 0
	for _, e := range c.src.Bindings.Entries() {
		n += len(e.Binding.DelegatedPrefixes6)
	}
	gauge(descDelegated, n, "delegated")
	gauge(descDelegated, len(r.State()), "taken")
	gauge(descDelegated, r.Routed(), "routed")
	counter(descRouteErrs, r.Errors())
}

// collectRequests reports every (kind, outcome) seen, and answered for every
// kind a VM sends, so that the usual series exist from the start.
func (c *Collector) collectRequests(counter func(*prometheus.Desc, uint64, ...string)) {
	st := c.src.Stats
	for k := responder.Kind(0); k < 32; k++ {
		if k != responder.KindUnknown && k.String() == "unknown" {
			break // past the last kind
		}
		if k == responder.KindRA {
			continue // sent, never requested
		}
		for o := responder.Outcome(0); o < 16; o++ {
			if o.String() == "unknown" {
				break
			}
			v := st.Count(k, o)
			if v == 0 && (o != responder.Answered || k == responder.KindUnknown ||
				k == responder.KindDHCPOther || k == responder.KindDHCPv6Other) {
				continue
			}
			counter(descRequests, v, k.String(), o.String())
		}
	}
	counter(descRequests, st.Unbound.Load(), responder.KindUnknown.String(), "unbound")
}

func (c *Collector) collectQueues(counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, int, ...string)) {
	if c.src.NFQueue == nil {
		return
	}
	qs, err := c.src.NFQueue.Read()
	if err != nil {
		c.logWarn("nfqueue", "cannot read NFQUEUE statistics", "err", err)
		return
	}
	for _, q := range qs {
		kind, ours := c.src.Queues[q.Queue]
		if !ours {
			continue
		}
		num := strconv.Itoa(int(q.Queue))
		counter(descQueueDrop, q.QueueFull, num, kind, "queue_full")
		counter(descQueueDrop, q.SocketDrops, num, kind, "socket")
		gauge(descQueueWait, int(q.Waiting), num, kind)
	}
}

func (c *Collector) collectBindings(gauge func(*prometheus.Desc, int, ...string)) {
	var loaded, waiting, rejected int
	for _, f := range c.src.Bindings.Status() {
		// A binding refused for its TAP (not a VM port) is parsed but
		// never served: rejected, neither loaded nor waiting.
		refused := errors.Is(f.Err, binding.ErrNotVMPort)
		if f.Binding != nil && !refused {
			loaded++
			if !f.Active {
				waiting++
			}
		}
		if f.Err != nil {
			rejected++
		}
	}
	entries := c.src.Bindings.Entries()
	gauge(descBindings, loaded, "loaded")
	gauge(descBindings, len(entries), "active")
	gauge(descBindings, waiting, "waiting")
	gauge(descBindings, rejected, "rejected")
	if c.src.Method == nil {
		return
	}
	byMethod := map[string]int{loader.MethodTCX: 0, loader.MethodClsBPF: 0, "none": 0}
	for _, e := range entries {
		m := c.src.Method(e.TAP.Index)
		if m == "" {
			m = "none"
		}
		byMethod[m]++
	}
	for m, n := range byMethod {
		gauge(descAttached, n, m)
	}
}

func (c *Collector) collectClassifier(counter func(*prometheus.Desc, uint64, ...string)) {
	if c.src.Classifier == nil {
		return
	}
	st, err := c.src.Classifier()
	if err != nil {
		c.logWarn("classifier", "cannot read the classifier's counters", "err", err)
		return
	}
	for _, k := range loader.KindTable {
		ks := st.Of(k.Kind)
		counter(descClsPackets, ks.Marked, k.Name, "marked")
		counter(descClsPackets, ks.Spoofed, k.Name, "spoofed")
		counter(descClsPackets, ks.Disabled, k.Name, "disabled")
		counter(descClsPackets, ks.Limited, k.Name, "limited")
		if k.Kind&loader.Answerable != 0 {
			counter(descClsPackets, ks.Answered, k.Name, "answered")
		}
	}
	counter(descClsUnbound, st.Unbound)
	counter(descClsAnsErr, st.AnswerErrors)
}

// logWarn logs that what could not be read, at most once per warnInterval.
func (c *Collector) logWarn(what, msg string, args ...any) {
	if c.src.Log != nil {
		c.warn.Warn(c.src.Log, what, msg, args...)
	}
}
