package route

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// DefaultResync is how often the Owner reads our routes back from the
// kernel, so that a route someone deleted, or one the kernel flushed with
// its TAP's link, comes back while its lease holds.
const DefaultResync = 30 * time.Second

// Bindings is where the Owner looks up the binding in force on a TAP:
// *binding.Store.
type Bindings interface {
	ByIndex(ifindex int) *binding.Entry
}

// Options configure an Owner.
type Options struct {
	Kernel   Kernel
	Bindings Bindings
	// Changed receives when the bindings in force change
	// (binding.Store.Notify); nil: only reports and timers wake the Owner.
	Changed <-chan struct{}
	// Routes is [ipv6] pd_routes: false tracks the prefixes taken but
	// routes none, and removes routes of ours left from before.
	Routes bool
	// Lifetime is [ipv6] pd_lifetime: how long a route of ours found at
	// start may still be held by its VM (0xffffffff s: for ever).
	Lifetime time.Duration
	Resync   time.Duration // 0: DefaultResync
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Owner owns the routes of delegated prefixes: the queue readers report
// what replies did (Delegated), and Run keeps the kernel's routes to what
// the prefixes taken and the bindings in force justify.
type Owner struct {
	opt Options
	log *slog.Logger
	in  inbox

	mu     sync.Mutex // guards table and routed, for State
	table  *Table
	routed map[netip.Prefix]bool // our routes in the kernel, as of the last sync
	have   []Route               // ditto, as Kernel.List gives them
	listed bool                  // have was read from the kernel

	errs    atomic.Uint64
	lastErr map[errKey]string // the last warning logged per prefix and source, so that each is logged once
}

// inbox holds the reports of the queue readers until Run takes them: one
// per TAP and prefix, so that a VM that floods renewals only ever
// overwrites its own, and the inbox holds at most every binding's
// prefixes.
type inbox struct {
	mu   sync.Mutex
	m    map[inboxKey]report
	wake chan struct{}
}

type inboxKey struct {
	ifindex int
	prefix  netip.Prefix
}

type report struct {
	tap     string
	op      responder.DelegationOp
	nextHop netip.Addr
	valid   uint32
	at      time.Time
}

// New returns an Owner; Run starts it.
func New(opt Options) *Owner {
	if opt.Resync == 0 {
		opt.Resync = DefaultResync
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Owner{
		opt: opt, log: log, table: NewTable(), routed: map[netip.Prefix]bool{}, lastErr: map[errKey]string{},
		in: inbox{m: map[inboxKey]report{}, wake: make(chan struct{}, 1)},
	}
}

// Delegated is told what a reply to the VM on e's TAP did with its
// delegated prefixes (nfq's readers call it). It never blocks: Run acts
// on it.
func (o *Owner) Delegated(e *binding.Entry, d responder.Delegation) {
	if d.Op == responder.NoDelegation || len(d.Prefixes) == 0 {
		return
	}
	r := report{tap: e.Binding.TAP, op: d.Op, nextHop: d.NextHop, valid: d.Valid, at: o.opt.Now()}
	o.in.mu.Lock()
	for _, p := range d.Prefixes {
		o.in.m[inboxKey{e.TAP.Index, p}] = r
	}
	o.in.mu.Unlock()
	select {
	case o.in.wake <- struct{}{}:
	default:
	}
}

func (in *inbox) take() map[inboxKey]report {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.m) == 0 {
		return nil
	}
	m := in.m
	in.m = make(map[inboxKey]report, len(m))
	return m
}

// Run adopts or removes the routes of ours it finds, then keeps the routes
// current until ctx is done. Routes stay when it returns: a restart finds
// and adopts them, so VMs keep their prefixes routed across it.
func (o *Owner) Run(ctx context.Context) error {
	o.start()
	resync := time.NewTicker(o.opt.Resync)
	defer resync.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		full := false
		select {
		case <-ctx.Done():
			return nil
		case <-o.in.wake:
		case <-o.opt.Changed:
		case <-expiry.C:
		case <-resync.C:
			if !o.busy() {
				continue // no prefix taken, no route of ours: nothing to restore
			}
			full = true
		}
		next := o.sync(full)
		expiry.Stop()
		if !next.IsZero() {
			expiry.Reset(max(next.Sub(o.opt.Now()), 0))
		}
	}
}

// start reads our routes left in the kernel by a daemon before this one:
// those a binding still justifies are adopted, the rest removed by the
// first sync.
func (o *Owner) start() {
	have, err := o.opt.Kernel.List()
	if err != nil {
		o.errs.Add(1)
		o.log.Warn("cannot list the routes of delegated prefixes; retrying", "err", err)
	}
	o.mu.Lock()
	o.have, o.listed = have, err == nil
	var kept []Lease
	if o.opt.Routes {
		var expires time.Time
		if o.opt.Lifetime < 0xffffffff*time.Second {
			expires = o.opt.Now().Add(o.opt.Lifetime)
		}
		kept = o.table.Adopt(have, o.routable, o.tapName, expires)
	}
	o.mu.Unlock()
	for _, l := range kept {
		o.log.Info("route of a delegated prefix kept from before", "iface", l.TAP, "prefix", l.Prefix.String(),
			"via", l.NextHop.String(), "expires", l.Expires)
	}
	o.sync(false)
}

// delegates: the binding in force on ifindex delegates p.
func (o *Owner) delegates(ifindex int, p netip.Prefix) bool {
	e := o.opt.Bindings.ByIndex(ifindex)
	return e != nil && slices.Contains(e.Binding.DelegatedPrefixes6, p)
}

// routable: a lease of p on ifindex gets a route. A bridged TAP never
// does: the VM's next hop is reached through the bridge, and the router
// of that segment is elsewhere.
func (o *Owner) routable(ifindex int, p netip.Prefix) bool {
	e := o.opt.Bindings.ByIndex(ifindex)
	return o.opt.Routes && e != nil && !e.Bridged && slices.Contains(e.Binding.DelegatedPrefixes6, p)
}

func (o *Owner) tapName(ifindex int) string {
	if e := o.opt.Bindings.ByIndex(ifindex); e != nil {
		return e.Binding.TAP
	}
	return ""
}

// sync applies the reports waiting, drops the leases that ran out or lost
// their binding, and brings the kernel's routes in line; full reads our
// routes back from the kernel first. It returns when the next lease runs
// out.
func (o *Owner) sync(full bool) time.Time {
	now := o.opt.Now()
	reports := o.in.take()
	o.mu.Lock()
	for _, k := range sortedKeys(reports) {
		o.apply(k, reports[k])
	}
	for _, l := range o.table.Prune(now, o.delegates) {
		why := "its binding no longer delegates it"
		if !l.Expires.IsZero() && !now.Before(l.Expires) {
			why = "its lifetime ran out"
		}
		o.log.Info("delegated prefix no longer taken", "iface", l.TAP, "prefix", l.Prefix.String(), "why", why)
	}
	var want []Lease
	for _, l := range o.table.Leases() {
		if o.routable(l.Ifindex, l.Prefix) {
			want = append(want, l)
		}
	}
	next := o.table.Next()
	have, listed := o.have, o.listed
	o.mu.Unlock()

	if full || !listed {
		h, err := o.opt.Kernel.List()
		if err != nil {
			o.errs.Add(1)
			o.log.Warn("cannot list the routes of delegated prefixes", "err", err)
			return next
		}
		have = h
	}
	c := Plan(want, have)
	have = o.change(c, have)
	o.mu.Lock()
	o.have, o.listed = have, true
	o.routed = make(map[netip.Prefix]bool, len(have))
	for _, r := range have {
		o.routed[r.Prefix] = true
	}
	o.mu.Unlock()
	return next
}

// apply takes one report into the table (o.mu held).
func (o *Owner) apply(k inboxKey, r report) {
	switch r.op {
	case responder.Delegated:
		var expires time.Time
		if r.valid != 0xffffffff {
			expires = r.at.Add(time.Duration(r.valid) * time.Second)
		}
		_, had := o.table.leases[k.prefix]
		l := Lease{Route: Route{Prefix: k.prefix, Ifindex: k.ifindex, NextHop: r.nextHop}, TAP: r.tap, Expires: expires}
		if err := o.table.Take(l, o.delegates); err != nil {
			o.logOnce(errKey{k.prefix, false}, "delegated prefix not routed", err.Error(), "iface", r.tap)
			return
		}
		delete(o.lastErr, errKey{k.prefix, false})
		if !had {
			o.log.Info("delegated prefix taken", "iface", r.tap, "prefix", k.prefix.String(), "via", r.nextHop.String(), "valid", r.valid)
		}
	case responder.Released:
		if o.table.Release(k.ifindex, k.prefix) {
			o.log.Info("delegated prefix released", "iface", r.tap, "prefix", k.prefix.String())
		}
	}
}

// change tells the kernel, and returns our routes as they are afterwards.
// What the kernel refuses is counted, logged once per prefix and error,
// and tried again at the next sync.
func (o *Owner) change(c Changes, have []Route) []Route {
	if c.Empty() {
		return have
	}
	out := slices.Clone(have)
	drop := func(r Route) { out = slices.DeleteFunc(out, func(h Route) bool { return h == r }) }
	for _, r := range c.Delete {
		if err := o.opt.Kernel.Delete(r); err != nil {
			o.fail(r, err)
			continue
		}
		drop(r)
		o.succeeded(r)
		o.log.Info("route of a delegated prefix removed", "prefix", r.Prefix.String(), "via", r.NextHop.String(), "ifindex", r.Ifindex)
	}
	for _, r := range c.Replace {
		if err := o.opt.Kernel.Replace(r); err != nil {
			o.fail(r, err)
			continue
		}
		out = slices.DeleteFunc(out, func(h Route) bool { return h.Prefix == r.Prefix })
		out = append(out, r)
		o.succeeded(r)
		o.log.Info("route of a delegated prefix changed", "prefix", r.Prefix.String(), "via", r.NextHop.String(), "ifindex", r.Ifindex)
	}
	for _, r := range c.Add {
		if err := o.opt.Kernel.Add(r); err != nil {
			o.fail(r, err)
			continue
		}
		out = append(out, r)
		o.succeeded(r)
		o.log.Info("route of a delegated prefix added", "prefix", r.Prefix.String(), "via", r.NextHop.String(), "ifindex", r.Ifindex)
	}
	return out
}

func (o *Owner) fail(r Route, err error) {
	o.errs.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logOnce(errKey{r.Prefix, true}, "the kernel refused a route of a delegated prefix", err.Error(), "ifindex", r.Ifindex)
}

func (o *Owner) succeeded(r Route) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.lastErr, errKey{r.Prefix, true})
}

// errKey names what a warning is about: a prefix, from a refused take or
// from the kernel.
type errKey struct {
	prefix netip.Prefix
	kernel bool
}

// logOnce logs a warning unless the last one about k said the same
// (o.mu held).
func (o *Owner) logOnce(k errKey, msg, err string, args ...any) {
	if o.lastErr[k] == err {
		return
	}
	o.lastErr[k] = err
	o.log.Warn(msg, append(args, "prefix", k.prefix.String(), "err", err)...)
}

// busy reports whether a prefix is taken or a route of ours is there.
func (o *Owner) busy() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.table.leases) > 0 || len(o.have) > 0
}

// State is a lease as the binding table shows it.
type State struct {
	Lease
	Routed bool // its route is in the kernel
}

// State returns the leases held, sorted by prefix.
func (o *Owner) State() []State {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []State
	for _, l := range o.table.Leases() {
		out = append(out, State{Lease: l, Routed: o.routed[l.Prefix]})
	}
	return out
}

// Routed is how many routes of ours the kernel holds, as of the last sync.
func (o *Owner) Routed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.routed)
}

// Errors counts what the kernel refused: a listing, an add, a replace or
// a delete.
func (o *Owner) Errors() uint64 { return o.errs.Load() }

func sortedKeys(m map[inboxKey]report) []inboxKey {
	keys := make([]inboxKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b inboxKey) int {
		if c := comparePrefix(a.prefix, b.prefix); c != 0 {
			return c
		}
		return a.ifindex - b.ifindex
	})
	return keys
}
