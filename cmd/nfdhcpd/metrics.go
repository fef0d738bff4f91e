package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/nfdhcpd/nfdhcpd/metrics"
)

// startMetrics binds [general] metrics_listen when it is set and serves
// /metrics, /healthz and /bindings until ctx ends. It runs before the daemon
// drops root, so that a port below 1024 binds too. /healthz answers 503
// until ready is set.
func (d *daemon) startMetrics(ctx context.Context, steering Steering, ready *atomic.Bool) error {
	addr := d.cfg.General.MetricsListen
	if addr == "" {
		return nil
	}
	src := &metrics.Sources{
		Version:  buildVersion(),
		Steering: string(steering),
		Stats:    &d.stats,
		Bindings: d.store,
		Queues:   d.queueKinds(),
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
	// Root-only (0440): opened now, before the daemon drops root.
	if q, err := metrics.OpenNFQueue(metrics.ProcNFQueue); err != nil {
		d.log.Warn("no NFQUEUE drop counters", "err", err)
	} else {
		src.NFQueue = q
		go func() { <-ctx.Done(); q.Close() }()
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
	return nil
}

// queueKinds names every queue the daemon reads by its kind, for the
// NFQUEUE drop counters.
func (d *daemon) queueKinds() map[uint16]string {
	q := d.queues()
	out := make(map[uint16]string)
	for _, k := range []struct {
		name string
		num  int
	}{{"dhcp", q.DHCP}, {"rs", q.RS}, {"ns", q.NS}, {"dhcpv6", q.DHCPv6}} {
		if k.num < 0 {
			continue
		}
		for i := range max(q.Balance, 1) {
			out[uint16(k.num+i)] = k.name
		}
	}
	return out
}

// bindingRows is the binding table SIGUSR1 logs and /bindings serves.
func (d *daemon) bindingRows() []metrics.BindingRow {
	var method func(int) string
	if d.loader != nil {
		method = d.loader.Method
	}
	return metrics.Rows(d.store, method)
}
