package nfq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

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
}

// Reader serves one NFQUEUE queue: every packet gets a verdict, ours get a reply.
type Reader struct {
	cfg     ReaderConfig
	handler *Handler
	sender  *Sender
	stats   *Stats
	log     *slog.Logger
	nf      *nfqueue.Nfqueue
	failed  chan error
}

// OpenReader binds the queue: copy-packet mode, fail-open (the kernel accepts
// packets it cannot queue, so a slow or dead daemon never blackholes a VM), and
// no ENOBUFS errors on overrun (those packets are the kernel's to fail open).
func OpenReader(cfg ReaderConfig, h *Handler, s *Sender, st *Stats, log *slog.Logger) (*Reader, error) {
	if cfg.MaxQueueLen == 0 {
		cfg.MaxQueueLen = DefaultMaxQueueLen
	}
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      cfg.Queue,
		MaxPacketLen: 0xffff,
		MaxQueueLen:  cfg.MaxQueueLen,
		Copymode:     nfqueue.NfQnlCopyPacket,
		Flags:        nfqueue.NfQaCfgFlagFailOpen,
		WriteTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s queue %d: %w", cfg.Name, cfg.Queue, err)
	}
	if err := nf.SetOption(netlink.NoENOBUFS, true); err != nil {
		nf.Close()
		return nil, fmt.Errorf("%s queue %d: set NETLINK_NO_ENOBUFS: %w", cfg.Name, cfg.Queue, err)
	}
	return &Reader{
		cfg: cfg, handler: h, sender: s, stats: st, nf: nf,
		log:    log.With("queue", cfg.Queue, "qname", cfg.Name),
		failed: make(chan error, 1),
	}, nil
}

// Run binds the queue and serves it until ctx is done or the socket fails.
func (r *Reader) Run(ctx context.Context) error {
	defer r.nf.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.nf.RegisterWithErrorFunc(ctx, r.packet, r.readError); err != nil {
		return fmt.Errorf("bind %s queue %d: %w", r.cfg.Name, r.cfg.Queue, err)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-r.failed:
		return fmt.Errorf("%s queue %d: %w", r.cfg.Name, r.cfg.Queue, err)
	}
}

func (r *Reader) readError(err error) int {
	var op *netlink.OpError
	if errors.As(err, &op) && (op.Timeout() || errors.Is(op.Err, unix.ENOBUFS)) {
		return 0 // read deadline at shutdown, or an overrun the kernel already failed open
	}
	if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EINTR) {
		return 0
	}
	select {
	case r.failed <- err:
	default:
	}
	return 1
}

// packet runs on go-nfqueue's receive goroutine: it must never block for long.
func (r *Reader) packet(a nfqueue.Attribute) int {
	if a.PacketID == nil {
		return 0
	}
	p := Packet{ID: *a.PacketID}
	if a.InDev != nil {
		p.InDev = *a.InDev
	}
	if a.PhysInDev != nil {
		p.PhysInDev = *a.PhysInDev
	}
	if a.HwAddr != nil && len(*a.HwAddr) >= 6 {
		p.HwAddr = net.HardwareAddr((*a.HwAddr)[:6])
	}
	if a.Payload != nil {
		p.Payload = *a.Payload
	}
	start := time.Now()
	d := r.handler.Handle(p)
	var sendErr error
	if d.Result.Frame != nil {
		sendErr = r.sender.Send(d.Entry.TAP.Index, d.Result.Frame)
	}
	var verdictErr error
	switch {
	case d.Verdict == Drop:
		verdictErr = r.nf.SetVerdict(p.ID, nfqueue.NfDrop)
	case r.cfg.MarkMask != 0 && a.Mark != nil:
		verdictErr = r.nf.SetVerdictWithOption(p.ID, nfqueue.NfRepeat, nfqueue.WithMark(*a.Mark&^r.cfg.MarkMask))
	default:
		verdictErr = r.nf.SetVerdict(p.ID, nfqueue.NfAccept)
	}
	r.stats.record(d, sendErr, verdictErr, time.Since(start))
	r.logDecision(p, d, sendErr, verdictErr)
	return 0
}

func (r *Reader) logDecision(p Packet, d Decision, sendErr, verdictErr error) {
	ctx := context.Background()
	switch {
	case verdictErr != nil:
		r.stats.warnOnce(r.log, "verdict", "cannot set verdict", "err", verdictErr)
		return
	case sendErr != nil:
		r.stats.warnOnce(r.log, "send", "cannot send reply", "iface", d.Entry.Binding.TAP, "err", sendErr)
		return
	}
	if d.Entry == nil {
		if r.log.Enabled(ctx, slog.LevelDebug) {
			r.log.Debug("not ours", "indev", p.InDev, "physindev", p.PhysInDev, "mac", p.HwAddr.String(), "kind", responder.Classify(p.Payload))
		}
		return
	}
	res := d.Result
	switch res.Outcome {
	case responder.Spoofed:
		r.stats.warnOnce(r.log, "spoofed:"+d.Entry.Binding.TAP, "spoofed request dropped",
			"iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(), "bound_mac", d.Entry.Binding.MAC.String(), "kind", res.Kind)
	case responder.Malformed:
		r.stats.warnOnce(r.log, "malformed:"+d.Entry.Binding.TAP, "malformed request dropped",
			"iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(), "kind", res.Kind, "reason", res.Reason)
	default:
		if !r.log.Enabled(ctx, slog.LevelDebug) {
			return
		}
		args := []any{"iface", d.Entry.Binding.TAP, "mac", res.ClientMAC.String(), "kind", res.Kind,
			"xid", fmt.Sprintf("%#x", res.XID), "outcome", res.Outcome}
		if res.Reason != "" {
			args = append(args, "reason", res.Reason)
		}
		r.log.Debug("request", args...)
	}
}
