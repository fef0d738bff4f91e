package nfq

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// DefaultMaxQueueLen is the kernel-side queue length, as the original daemon used.
const DefaultMaxQueueLen = 5000

// ReaderConfig says which queue a Reader serves.
type ReaderConfig struct {
	Name        string // "dhcp", "rs", "ns", "dhcpv6": for logs
	Queue       uint16
	MaxQueueLen uint32 // 0: DefaultMaxQueueLen
	// MarkMask, in tc steering, is the skb mark bits the classifier set to
	// steer the packet here. A packet that is not ours is then given back
	// with NF_REPEAT and those bits cleared: it goes through mangle
	// PREROUTING again as it arrived, where NF_ACCEPT would skip the rest of
	// the chain for it and leave our bits set.
	MarkMask uint32
	// Balance > 1: this queue is the Index-th of Balance queues the kind
	// is spread over by CPU (--queue-cpu-fanout), and the reader runs on
	// a CPU that feeds it.
	Balance, Index int
	// Delegations, when set, is told what each DHCPv6 reply did with the
	// binding's delegated prefixes, to route them (route.Owner).
	Delegations Delegations
}

// Delegations learns, for routing, which prefixes a VM took or gave back.
// Delegated must not block: it is called on the packet path, and d's
// slices are valid only during the call.
type Delegations interface {
	Delegated(e *binding.Entry, d responder.Delegation)
}

// Reader serves one NFQUEUE queue: every packet gets a verdict, ours get a
// reply. It works in batches: every packet waiting in the socket is taken
// in one recvmmsg, decided, the replies leave in one sendmmsg and the
// verdicts in one netlink write. Nothing on this path allocates or locks.
type Reader struct {
	cfg     ReaderConfig
	handler *Handler
	sender  *Sender
	stats   *Stats
	log     *slog.Logger
	conn    *queueConn

	pkt      queuedPacket
	verdicts verdicts
	replies  *replyBatch
	replyTAP [batchSize]string // each reply's TAP name, for a send error's log
}

// OpenReader opens and binds the queue: copy-packet mode, fail-open (the
// kernel accepts packets it cannot queue, so a slow or dead daemon never
// blackholes a VM), and no ENOBUFS errors on overrun (those packets are the
// kernel's to fail open).
func OpenReader(cfg ReaderConfig, h *Handler, s *Sender, st *Stats, log *slog.Logger) (*Reader, error) {
	if cfg.MaxQueueLen == 0 {
		cfg.MaxQueueLen = DefaultMaxQueueLen
	}
	conn, err := openQueue(cfg.Queue, cfg.MaxQueueLen)
	if err != nil {
		return nil, fmt.Errorf("open %s queue %d: %w", cfg.Name, cfg.Queue, err)
	}
	return &Reader{
		cfg: cfg, handler: h, sender: s, stats: st, conn: conn,
		log:     log.With("queue", cfg.Queue, "qname", cfg.Name),
		replies: new(replyBatch),
	}, nil
}

// Run serves the queue until ctx is done or the socket fails. It keeps its
// OS thread: the reader sleeps in recvmmsg and wakes on that thread alone,
// with no hand-over through the Go scheduler's network poller. The thread
// is never handed back (a pinned thread must not serve other goroutines):
// it ends with the goroutine that called Run.
func (r *Reader) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer r.conn.close()
	if r.cfg.Balance > 1 {
		cpu, ok, err := pinThread(r.cfg.Index, r.cfg.Balance)
		switch {
		case err != nil:
			r.log.Warn("cannot pin the queue reader to a CPU", "err", err)
		case !ok:
			r.log.Warn("no CPU of this process feeds this queue; reading it unpinned",
				"index", r.cfg.Index, "balance", r.cfg.Balance)
		default:
			r.log.Debug("queue reader pinned", "cpu", cpu)
		}
	}
	for ctx.Err() == nil {
		n, err := r.conn.recv()
		if err != nil {
			return fmt.Errorf("%s queue %d: %w", r.cfg.Name, r.cfg.Queue, err)
		}
		if n > 0 {
			r.batch(n)
		}
	}
	return nil
}

// batch decides the n datagrams the last recv took, then sends the replies
// and the verdicts.
func (r *Reader) batch(n int) {
	start := time.Now()
	r.verdicts.reset(r.cfg.Queue)
	for i := 0; i < n; i++ {
		for b := r.conn.datagram(i); len(b) > 0; {
			m, rest, err := nextMessage(b)
			if err != nil {
				r.stats.warnOnce(r.log, warnKey{what: "netlink"}, "malformed netlink message", "err", err)
				break
			}
			b = rest
			r.message(m)
		}
	}
	queued := r.replies.n
	failed := 0
	r.sender.sendBatch(r.replies, func(i int, err error) {
		failed++
		r.stats.SendErrors.Add(1)
		r.stats.warnOnce(r.log, warnKey{what: "send"}, "cannot send reply", "iface", r.replyTAP[i], "err", err)
	})
	r.stats.sent(queued-failed, time.Since(start))
	if err := r.conn.send(r.verdicts.bytes()); err != nil {
		r.stats.VerdictErrors.Add(1)
		r.stats.warnOnce(r.log, warnKey{what: "verdict"}, "cannot set verdicts", "err", err)
	}
}

func (r *Reader) message(m nlmsg) {
	switch m.Type {
	case nlmsgError:
		// Verdicts ask for no acknowledgement: an error is a refused one.
		if e := errorCode(m.Body); e != 0 {
			r.stats.VerdictErrors.Add(1)
			r.stats.warnOnce(r.log, warnKey{what: "verdict"}, "kernel refused a verdict", "err", e)
		}
		return
	case nfnlSubsysQueue<<8 | nfqnlMsgPacket:
	default:
		return
	}
	if len(m.Body) < nfgenHdrLen {
		r.stats.warnOnce(r.log, warnKey{what: "netlink"}, "malformed queued packet", "len", len(m.Body))
		return
	}
	p := &r.pkt
	if err := decodePacket(m.Body[nfgenHdrLen:], p); err != nil {
		r.stats.warnOnce(r.log, warnKey{what: "netlink"}, "malformed queued packet", "err", err)
		// The kernel numbers packets from 1: with its id known, the packet
		// goes on untouched rather than wait in the queue for ever.
		if p.ID != 0 {
			r.verdicts.add(p.ID, nfAccept)
		}
		return
	}
	d, ok := r.decide(p.Packet)
	switch {
	case d.Verdict == Drop:
		r.verdicts.add(p.ID, nfDrop)
	case r.cfg.MarkMask != 0 && p.HasMark:
		r.verdicts.addMark(p.ID, nfRepeat, p.Mark&^r.cfg.MarkMask)
	default:
		r.verdicts.add(p.ID, nfAccept)
	}
	if !ok {
		return // a panic, logged and counted: the verdict alone
	}
	if f := d.Result.Frame; f != nil {
		slot := r.replies.n
		if r.replies.add(d.Entry.TAP.Index, f) {
			r.replyTAP[slot] = d.Entry.Binding.TAP
		} else if err := r.sender.Send(d.Entry.TAP.Index, f); err != nil {
			r.stats.SendErrors.Add(1)
			r.stats.warnOnce(r.log, warnKey{what: "send"}, "cannot send reply", "iface", d.Entry.Binding.TAP, "err", err)
		} else {
			r.stats.sent(1, 0)
		}
	}
	if dl := d.Result.Delegation; dl.Op != responder.NoDelegation && r.cfg.Delegations != nil {
		r.cfg.Delegations.Delegated(d.Entry, dl)
	}
	r.stats.record(d)
	if d.Result.LeftOut.Any() {
		r.stats.countLeftOut(d.Result.LeftOut)
	}
	r.logDecision(p.Packet, d)
}

// decide is the handler's decision for p, with a panic contained to p
// (ok false): it is logged and counted, and p is dropped when it came
// from a bound TAP, so that the VM's request goes no further, and
// accepted untouched otherwise. The next packet is served as usual.
func (r *Reader) decide(p Packet) (d Decision, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			e, bound := r.boundEntry(p)
			iface := "-"
			if e != nil {
				iface = e.TAP.Name
			}
			r.stats.recovered(r.log, PanicPacket, iface, v)
			d, ok = Decision{Verdict: Accept}, false
			if bound {
				d.Verdict = Drop
			}
		}
	}()
	return r.handler.Handle(p), true
}

// boundEntry is p's binding, nil when none. A lookup that panics too
// counts as bound: the packet is dropped rather than let on.
func (r *Reader) boundEntry(p Packet) (e *binding.Entry, bound bool) {
	defer func() {
		if recover() != nil {
			e, bound = nil, true
		}
	}()
	e = r.handler.find(p)
	return e, e != nil
}

func (r *Reader) logDecision(p Packet, d Decision) {
	ctx := context.Background()
	if d.Entry == nil {
		if r.log.Enabled(ctx, slog.LevelDebug) {
			r.log.Debug("not ours", "indev", p.InDev, "physindev", p.PhysInDev, "mac", p.HwAddr.String(), "kind", responder.Classify(p.Payload))
		}
		return
	}
	res := d.Result
	switch res.Outcome {
	case responder.Spoofed:
		if n, due := r.stats.warn.Due(warnKey{"spoofed", d.Entry.Binding.TAP}); due {
			r.log.Warn("spoofed request dropped", "iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(),
				"bound_mac", d.Entry.Binding.MAC.String(), "kind", res.Kind, "suppressed", n)
		}
	case responder.Limited:
		if n, due := r.stats.warn.Due(warnKey{"limited", d.Entry.Binding.TAP}); due {
			r.log.Warn("requests over the TAP's rate limit dropped", "iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(),
				"kind", res.Kind, "suppressed", n)
		}
	case responder.Malformed:
		if n, due := r.stats.warn.Due(warnKey{"malformed", d.Entry.Binding.TAP}); due {
			r.log.Warn("malformed request dropped", "iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(),
				"kind", res.Kind, "reason", res.Reason, "suppressed", n)
		}
	default:
		if !r.log.Enabled(ctx, slog.LevelDebug) {
			return
		}
		args := []any{"iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(), "kind", res.Kind,
			"xid", fmt.Sprintf("%#x", res.XID), "outcome", res.Outcome}
		if res.Reason != "" {
			args = append(args, "reason", res.Reason)
		}
		if lo := res.LeftOut; lo.Any() {
			args = append(args, "left_out_nameservers", lo.Nameservers, "left_out_domains", lo.Domains, "left_out_options", lo.Options)
		}
		if dl := res.Delegation; dl.Op != responder.NoDelegation {
			args = append(args, "prefixes", dl.Op.String(), "next_hop", dl.NextHop.String())
		}
		r.log.Debug("request", args...)
	}
}
