package bench

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// ScaleResult is what TestScale measured.
type ScaleResult struct {
	Bindings       int     `json:"bindings"`
	ReadyS         float64 `json:"start_to_ready_s"`
	SteeredS       float64 `json:"start_to_all_steered_s"`
	FirstAnswerN   int     `json:"first_answer_samples"`
	FirstAnswerP50 float64 `json:"write_to_first_answer_p50_ms"`
	FirstAnswerP99 float64 `json:"write_to_first_answer_p99_ms"`
	RSSMiB         float64 `json:"rss_mib"`
}

// TestScale starts nfdhcpd (tc steering) with one binding per TAP on
// 10,000 TAPs and measures how long it takes until every TAP is steered
// (the classifier's pinned map holds them all), how long a binding written
// afterwards takes to be answered, and the daemon's resident memory.
func TestScale(t *testing.T) {
	requireBench(t)
	l := lab.New(t)
	lab.RequireTools(t, "iptables-restore")
	bin := lab.Binary(t)
	total := envInt("BENCH_SCALE_TAPS", 10000)
	samples := min(envInt("BENCH_SCALE_SAMPLES", 100), total)
	quiet := total - samples

	// The quiet TAPs exist and are bound before the start; the sampled
	// ones are opened by the generator and bound one at a time afterwards.
	created := time.Now()
	var batch strings.Builder
	for i := samples; i < total; i++ {
		fmt.Fprintf(&batch, "tuntap add dev %s mode tap\n", vmAt(i).TAP)
	}
	l.Host("ip", "-batch", l.WriteFile("scale.batch", batch.String()))
	taps := make([]TAP, samples)
	for i := range taps {
		taps[i] = openTAP(t, l, vmAt(i))
	}
	t.Logf("%d TAPs created in %v", total, time.Since(created).Round(time.Millisecond))

	pin := l.BPFFS()
	attach := cmp.Or(os.Getenv("BENCH_SCALE_ATTACH"), "auto")
	conf, datapath := l.SeedConfig("steering", "tc", "bpf_pin_path", pin, "user", "root", "attach", attach)
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
	p, err := StartProcess("nfdhcpd", l.HostNS, "", 0, daemonArgs(bin, "-c", conf, "-f")...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	var ready, steered time.Duration
	steeredN := 0
	for ready == 0 || steered == 0 {
		if ready == 0 && strings.Contains(p.Output(), "msg=ready") {
			ready = time.Since(start)
		}
		if ifaces, err := lab.PinnedIfaces(pin); err == nil {
			steeredN = len(ifaces)
			if steered == 0 && steeredN >= quiet {
				steered = time.Since(start)
			}
		}
		if time.Since(start) > wait {
			rss, _ := p.RSS()
			fmt.Printf("\nscale: %d bindings: after %v %d of %d steered, ready %v; RSS %.1f MiB; stopped there\n",
				total, wait, steeredN, quiet, ready != 0, float64(rss)/(1<<20))
			if out := os.Getenv("BENCH_OUT"); out != "" {
				writeJSON(t, filepath.Join(filepath.Dir(out), "bench-scale.json"), map[string]any{
					"bindings": total, "waited_s": wait.Seconds(), "steered": steeredN, "ready": ready != 0, "rss_mib": float64(rss) / (1 << 20)})
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
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
	r := ScaleResult{
		Bindings: total, ReadyS: ready.Seconds(), SteeredS: steered.Seconds(), FirstAnswerN: len(firsts),
		FirstAnswerP50: ms(firsts[len(firsts)/2]), FirstAnswerP99: ms(firsts[(len(firsts)*99-1)/100]),
		RSSMiB: float64(rss) / (1 << 20),
	}
	fmt.Printf("\nscale: %d bindings: start to ready %.2f s, to all %d steered %.2f s; "+
		"binding write to first answer p50 %.1f ms p99 %.1f ms (%d samples); RSS %.1f MiB\n",
		total, r.ReadyS, quiet, r.SteeredS, r.FirstAnswerP50, r.FirstAnswerP99, r.FirstAnswerN, r.RSSMiB)
	if out := os.Getenv("BENCH_OUT"); out != "" {
		writeJSON(t, filepath.Join(filepath.Dir(out), "bench-scale.json"), r)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
