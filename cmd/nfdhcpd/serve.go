package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Bounds on stopping, so that SIGTERM ends the daemon within a second:
// readers get shutdownGrace to finish; a start-up that is interrupted gets
// startAbortWait to notice (it looks between steps, and an iptables it
// runs is killed) before what it did is undone anyway; undoing (removing
// the netfilter rules, which a held xtables lock can delay for ever) ends
// by stopWithin after the signal.
const (
	shutdownGrace  = 500 * time.Millisecond
	startAbortWait = 300 * time.Millisecond
	stopWithin     = 800 * time.Millisecond
)

// daemon is the running process's state: what serve opened and must close.
type daemon struct {
	cfg      *Config
	status   *statusPipe // the detached child's report to its launcher; nil with -f
	log      *slog.Logger
	logFile  *logFile
	logOut   io.Writer // where the log goes; SIGUSR1's table is written there too
	settings *responder.Settings
	store    *binding.Store
	loader   *loader.Loader // nil in iptables steering
	lcfg     loader.Config
	// templates builds the classifier's answers (see answers), under
	// templatesMu: a Responder is not shared between threads.
	templates   *responder.Responder
	templatesMu sync.Mutex
	sender      *nfq.Sender
	// reconciled holds the entries attached at start, whose Activated
	// changes followBindings then finds already done.
	reconciled map[*binding.Entry]bool
	stats      nfq.Stats

	storeDone    chan error
	readers      []*nfq.Reader
	readerFailed chan error
	readersDone  sync.WaitGroup
	steering     Steering
	acct         account

	// Set up by start, undone by stop: see onUndo. logger is the log once
	// open, for a stop that comes while start still runs.
	undoMu  sync.Mutex
	undos   []func(context.Context)
	stopped bool
	logger  atomic.Pointer[slog.Logger]
}

// serve runs the daemon until SIGTERM or SIGINT. The set-up runs while
// serve waits for signals, so that one which comes during start-up (a
// folder on a hung mount, an xtables lock another program holds, thousands
// of TAPs to attach) stops the daemon within a second, undoing what was
// set up. status, when not nil, learns the start-up's log lines, then
// that the daemon is ready, every existing binding steered and every queue
// read, or why it is not.
func serve(cfg *Config, foreground, debug bool, status *statusPipe) (err error) {
	// The signals are ours from the start: the default action would kill
	// the daemon half set up, with its rules and chain left behind.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sig)
	d := &daemon{cfg: cfg, status: status}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	started := make(chan error, 1)
	go func() { started <- d.start(ctx, foreground, debug) }()
	var held []os.Signal // SIGHUP and SIGUSR1 during start-up, served once ready
	for waiting := true; waiting; {
		select {
		case err := <-started:
			if err != nil {
				cancel()
				d.stop(time.Now().Add(stopWithin))
				d.logf().Error("exiting", "err", err)
				return err
			}
			waiting = false
		case s := <-sig:
			if s == syscall.SIGHUP || s == syscall.SIGUSR1 {
				held = append(held, s)
				continue
			}
			deadline := time.Now().Add(stopWithin)
			d.logf().Info("stopping during start-up", "signal", s.String())
			cancel()
			select {
			case <-started:
			case <-time.After(startAbortWait):
				d.logf().Warn("start-up did not stop; undoing what it set up")
			}
			d.stop(deadline)
			d.logf().Info("stopped")
			// Asked for: not a failure of the daemon's, but its launcher
			// must not report it started.
			if status != nil {
				status.Failed(errStoppedStarting{s})
			}
			return nil
		}
	}

	d.log.Info("ready", "steering", d.steering, "bindings", len(d.store.Entries()),
		"queues", len(d.readers), "user", d.acct.name, "datapath", cfg.General.DataPath)
	if status != nil {
		status.Ready()
	}
	if err := sdNotify("READY=1"); err != nil {
		d.log.Warn("cannot notify systemd", "err", err)
	}
	err = d.waitSignals(sig, held)
	deadline := time.Now().Add(stopWithin)
	sdNotify("STOPPING=1")
	cancel()
	waitTimeout(&d.readersDone, shutdownGrace)
	d.stop(deadline)
	if err != nil {
		d.log.Error("exiting", "err", err)
	}
	d.log.Info("stopped")
	return err
}

// errStoppedStarting is a stop by signal before the daemon was ready.
type errStoppedStarting struct{ sig os.Signal }

func (e errStoppedStarting) Error() string {
	return fmt.Sprintf("stopped by %s during start-up", signalName(e.sig))
}

// signalName is SIGTERM for syscall.SIGTERM ("terminated").
func signalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok && unix.SignalName(n) != "" {
		return unix.SignalName(n)
	}
	return s.String()
}

// start sets the daemon up, step by step, until it serves: as root, what
// needs root; then, as [general] user, everything that reads a binding
// file. Each step that changes the host registers its undo (onUndo). It
// stops early, with ctx's error, once ctx is cancelled.
func (d *daemon) start(ctx context.Context, foreground, debug bool) error {
	cfg := d.cfg
	acct, err := d.account()
	if err != nil {
		return err
	}
	d.acct = acct
	if err := d.openLog(foreground, debug); err != nil {
		return err
	}
	if err := d.lockPidFile(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	d.settings = responderSettings(cfg)
	d.store = binding.NewStore(cfg.General.DataPath, binding.Options{
		Logger:  d.log.With("part", "bindings"),
		Prepare: nfq.Preparer(d.settings, d.log.With("part", "bindings")),
	})
	// Subscribe before the store runs, so that the loader sees every change
	// from the first listing on, also a TAP gone before it attached.
	var changes <-chan binding.Change
	if cfg.General.Steering != SteeringIPTables {
		changes = d.store.Changes()
	}
	if d.steering, err = d.startSteering(ctx, changes); err != nil {
		return err
	}
	if d.sender, err = nfq.OpenSender(); err != nil {
		return err
	}
	d.onUndo(func(context.Context) { d.sender.Close() })
	if d.readers, err = d.openReaders(); err != nil {
		return err
	}
	var serving atomic.Bool // /healthz: ok once ready
	if err := d.startMetrics(ctx, d.steering, &serving); err != nil {
		return err
	}
	d.startDropWatch(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}

	// Root's part ends here: binding files, which the management software
	// writes, are read only as the daemon's user, never as root.
	caps := capsIptables
	if d.loader != nil {
		caps = capsTC
	}
	if err := dropPrivileges(acct, caps); err != nil {
		return fmt.Errorf("switch to user %q: %w", acct.name, err)
	}
	d.storeDone = make(chan error, 1)
	go func() { d.storeDone <- d.store.Run(ctx) }()
	select {
	case <-d.store.Ready():
	case err := <-d.storeDone:
		return fmt.Errorf("bindings: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	if d.loader != nil {
		if err := d.reconcile(ctx); err != nil {
			return err
		}
		d.followSteering(ctx, changes)
	}

	d.readerFailed = make(chan error, len(d.readers))
	for _, r := range d.readers {
		d.readersDone.Add(1)
		go func() {
			defer d.readersDone.Done()
			if err := r.Run(ctx); err != nil {
				d.readerFailed <- err
			}
		}()
	}
	if cfg.IPv6.Enable {
		a := &nfq.Announcer{Bindings: d.store, Settings: d.settings, Sender: d.sender,
			Period: cfg.IPv6.RAPeriod, Stats: &d.stats, Log: d.log.With("part", "ra")}
		d.readersDone.Add(1)
		go func() { defer d.readersDone.Done(); a.Run(ctx) }()
	}
	serving.Store(true)
	return nil
}

// onUndo registers fn, which undoes a step of start, to run at stop, in
// the reverse order of the steps. Registered once stop has run (a step
// that finished after an interrupted start-up gave up on it), fn runs at
// once.
func (d *daemon) onUndo(fn func(context.Context)) {
	d.undoMu.Lock()
	if !d.stopped {
		d.undos = append(d.undos, fn)
		d.undoMu.Unlock()
		return
	}
	d.undoMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopWithin)
	defer cancel()
	fn(ctx)
}

// stop undoes what start set up, newest first, by deadline.
func (d *daemon) stop(deadline time.Time) {
	d.undoMu.Lock()
	defer d.undoMu.Unlock()
	d.stopped = true
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for i := len(d.undos) - 1; i >= 0; i-- {
		d.undos[i](ctx)
	}
	d.undos = nil
}

// logf is the log, once start has opened it; stderr before.
func (d *daemon) logf() *slog.Logger {
	if l := d.logger.Load(); l != nil {
		return l
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func (d *daemon) openLog(foreground, debug bool) error {
	var w io.Writer = os.Stderr
	if !foreground && d.cfg.General.LogDir != "" {
		dir, mine, err := d.ownDir(d.cfg.General.LogDir)
		if err != nil {
			return fmt.Errorf("logdir: %w", err)
		}
		lf, err := openLogFile(dir, d.acct)
		if err != nil {
			return err
		}
		d.logFile, w = lf, lf
		defer func() {
			if !mine {
				d.log.Warn(notHandedOver, "path", dir.Name(), "user", d.acct.name)
			}
		}()
	}
	d.logOut = w
	if d.status != nil {
		// The launcher shows the last line when the start fails or hangs.
		w = teeStatus{w, d.status}
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	d.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	d.logger.Store(d.log)
	return nil
}

// ownDir opens path, the folder of a file the daemon keeps there (its log,
// its pidfile), without following a link its user could have planted,
// creating it if missing. When the daemon will drop to another user, the
// folder is handed to that user if it is the daemon's own (see handOver);
// otherwise the user must already be able to write there, and mine is
// false.
func (d *daemon) ownDir(path string) (dir *os.File, mine bool, err error) {
	dir, created, err := openDir(path, true)
	if err != nil {
		return nil, false, err
	}
	if d.acct.uid == 0 || os.Geteuid() != 0 {
		return dir, true, nil
	}
	ours := []string{logFileName}
	if p := d.cfg.General.PIDFile; p != "" {
		ours = append(ours, filepath.Base(p))
	}
	if mine, err = handOver(dir, created, ours, d.acct); err != nil {
		dir.Close()
		return nil, false, err
	}
	return dir, mine, nil
}

// notHandedOver is the warning for a folder ownDir left as it was.
const notHandedOver = "folder holds other files: not handed to the daemon's user, who may be unable to write there"

// lockPidFile takes the pidfile, refusing to start when another daemon
// holds it.
func (d *daemon) lockPidFile() error {
	path := d.cfg.General.PIDFile
	if path == "" {
		return nil
	}
	dir, mine, err := d.ownDir(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	if !mine {
		d.log.Warn(notHandedOver, "path", dir.Name(), "user", d.acct.name)
	}
	pf, err := lockPidFile(dir, filepath.Base(path))
	if err != nil {
		dir.Close()
		return err
	}
	if pf.replaced != "" {
		d.log.Warn("removed what was at the pidfile's path, not following it", "path", path, "found", pf.replaced)
	}
	if pf.stale {
		args := []any{"path", path}
		if pf.stalePid > 0 {
			args = append(args, "old_pid", pf.stalePid)
		}
		d.log.Warn("took over a stale pidfile (no daemon held its lock)", args...)
	}
	d.onUndo(func(context.Context) {
		if err := pf.Remove(); err != nil {
			d.log.Warn("cannot remove pidfile", "err", err)
		}
	})
	return nil
}

// account is the user to run as.
func (d *daemon) account() (account, error) {
	name := d.cfg.General.User
	if name == "" || name == "root" {
		return account{name: "root"}, nil
	}
	acct, err := lookupUser(name)
	if err != nil {
		return account{}, fmt.Errorf("%s: [general] user: %w", d.cfg.Path, err)
	}
	return acct, nil
}

func (d *daemon) openReaders() ([]*nfq.Reader, error) {
	type q struct {
		name string
		num  int
		on   bool
	}
	queues := []q{
		{"dhcp", d.cfg.DHCP.Queue, d.cfg.DHCP.Enable},
		{"rs", d.cfg.IPv6.RSQueue, d.cfg.IPv6.Enable},
		{"ns", d.cfg.IPv6.NSQueue, d.cfg.IPv6.Enable},
		{"dhcpv6", d.cfg.IPv6.DHCPv6Queue, d.cfg.IPv6.Enable},
	}
	var readers []*nfq.Reader
	for _, q := range queues {
		if !q.on || q.num == NoQueue {
			continue
		}
		// queue_balance: one reader per queue of the kind's range, each
		// with its own Handler (a Responder is not shared between threads).
		n := max(d.cfg.General.QueueBalance, 1)
		for i := range n {
			rc := nfq.ReaderConfig{Name: q.name, Queue: uint16(q.num + i), Balance: n, Index: i}
			if d.loader != nil {
				rc.MarkMask = d.lcfg.MarkMask
			}
			r, err := nfq.OpenReader(rc,
				nfq.NewHandler(d.store, d.settings), d.sender, &d.stats, d.log.With("part", "nfq"))
			if err != nil {
				return nil, err
			}
			readers = append(readers, r)
		}
	}
	return readers, nil
}

// waitSignals serves SIGHUP (rescan bindings, reopen the log) and SIGUSR1
// (log the binding table), first those held during start-up, until
// SIGTERM/SIGINT or a part fails.
func (d *daemon) waitSignals(sig <-chan os.Signal, held []os.Signal) error {
	for _, s := range held {
		d.serveSignal(s)
	}
	for {
		select {
		case s := <-sig:
			if !d.serveSignal(s) {
				d.log.Info("stopping", "signal", s.String())
				return nil
			}
		case err := <-d.storeDone:
			return fmt.Errorf("bindings: %w", err)
		case err := <-d.readerFailed:
			return err
		}
	}
}

// serveSignal acts on SIGHUP and SIGUSR1; it returns false for the others,
// which stop the daemon.
func (d *daemon) serveSignal(s os.Signal) bool {
	switch s {
	case syscall.SIGHUP:
		if d.logFile != nil {
			if err := d.logFile.Reopen(); err != nil {
				d.log.Warn("cannot reopen log", "err", err)
			}
		}
		d.store.Rescan()
		d.log.Info("SIGHUP: rescanning bindings, log reopened")
	case syscall.SIGUSR1:
		d.logTable()
	default:
		return false
	}
	return true
}

// logTable logs the binding table: one row per binding file, in force or
// not and why; aligned columns, or JSON with --json.
func (d *daemon) logTable() {
	rows := d.bindingRows()
	d.log.Info("binding table", "files", len(rows), "active", len(d.store.Entries()))
	if err := writeBindingTable(d.logOut, rows, jsonOutput); err != nil {
		d.log.Warn("cannot write the binding table", "err", err)
	}
}

// responderSettings turns the configuration into the responder's settings.
func responderSettings(cfg *Config) *responder.Settings {
	s := &responder.Settings{
		ServerIP:      cfg.DHCP.ServerIP,
		ServerOnLink:  cfg.DHCP.ServerOnLink,
		LeaseLifetime: uint32(cfg.DHCP.LeaseLifetime / time.Second),
		LeaseRenewal:  uint32(cfg.DHCP.LeaseRenewal / time.Second),
		Nameservers:   cfg.DHCP.Nameservers,
		Domain:        cfg.DHCP.Domain,
		RAPeriod:      uint32(cfg.IPv6.RAPeriod / time.Second),
		Nameservers6:  cfg.IPv6.Nameservers,
		Domains6:      cfg.IPv6.Domains,
	}
	for _, o := range cfg.DHCP.Options {
		s.Options = append(s.Options, responder.Option{Code: o.Code, Data: o.Data})
	}
	switch cfg.IPv6.Mode {
	case ModeSLAAC:
		s.Mode = responder.ModeSLAAC
	case ModeDHCPv6:
		s.Mode = responder.ModeDHCPv6
	default:
		s.Mode = responder.ModeSLAACDHCPv6
	}
	return s
}

// within runs fn, waiting for it until ctx is done.
func within(ctx context.Context, fn func()) {
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
