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

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// shutdownGrace bounds how long readers get to finish at exit, so SIGTERM
// ends the daemon within a second.
const shutdownGrace = 700 * time.Millisecond

// daemon is the running process's state: what serve opened and must close.
type daemon struct {
	cfg      *Config
	log      *slog.Logger
	logFile  *logFile
	logOut   io.Writer // where the log goes; SIGUSR1's table is written there too
	settings *responder.Settings
	store    *binding.Store
	loader   *loader.Loader // nil in iptables steering
	lcfg     loader.Config
	sender   *nfq.Sender
	// reconciled holds the entries attached at start, whose Activated
	// changes followBindings then finds already done.
	reconciled map[*binding.Entry]bool
	stats      nfq.Stats
}

// serve runs the daemon until SIGTERM or SIGINT. ready, when not nil, is
// called once every existing binding is steered and every queue is read.
func serve(cfg *Config, foreground, debug bool, ready func()) (err error) {
	// The signals are ours from the start: one that comes while the daemon
	// sets up waits here for waitSignals, instead of killing it half set up
	// (the default action) with its rules and chain left behind.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sig)
	d := &daemon{cfg: cfg}
	if err := d.openLog(foreground, debug); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.log.Error("exiting", "err", err)
		}
	}()
	acct, err := d.account()
	if err != nil {
		return err
	}
	if cfg.General.PIDFile != "" {
		if err := makeDir(filepath.Dir(cfg.General.PIDFile), acct); err != nil {
			return err
		}
		pf, err := lockPidFile(cfg.General.PIDFile)
		if err != nil {
			return err
		}
		if pf.stale != "" {
			d.log.Warn("took over a stale pidfile (no daemon held its lock)", "path", cfg.General.PIDFile, "old_pid", pf.stale)
		}
		defer func() {
			if err := pf.Remove(); err != nil {
				d.log.Warn("cannot remove pidfile", "err", err)
			}
		}()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	storeDone := make(chan error, 1)
	go func() { storeDone <- d.store.Run(ctx) }()
	select {
	case <-d.store.Ready():
	case err := <-storeDone:
		return fmt.Errorf("bindings: %w", err)
	}

	steering, err := d.startSteering(ctx, changes, acct)
	if err != nil {
		return err
	}
	if d.loader != nil {
		defer d.stopSteering()
	}

	if d.sender, err = nfq.OpenSender(); err != nil {
		return err
	}
	defer d.sender.Close()
	readers, err := d.openReaders()
	if err != nil {
		return err
	}
	var serving atomic.Bool // /healthz: ok once ready
	if err := d.startMetrics(ctx, steering, &serving); err != nil {
		return err
	}
	d.startDropWatch(ctx)
	caps := capsIptables
	if d.loader != nil {
		caps = capsTC
	}
	if err := dropPrivileges(acct, caps); err != nil {
		return fmt.Errorf("switch to user %q: %w", acct.name, err)
	}
	if d.loader != nil {
		d.followSteering(ctx, changes)
	}

	var wg sync.WaitGroup
	readerFailed := make(chan error, len(readers))
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				readerFailed <- err
			}
		}()
	}
	if cfg.IPv6.Enable {
		a := &nfq.Announcer{Bindings: d.store, Settings: d.settings, Sender: d.sender,
			Period: cfg.IPv6.RAPeriod, Stats: &d.stats, Log: d.log.With("part", "ra")}
		wg.Add(1)
		go func() { defer wg.Done(); a.Run(ctx) }()
	}

	d.log.Info("ready", "steering", steering, "bindings", len(d.store.Entries()),
		"queues", len(readers), "user", acct.name, "datapath", cfg.General.DataPath)
	if ready != nil {
		ready()
	}
	serving.Store(true)
	if err := sdNotify("READY=1"); err != nil {
		d.log.Warn("cannot notify systemd", "err", err)
	}
	err = d.waitSignals(sig, storeDone, readerFailed)
	sdNotify("STOPPING=1")
	cancel()
	waitTimeout(&wg, shutdownGrace)
	d.log.Info("stopped")
	return err
}

func (d *daemon) openLog(foreground, debug bool) error {
	var w io.Writer = os.Stderr
	if !foreground && d.cfg.General.LogDir != "" {
		if err := os.MkdirAll(d.cfg.General.LogDir, 0o755); err != nil {
			return fmt.Errorf("logdir: %w", err)
		}
		lf, err := openLogFile(filepath.Join(d.cfg.General.LogDir, "nfdhcpd.log"))
		if err != nil {
			return err
		}
		d.logFile, w = lf, lf
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	d.logOut = w
	d.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	return nil
}

// account is the user to run as; its log and pid folders must be its own
// so that it can reopen and remove files there after dropping root.
func (d *daemon) account() (account, error) {
	name := d.cfg.General.User
	if name == "" || name == "root" {
		return account{name: "root"}, nil
	}
	acct, err := lookupUser(name)
	if err != nil {
		return account{}, fmt.Errorf("%s: [general] user: %w", d.cfg.Path, err)
	}
	if d.logFile != nil {
		os.Chown(d.cfg.General.LogDir, acct.uid, acct.gid)
		os.Chown(d.logFile.path, acct.uid, acct.gid)
	}
	return acct, nil
}

// makeDir creates dir if missing, owned by acct when it creates it.
func makeDir(dir string, acct account) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chown(dir, acct.uid, acct.gid)
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
// (log the binding table) until SIGTERM/SIGINT or a part fails.
func (d *daemon) waitSignals(sig <-chan os.Signal, storeDone, readerFailed <-chan error) error {
	for {
		select {
		case s := <-sig:
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
				d.log.Info("stopping", "signal", s.String())
				return nil
			}
		case err := <-storeDone:
			return fmt.Errorf("bindings: %w", err)
		case err := <-readerFailed:
			return err
		}
	}
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

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
