package bench

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// ScaleResult is what TestScale measured.
type ScaleResult struct {
	Bindings       int     `json:"bindings"`
	Attach         string  `json:"attach"`
	ReadyS         float64 `json:"start_to_ready_s"`
	SteeredS       float64 `json:"start_to_all_steered_s"`
	SteeredTCX     int     `json:"steered_tcx"`
	SteeredClsBPF  int     `json:"steered_cls_bpf"`
	FirstAnswerN   int     `json:"first_answer_samples"`
	FirstAnswerP50 float64 `json:"write_to_first_answer_p50_ms"`
	FirstAnswerP99 float64 `json:"write_to_first_answer_p99_ms"`
	RSSMiB         float64 `json:"rss_mib"`
	ScrapeMs       float64 `json:"metrics_scrape_ms"` // one /metrics, every TAP's attachment asked of the kernel
	// In auto mode a bulk start steers with cls_bpf and moves the TAPs to
	// TCX in the background: how long that took from the start, and how
	// many were moved (0 and "" when nothing was to move or the wait ran
	// out, see UpgradeState).
	UpgradeS     float64 `json:"start_to_all_tcx_s,omitempty"`
	UpgradeMoved int     `json:"moved_to_tcx,omitempty"`
	UpgradeState string  `json:"upgrade"`
	// A restart of the daemon with every TAP steered: from its start to
	// every attachment checked and kept, and how they were attached.
	RestartS      float64 `json:"restart_to_all_steered_s"`
	RestartTCX    int     `json:"restart_tcx"`
	RestartClsBPF int     `json:"restart_cls_bpf"`
}

// TestScale starts nfdhcpd (tc steering) with one binding per TAP on
// 10,000 TAPs and measures how long it takes until every TAP is steered
// (the daemon reports every attachment made, and the classifier's pinned
// map holds them all), how long a binding written afterwards takes to be
// answered, and the daemon's resident memory; then, in auto mode, how long
// the background move to TCX takes.
func TestScale(t *testing.T) {
	requireBench(t)
	l := lab.New(t)
	lab.RequireTools(t, "iptables-restore")
	bin := lab.Binary(t)
	total := envInt("BENCH_SCALE_TAPS", 10000)
	samples := min(envInt("BENCH_SCALE_SAMPLES", 100), total)
	quiet := total - samples

	// The quiet TAPs exist, up as a VM's would be, and are bound before
	// the start; the sampled ones are opened by the generator and bound
	// one at a time afterwards.
	created := time.Now()
	var batch strings.Builder
	for i := samples; i < total; i++ {
		fmt.Fprintf(&batch, "tuntap add dev %[1]s mode tap\nlink set dev %[1]s up\n", vmAt(i).TAP)
	}
	l.Host("ip", "-batch", l.WriteFile("scale.batch", batch.String()))
	taps := make([]TAP, samples)
	for i := range taps {
		taps[i] = openTAP(t, l, vmAt(i))
	}
	t.Logf("%d TAPs created in %v", total, time.Since(created).Round(time.Millisecond))

	pin := l.BPFFS()
	attach := cmp.Or(os.Getenv("BENCH_SCALE_ATTACH"), "auto")
	const metrics = "127.0.0.1:9367"
	conf, datapath := l.SeedConfig("steering", "tc", "bpf_pin_path", pin, "user", "root", "attach", attach,
		"metrics_listen", metrics)
	for i := samples; i < total; i++ {
		vm := vmAt(i)
		if err := lab.WriteBinding(datapath, vm.TAP, vm.Binding()); err != nil {
			t.Fatal(err)
		}
	}

	// Slowness is a result here, not a failure: past the wait the run
	// reports how far steering got and stops.
	wait := envDuration("BENCH_SCALE_WAIT", 2*time.Minute)
	start := time.Now()
	t.Logf("daemon started at %s", start.UTC().Format("15:04:05.000"))
	p, err := StartProcess("nfdhcpd", l.HostNS, "", 0, daemonArgs(bin, "-c", conf, "-f")...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	r := ScaleResult{Bindings: total, Attach: attach}
	const (
		msgReady    = `msg=ready`
		msgAttached = `msg="classifier attached"`
		msgMoved    = `msg="moved cls_bpf attachments to tcx"`
		msgNoTCX    = `msg="tcx unsupported, staying on cls_bpf"`
	)
	log := newLogWatch(p, msgReady, msgAttached, msgMoved, msgNoTCX)
	var ready, steered time.Duration
	for ready == 0 || steered == 0 {
		if _, ok := log.line(msgReady); ok && ready == 0 {
			ready = time.Since(start)
		}
		if steered == 0 {
			if line, ok := log.line(msgAttached); ok {
				steered = time.Since(start)
				r.SteeredTCX, r.SteeredClsBPF = logInt(line, "tcx"), logInt(line, "cls_bpf")
			}
		}
		if time.Since(start) > wait {
			rss, _ := p.RSS()
			fmt.Printf("\nscale: %d bindings: after %v still attaching (ready %v); RSS %.1f MiB; stopped there\n",
				total, wait, ready != 0, float64(rss)/(1<<20))
			if out := os.Getenv("BENCH_OUT"); out != "" {
				writeJSON(t, filepath.Join(filepath.Dir(out), "bench-scale.json"), map[string]any{
					"bindings": total, "attach": attach, "waited_s": wait.Seconds(), "ready": ready != 0, "rss_mib": float64(rss) / (1 << 20)})
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Untimed: the daemon's count is what the kernel and the map hold.
	if n := r.SteeredTCX + r.SteeredClsBPF; n != quiet {
		t.Errorf("daemon reports %d TAPs attached (%d tcx, %d cls_bpf), want %d", n, r.SteeredTCX, r.SteeredClsBPF, quiet)
	}
	if ifaces, err := loader.PinnedIfaces(pin); err != nil || len(ifaces) != quiet {
		t.Errorf("classifier map holds %d TAPs (%v), want %d", len(ifaces), err, quiet)
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		t.Logf("nfdhcpd start:\n%s", p.Output())
	}

	var firsts []time.Duration
	for _, tap := range taps {
		written := time.Now()
		if err := lab.WriteBinding(datapath, tap.VM.TAP, tap.VM.Binding()); err != nil {
			t.Fatal(err)
		}
		if _, err := ProbeEvery(tap, Discover, time.Millisecond, 5*time.Second); err != nil {
			t.Fatalf("binding %s written: %v\n%s", tap.VM.TAP, err, p.Output())
		}
		firsts = append(firsts, time.Since(written))
	}
	slices.Sort(firsts)
	rss, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}
	r.ReadyS, r.SteeredS, r.FirstAnswerN = ready.Seconds(), steered.Seconds(), len(firsts)
	r.FirstAnswerP50, r.FirstAnswerP99 = ms(firsts[len(firsts)/2]), ms(firsts[(len(firsts)*99-1)/100])
	r.RSSMiB = float64(rss) / (1 << 20)
	scraped := time.Now()
	if code, body, err := l.HTTPGet("http://" + metrics + "/metrics"); err != nil || code != 200 {
		t.Errorf("scrape /metrics: %d %v", code, err)
	} else if !strings.Contains(body, "nfdhcpd_") {
		t.Errorf("scrape /metrics: no nfdhcpd metrics in %d bytes", len(body))
	}
	r.ScrapeMs = ms(time.Since(scraped))

	r.UpgradeState = "none"
	if r.SteeredClsBPF > 0 && attach == "auto" {
		r.UpgradeState = "unfinished"
		upWait := envDuration("BENCH_SCALE_UPGRADE_WAIT", 5*time.Minute)
		for time.Since(start) < upWait {
			if line, ok := log.line(msgMoved); ok {
				r.UpgradeS, r.UpgradeMoved, r.UpgradeState = time.Since(start).Seconds(), logInt(line, "taps"), "done"
				break
			}
			if _, ok := log.line(msgNoTCX); ok {
				r.UpgradeState = "tcx unsupported"
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	r.RestartS, r.RestartTCX, r.RestartClsBPF = restartSteered(t, p, daemonArgs(bin, "-c", conf, "-f"))
	if n := r.RestartTCX + r.RestartClsBPF; n != total {
		t.Errorf("after a restart the daemon reports %d TAPs attached, want %d", n, total)
	}

	fmt.Printf("\nscale: %d bindings, attach %s: start to ready %.2f s, to all %d steered %.2f s (%d tcx, %d cls_bpf); "+
		"binding write to first answer p50 %.1f ms p99 %.1f ms (%d samples); RSS %.1f MiB; /metrics in %.0f ms; move to tcx: %s",
		total, attach, r.ReadyS, quiet, r.SteeredS, r.SteeredTCX, r.SteeredClsBPF,
		r.FirstAnswerP50, r.FirstAnswerP99, r.FirstAnswerN, r.RSSMiB, r.ScrapeMs, r.UpgradeState)
	if r.UpgradeState == "done" {
		fmt.Printf(", %d TAPs, all on tcx %.1f s after the start", r.UpgradeMoved, r.UpgradeS)
	}
	fmt.Printf("; restarted: all steered %.2f s after (%d tcx, %d cls_bpf)\n", r.RestartS, r.RestartTCX, r.RestartClsBPF)
	if out := os.Getenv("BENCH_OUT"); out != "" {
		writeJSON(t, filepath.Join(filepath.Dir(out), "bench-scale.json"), r)
	}
}

// restartSteered stops the daemon p and starts it again with args, and
// returns how long the new one took to report every TAP attached, and how.
func restartSteered(t *testing.T, p *Process, args []string) (float64, int, int) {
	t.Helper()
	p.Stop()
	start := time.Now()
	q, err := StartProcess("nfdhcpd", p.ns, "", 0, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Stop)
	log := newLogWatch(q, `msg="classifier attached"`)
	for {
		if line, ok := log.line(`msg="classifier attached"`); ok {
			return time.Since(start).Seconds(), logInt(line, "tcx"), logInt(line, "cls_bpf")
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("restarted daemon: no attachments reported after 5 minutes:\n%s", q.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logInt reads key=N from a log line; -1 when absent.
func logInt(line, key string) int {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
