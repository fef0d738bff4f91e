package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/metrics"
)

// openNFQueue opens the kernel's NFQUEUE counters for the metrics and the
// drop watch. They are root-only (0440), so this runs before the daemon
// drops root; without them neither reports NFQUEUE drops.
func (d *daemon) openNFQueue(ctx context.Context) {
	q, err := metrics.OpenNFQueue(metrics.ProcNFQueue)
	if err != nil {
		d.log.Warn("no NFQUEUE drop counters: neither /metrics nor the log will report queue overflows", "err", err)
		return
	}
	d.nfqueue = q
	go func() { <-ctx.Done(); q.Close() }()
}

// startMetrics binds [general] metrics_listen when it is set and serves
// /metrics, /healthz and /bindings until ctx ends. It runs before the daemon
// drops root, so that a port below 1024 binds too. /healthz answers 503
// until ready is set.
func (d *daemon) startMetrics(ctx context.Context, steering config.Steering, ready *atomic.Bool) error {
	addr := d.cfg.General.MetricsListen
	if addr == "" {
		return nil
	}
	src := &metrics.Sources{
		Version:  buildVersion(),
		Steering: string(steering),
		Stats:    &d.stats,
		Bindings: d.store,
		Queues:   d.cfg.Steered().Names(),
		Routes:   d.routes,
		Log:      d.log.With("part", "metrics"),
		Health: func() error {
			if !ready.Load() {
				return errors.New("starting")
			}
			return nil
		},
	}
	if d.loader != nil {
		src.Classifier, src.Method = d.loader.Stats, d.loader.Method
	}
	if d.nfqueue != nil {
		src.NFQueue = d.nfqueue
	}
	srv, err := metrics.Listen(addr, metrics.NewHandler(src))
	if err != nil {
		return err
	}
	go func() {
		if err := srv.Serve(ctx); err != nil {
			d.log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	d.log.Info("metrics", "listen", srv.Addr().String())
	if srv.Public() {
		d.log.Warn("metrics_listen is not a loopback address: /metrics and /bindings (every VM's MAC and addresses) are open to whoever can reach it",
			"listen", srv.Addr().String())
	}
	return nil
}

// bindingRows is the binding table SIGUSR1 logs and /bindings serves.
func (d *daemon) bindingRows() []metrics.BindingRow {
	var method func(int) string
	if d.loader != nil {
		method = d.loader.Method
	}
	return metrics.Rows(d.store, method, d.routes)
}
