package soak

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/metrics"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

const metricsListen = "127.0.0.1:9309"

func requireSoak(t *testing.T) {
	t.Helper()
	if os.Getenv("NFDHCPD_SOAK") == "" {
		t.Skip("soak: run by `make soak` (NFDHCPD_SOAK=1)")
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// start makes a lab and starts the daemon in the steering mode the
// environment names, with its metrics endpoint on.
func start(t *testing.T, extra ...string) (*lab.Lab, *lab.Daemon, string) {
	l := lab.New(t)
	settings := []string{"metrics_listen", metricsListen}
	switch mode := os.Getenv("SOAK_STEERING"); mode {
	case "", "tc":
		settings = append(settings, "steering", "tc", "bpf_pin_path", l.BPFFS())
	case "iptables":
		l.SeedRules()
		settings = append(settings, "steering", "iptables")
	default:
		t.Fatalf("SOAK_STEERING=%q: want tc or iptables", mode)
	}
	conf, datapath := l.SeedConfig(append(settings, extra...)...)
	return l, l.StartDaemon(conf), datapath
}

func tcMode() bool { return os.Getenv("SOAK_STEERING") != "iptables" }

// usage is what the daemon holds, as its metrics endpoint reports it.
type usage struct {
	RSS, FDs, Goroutines, Threads float64
}

func (u usage) String() string {
	return fmt.Sprintf("rss %.1f MiB, %v fds, %v goroutines, %v threads", u.RSS/(1<<20), u.FDs, u.Goroutines, u.Threads)
}

func readUsage(t *testing.T, l *lab.Lab) usage {
	t.Helper()
	code, body, err := l.HTTPGet("http://" + metricsListen + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("scrape: %d %v", code, err)
	}
	var u usage
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "process_resident_memory_bytes":
			u.RSS = v
		case "process_open_fds":
			u.FDs = v
		case "go_goroutines":
			u.Goroutines = v
		case "go_threads":
			u.Threads = v
		}
	}
	if u.RSS == 0 || u.FDs == 0 || u.Goroutines == 0 {
		t.Fatalf("scrape lacks process or Go metrics: %+v", u)
	}
	return u
}

// bindingRows is the daemon's table, from /bindings.
func bindingRows(t *testing.T, l *lab.Lab) []metrics.BindingRow {
	t.Helper()
	code, body, err := l.HTTPGet("http://" + metricsListen + "/bindings")
	if err != nil || code != 200 {
		t.Fatalf("/bindings: %d %v", code, err)
	}
	var rows []metrics.BindingRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("/bindings: %v", err)
	}
	return rows
}

// dirFiles lists the binding files in datapath.
func dirFiles(t *testing.T, datapath string) []string {
	t.Helper()
	ents, err := os.ReadDir(datapath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// pins lists every file under the pin path, relative to it.
func pins(t *testing.T, pinPath string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(pinPath, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != pinPath {
			rel, _ := filepath.Rel(pinPath, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// waitUntil polls cond every 20 ms for up to timeout.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	return waitEvery(20*time.Millisecond, timeout, cond)
}

// waitEvery polls cond every interval for up to timeout: a slow poll for
// conditions that cost the daemon work to answer.
func waitEvery(interval, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
