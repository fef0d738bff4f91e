package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/config"
)

// /bindings lists every VM's MAC and addresses: the daemon warns at start
// when metrics_listen is reachable beyond the host, and only then.
func TestMetricsListenWarning(t *testing.T) {
	const warning = "metrics_listen is not a loopback address"
	for _, tt := range []struct {
		listen string
		warns  bool
	}{
		{"127.0.0.1:0", false},
		{"[::1]:0", false},
		{"localhost:0", false},
		{"0.0.0.0:0", true},
		{"[::]:0", true},
		{":0", true},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := &config.Config{}
			cfg.General.MetricsListen = tt.listen
			d := &daemon{cfg: cfg, log: slog.New(slog.NewTextHandler(&buf, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := d.startMetrics(ctx, config.SteeringIPTables, new(atomic.Bool)); err != nil {
				t.Fatal(err)
			}
			want := 0
			if tt.warns {
				want = 1
			}
			if got := strings.Count(buf.String(), warning); got != want {
				t.Errorf("warned %d times, want %d; log:\n%s", got, want, buf.String())
			}
		})
	}
}
