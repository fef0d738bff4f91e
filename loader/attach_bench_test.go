package loader

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkAttach measures Attach on a fresh TAP (the part of "binding
// written -> classifier attached" that is ours), per method. Detach runs
// with the timer stopped. RTNL contention from other netns work on the
// host shows up here as outliers; attach-max reports the worst.
func BenchmarkAttach(b *testing.B) {
	for _, mode := range []AttachMode{AttachTCX, AttachTC} {
		b.Run(mode.String(), func(b *testing.B) {
			lab := newLab(b)
			host, _ := lab.veth(b, "tap0", "vm0", vmMAC)
			cfg := lab.config(b, mode)
			cfg.Logger = slog.New(slog.DiscardHandler)
			l, err := Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ifc := Iface{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}
			var worst time.Duration
			for b.Loop() {
				start := time.Now()
				if err := l.Attach(ifc); err != nil {
					b.Fatal(err)
				}
				worst = max(worst, time.Since(start))
				b.StopTimer()
				if err := l.Detach(ifc.Index, ifc.Name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(worst.Microseconds()), "attach-max-µs")
		})
	}
}
