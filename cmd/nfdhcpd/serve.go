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
	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/metrics"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
	"github.com/nfdhcpd/nfdhcpd/route"
)

// Shares of --stop-timeout, so that SIGTERM ends the daemon within it:
// readers get shutdownGrace to finish; a start-up that is interrupted gets
// startAbortWait to notice (it looks between steps, and an iptables it
// runs is killed) before what it did is undone anyway; undoing (removing
// the netfilter rules, which a held xtables lock can delay for ever) ends
// by the whole timeout after the signal.
func (o serveOptions) shutdownGrace() time.Duration  { return o.StopTimeout * 5 / 8 }
func (o serveOptions) startAbortWait() time.Duration { return o.StopTimeout * 3 / 8 }

// serveOptions are the command line's part in serving.
type serveOptions struct {
	Foreground bool // log to stderr, not logdir
	Debug      bool // log every request and binding change
	JSON       bool // SIGUSR1's table as one JSON line
	// StopTimeout bounds a stop, from the signal to the exit.
	StopTimeout time.Duration
}

// daemon is the running process's state: what serve opened and must close.
type daemon struct {
	cfg      *config.Config
	opts     serveOptions
	status   *statusPipe // the detached child's report to its launcher; nil with -f
	log      *slog.Logger
	logFile  *logFile
	logOut   io.Writer // where the log goes; SIGUSR1's table is written there too
	settings *responder.Settings
	store    *binding.Store
	loader   *loader.Loader // nil in iptables steering
	lcfg     loader.Config
	sender   *nfq.Sender
	// announcer sends unsolicited RAs, periodic and on arrival; nil with
	// IPv6 off.
	announcer *nfq.Announcer
	// foundAtStart holds the entries active when the store was first
	// ready, whose Activated changes followBindings then finds are no
	// arrivals.
	foundAtStart map[*binding.Entry]bool
	routes       *route.Owner // the routes of delegated prefixes
	// templates builds the classifier's answers (see answers), under
	// templatesMu: a Responder is not shared between threads.
	templates   *responder.Responder
	templatesMu sync.Mutex
	// reconciled holds the entries attached at start, whose Activated
	// changes followBindings then finds already done.
	reconciled map[*binding.Entry]bool
	stats      nfq.Stats
	nfqueue    *metrics.NFQueueFile // nil when it could not be opened

	storeDone    chan error
	readers      []*nfq.Reader
	readerFailed chan error
	readersDone  sync.WaitGroup
	steering     config.Steering
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
func serve(cfg *config.Config, opts serveOptions, status *statusPipe) (err error) {
	// The signals are ours from the start: the default action would kill
	// the daemon half set up, with its rules and chain left behind.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sig)
	d := &daemon{cfg: cfg, opts: opts, status: status}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	started := make(chan error, 1)
	go func() { started <- d.start(ctx) }()
	var held []os.Signal // SIGHUP and SIGUSR1 during start-up, served once ready
	for waiting := true; waiting; {
		select {
		case err := <-started:
			if err != nil {
				cancel()
				d.stop(time.Now().Add(d.opts.StopTimeout))
				d.logf().Error("exiting", "err", err)
				return err
			}
			waiting = false
		case s := <-sig:
			if s == syscall.SIGHUP || s == syscall.SIGUSR1 {
				held = append(held, s)
				continue
			}
			deadline := time.Now().Add(d.opts.StopTimeout)
			d.logf().Info("stopping during start-up", "signal", s.String())
			cancel()
			select {
			case <-started:
			case <-time.After(d.opts.startAbortWait()):
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
	deadline := time.Now().Add(d.opts.StopTimeout)
	sdNotify("STOPPING=1")
	cancel()
	waitTimeout(&d.readersDone, d.opts.shutdownGrace())
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
func (d *daemon) start(ctx context.Context) error {
	serving, changes, err := d.openAsRoot(ctx)
	if err != nil {
		return err
	}
	// Root's part ends here: binding files, which the management software
	// writes, are read only as the daemon's user, never as root.
	caps := capsIptables
	if d.loader != nil {
		caps = capsTC
	}
	if err := dropPrivileges(d.acct, caps); err != nil {
		return fmt.Errorf("switch to user %q: %w", d.acct.name, err)
	}
	if err := d.loadBindings(ctx); err != nil {
		return err
	}
	if d.steering == config.SteeringIPTables {
		d.warnBridgeSpoofing()
	}
	d.run(ctx, changes)
	serving.Store(true)
	return nil
}

// openAsRoot opens what needs root: the log, the pidfile, the steering,
// the queues, the sockets and the metrics endpoint. It returns /healthz's
// flag, ok once ready, and the store's changes, subscribed to before the
// store runs.
func (d *daemon) openAsRoot(ctx context.Context) (*atomic.Bool, <-chan binding.Change, error) {
	cfg := d.cfg
	acct, err := d.account()
	if err != nil {
		return nil, nil, err
	}
	d.acct = acct
	if err := d.openLog(); err != nil {
		return nil, nil, err
	}
	if err := d.lockPidFile(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	d.settings = cfg.Responder()
	d.store = binding.NewStore(cfg.General.DataPath, binding.Options{
		Logger:  d.log.With("part", "bindings"),
		Prepare: nfq.Preparer(d.settings, d.log.With("part", "bindings")),
	})
	// Delegated prefixes are routed (or, with pd_routes = no or IPv6 off,
	// routes of ours left from before are removed) from when the bindings
	// are loaded.
	d.routes = route.New(route.Options{Kernel: route.Netlink{}, Bindings: d.store, Changed: d.store.Notify(),
		Routes: cfg.IPv6.Enable && cfg.IPv6.PDRoutes, Lifetime: cfg.IPv6.PDLifetime, Log: d.log.With("part", "routes")})
	// Subscribe before the store runs, so that followBindings sees every
	// change from the first listing on, also a TAP gone before it attached.
	changes := d.store.Changes()
	if d.steering, err = d.startSteering(ctx); err != nil {
		return nil, nil, err
	}
	if d.sender, err = nfq.OpenSender(); err != nil {
		return nil, nil, err
	}
	d.onUndo(func(context.Context) { d.sender.Close() })
	if d.readers, err = d.openReaders(); err != nil {
		return nil, nil, err
	}
	serving := new(atomic.Bool)
	d.openNFQueue(ctx)
	if err := d.startMetrics(ctx, d.steering, serving); err != nil {
		return nil, nil, err
	}
	d.startDropWatch(ctx)
	return serving, changes, ctx.Err()
}

// loadBindings reads every binding file, as the daemon's user, and in tc
// steering attaches the classifier to their TAPs.
func (d *daemon) loadBindings(ctx context.Context) error {
	d.storeDone = make(chan error, 1)
	go func() { d.storeDone <- d.store.Run(ctx) }()
	select {
	case <-d.store.Ready():
	case err := <-d.storeDone:
		return fmt.Errorf("bindings: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	d.foundAtStart = map[*binding.Entry]bool{}
	for _, e := range d.store.Entries() {
		d.foundAtStart[e] = true
	}
	if d.loader != nil {
		if err := d.reconcile(ctx); err != nil {
			return err
		}
		d.upgradeSteering(ctx)
	}
	return nil
}

// run starts serving: the binding follower, the route owner, a reader per
// queue and the RA announcer.
func (d *daemon) run(ctx context.Context, changes <-chan binding.Change) {
	if d.cfg.IPv6.Enable {
		d.announcer = &nfq.Announcer{Bindings: d.store, Settings: d.settings, Sender: d.sender,
			Period: d.cfg.IPv6.RAPeriod, Stats: &d.stats, Log: d.log.With("part", "ra")}
	}
	go d.followBindings(ctx, changes)
	// Route changes need CAP_NET_ADMIN, which the daemon keeps.
	d.readersDone.Add(1)
	go func() { defer d.readersDone.Done(); d.routes.Run(ctx) }()

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
	if d.announcer != nil {
		d.readersDone.Add(1)
		go func() { defer d.readersDone.Done(); d.announcer.Run(ctx) }()
	}
}

// followBindings takes each binding change in order: in tc steering the
// classifier is attached or detached first, so that the VM's answer to an
// RA on arrival (an RS, a Solicit) is steered; then the announcer learns
// of it, for the RAs on arrival.
//
// A binding found at start is no arrival: its VM was there before the
// daemon, and still has the router it had (the same address, the same
// DUID); the periodic round, which starts at once, reaches it. So a
// restart with 10,000 bindings sends no RAs on arrival at all, and a VM
// that moves while the daemon is down waits for that round, or solicits.
func (d *daemon) followBindings(ctx context.Context, changes <-chan binding.Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-changes:
			if d.loader != nil {
				d.steer(c)
			}
			if c.Kind == binding.Activated && d.foundAtStart[c.Entry] {
				delete(d.foundAtStart, c.Entry)
				continue
			}
			if d.announcer != nil {
				d.announcer.Follow(c)
			}
		}
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.StopTimeout)
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

func (d *daemon) openLog() error {
	var w io.Writer = os.Stderr
	if !d.opts.Foreground && d.cfg.General.LogDir != "" {
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
	if d.opts.Debug {
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
	q := d.cfg.Steered()
	var readers []*nfq.Reader
	// In iptables steering no classifier limits a VM's requests: the
	// readers keep the same per-TAP bucket themselves, one for all kinds.
	var limit *nfq.Limiter
	if d.loader == nil {
		rl := d.cfg.General.RateLimit
		limit = nfq.NewLimiter(rl.PerSecond, rl.Burst)
	}
	for i, k := range loader.KindTable {
		if q.Num[i] == loader.NoQueue {
			continue
		}
		// queue_balance: one reader per queue of the kind's range, each
		// with its own Handler (a Responder is not shared between threads).
		n := max(q.Balance, 1)
		for j := range n {
			rc := nfq.ReaderConfig{Name: k.Name, Queue: uint16(q.Num[i] + j), Balance: n, Index: j, Delegations: d.routes}
			if d.loader != nil {
				rc.MarkMask = d.lcfg.MarkMask
			}
			h := nfq.NewHandler(d.store, d.settings)
			h.Limit = limit
			r, err := nfq.OpenReader(rc, h, d.sender, &d.stats, d.log.With("part", "nfq"))
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
	if err := metrics.WriteTable(d.logOut, rows, d.opts.JSON); err != nil {
		d.log.Warn("cannot write the binding table", "err", err)
	}
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
