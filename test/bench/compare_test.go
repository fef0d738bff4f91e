package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// requireBench skips unless `make bench` (NFDHCPD_BENCH=1) runs the test.
func requireBench(t *testing.T) {
	if os.Getenv("NFDHCPD_BENCH") != "1" {
		t.Skip("bench: set NFDHCPD_BENCH=1 (make bench) to run the harness")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// openTAPs makes n TAPs in the lab, each with the VM's gateway addresses
// (dnsmasq serves a TAP from its address; the kernel answers NS for it
// when no responder does) and a long transmit queue, so that a burst of
// replies is never dropped on the way to the generator.
func openTAPs(t *testing.T, l *lab.Lab, n int) []TAP {
	taps := make([]TAP, n)
	var batch strings.Builder
	for i := range taps {
		vm := vmAt(i)
		taps[i] = openTAP(t, l, vm)
		fmt.Fprintf(&batch, "link set %s txqueuelen 10000\naddr add %s/24 dev %s\naddr add %s/64 dev %s nodad\n",
			vm.TAP, vm.Gateway, vm.TAP, vm.Gateway6, vm.TAP)
	}
	l.Host("ip", "-batch", l.WriteFile("taps.batch", batch.String()))
	return taps
}

// daemonArgs is the daemon's command line, behind $BENCH_DAEMON_WRAP when
// set (a profiler or tracer: "strace -f -c -o FILE", "perf record -g -o
// FILE --", "taskset -c 0").
func daemonArgs(args ...string) []string {
	return append(strings.Fields(os.Getenv("BENCH_DAEMON_WRAP")), args...)
}

// openTAP opens vm's TAP in the lab and returns a descriptor of its own,
// for epoll, sharing the lab's non-blocking file.
func openTAP(t *testing.T, l *lab.Lab, vm VM) TAP {
	f := l.OpenTAP(vm.TAP)
	var fd int
	var derr error
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(raw uintptr) { fd, derr = unix.Dup(int(raw)) })
	if derr != nil {
		t.Fatal(derr)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return TAP{VM: vm, FD: fd}
}

// server is one of the compared servers: start serves taps until stop,
// and returns the reading of its CPU usage. kinds, when set, are the only
// kinds measured on it (the others take its sibling's path).
type server struct {
	name  string
	kinds []Kind
	start func(t *testing.T, vms []VM) (stop func(), usage func() (Usage, error))
}

func TestCompare(t *testing.T) {
	requireBench(t)
	l := lab.New(t)
	lab.RequireTools(t, "dnsmasq", "iptables-restore")
	bin := lab.Binary(t)
	nTAPs := envInt("BENCH_TAPS", 64)
	taps := openTAPs(t, l, nTAPs)
	vms := make([]VM, len(taps))
	for i, tap := range taps {
		vms[i] = tap.VM
	}
	cell := envDuration("BENCH_DURATION", time.Second)
	satWindow := map[int]int{1: envInt("BENCH_WINDOW_1", 32), nTAPs: envInt("BENCH_WINDOW_N", 4)}
	workers := envInt("BENCH_WORKERS", 2)
	// Queues per kind (queue_balance): the daemon's default, one, unless
	// BENCH_QUEUES says otherwise: the numbers are what users run.
	balance := min(envInt("BENCH_QUEUES", 1), 10)
	var genCPUs []int
	for _, c := range strings.Split(os.Getenv("BENCH_GEN_CPUS"), ",") {
		if n, err := strconv.Atoi(c); err == nil {
			genCPUs = append(genCPUs, n)
		}
	}
	kinds := []Kind{Discover, Request, RS, NS, InfoReq}
	if k := os.Getenv("BENCH_KINDS"); k != "" {
		kinds = nil
		for _, name := range strings.Split(k, ",") {
			for kk := Kind(0); kk < numKinds; kk++ {
				if kk.String() == name {
					kinds = append(kinds, kk)
				}
			}
		}
	}

	// The classifier's run time, as the kernel keeps it while asked to.
	if stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err != nil {
		t.Logf("no BPF run-time statistics (%v): no classifier time per run", err)
	} else {
		defer stats.Close()
	}
	startDaemon := func(t *testing.T, vms []VM, pinPath string, settings ...string) (func(), func() (Usage, error)) {
		// rate_limit 0: the classifier's per-TAP limit (200/s by default)
		// would cap one TAP's load, and dnsmasq has none.
		p, stop := startBenchDaemon(t, l, bin, vms, balance, append(settings, "rate_limit", "0")...)
		return stop, sampler(p.Pid(), pinPath)
	}
	tcDaemon := func(settings ...string) func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
		return func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			pin := l.BPFFS()
			return startDaemon(t, vms, pin, append([]string{"steering", "tc", "bpf_pin_path", pin}, settings...)...)
		}
	}
	servers := []server{
		{name: "dnsmasq", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			p, err := StartProcess("dnsmasq", l.HostNS, "", 0, DnsmasqArgs(vms, l.Dir)...)
			if err != nil {
				t.Fatal(err)
			}
			return func() {
				p.Stop()
				if t.Failed() {
					t.Logf("dnsmasq output:\n%s", p.Output())
				}
			}, sampler(p.Pid(), "")
		}},
		{name: "nfdhcpd-iptables", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			queueRules(l, balance)
			stop, usage := startDaemon(t, vms, "", "steering", "iptables")
			return func() {
				stop()
				l.Host("iptables", "-w", "-t", "mangle", "-F", "PREROUTING")
				l.Host("ip6tables", "-w", "-t", "mangle", "-F", "PREROUTING")
			}, usage
		}},
		// RS and NS answered by the daemon through NFQUEUE, as before
		// answers in the kernel; DHCP takes that path in nfdhcpd-tc too.
		{name: "nfdhcpd-tc-nfqueue", kinds: []Kind{RS, NS}, start: tcDaemon("kernel_answers", "no")},
		// The default: RS and NS answered by the classifier.
		{name: "nfdhcpd-tc", start: tcDaemon()},
	}
	servers = selectServers(servers)

	var results []Result
	for _, sv := range servers {
		svKinds := kinds
		if sv.kinds != nil {
			svKinds = slices.DeleteFunc(slices.Clone(kinds), func(k Kind) bool { return !slices.Contains(sv.kinds, k) })
		}
		if len(svKinds) == 0 {
			continue
		}
		stop, usage := sv.start(t, vms)
		for _, k := range svKinds {
			if _, err := Probe(taps[0], k, 10*time.Second); err != nil {
				stop()
				t.Fatalf("%s is not serving %s: %v", sv.name, k, err)
			}
		}
		for _, n := range []int{1, nTAPs} {
			for _, w := range []int{1, satWindow[n]} {
				for _, k := range svKinds {
					r, err := Run(taps[:n], Load{Kind: k, Window: w, Warmup: 200 * time.Millisecond, Duration: cell,
						Timeout: 200 * time.Millisecond, Workers: min(n, workers), CPUs: genCPUs, Usage: usage})
					if err != nil {
						stop()
						t.Fatal(err)
					}
					r.Server = sv.name
					results = append(results, r)
					fmt.Printf("%-18s %-9s taps %3d  W %2d  %9.0f/s  p50 %7.1f µs  p99 %8.1f µs  lost %d wrong %d late %d  cpu/reply generator %.2f µs server %.2f µs classifier %.0f ns/run\n",
						r.Server, r.Kind, r.TAPs, r.Window, r.Rate, r.P50us, r.P99us, r.Lost, r.Wrong, r.Late,
						r.GeneratorCPUus, r.ServerCPUus, r.ClassifierNs)
				}
			}
		}
		stop()
	}
	printTable(os.Stdout, results)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end: %s", b)
	}
	if out := os.Getenv("BENCH_OUT"); out != "" {
		writeJSON(t, out, results)
	}
	for _, r := range results {
		if r.Wrong > 0 {
			t.Errorf("%s %s (%d TAPs, W %d): %d wrong replies, first: %s", r.Server, r.Kind, r.TAPs, r.Window, r.Wrong, r.Why)
		}
	}
}

// queueRules are the README's iptables-mode rules for queues 42, 52, 62
// and 72, each spread over balance queues by CPU.
func queueRules(l *lab.Lab, balance int) {
	target := func(q int) []string {
		if balance < 2 {
			return []string{"-j", "NFQUEUE", "--queue-num", strconv.Itoa(q), "--queue-bypass"}
		}
		return []string{"-j", "NFQUEUE", "--queue-balance", fmt.Sprintf("%d:%d", q, q+balance-1), "--queue-cpu-fanout", "--queue-bypass"}
	}
	pre := []string{"-w", "-t", "mangle", "-A", "PREROUTING", "-i", "tap+"}
	l.Host(slices.Concat([]string{"iptables"}, pre, []string{"-p", "udp", "--dport", "67"}, target(42))...)
	l.Host(slices.Concat([]string{"ip6tables"}, pre, []string{"-p", "ipv6-icmp", "--icmpv6-type", "133"}, target(52))...)
	l.Host(slices.Concat([]string{"ip6tables"}, pre, []string{"-p", "ipv6-icmp", "--icmpv6-type", "135"}, target(62))...)
	l.Host(slices.Concat([]string{"ip6tables"}, pre, []string{"-p", "udp", "--dport", "547"}, target(72))...)
}

// printTable prints one line per measurement with nfdhcpd's ratios to
// dnsmasq's rate and median in the same scenario.
func printTable(w io.Writer, rs []Result) {
	ref := map[string]Result{}
	key := func(r Result) string { return fmt.Sprintf("%s/%d/%d", r.Kind, r.TAPs, r.Window) }
	for _, r := range rs {
		if r.Server == "dnsmasq" {
			ref[key(r)] = r
		}
	}
	fmt.Fprintf(w, "\n| server | kind | TAPs | W | replies/s | p50 µs | p99 µs | lost | wrong | × dnsmasq rate | × dnsmasq p50 | generator CPU µs/reply | server CPU µs/reply | classifier ns/run |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		rate, p50 := "", ""
		if d, ok := ref[key(r)]; ok && r.Server != "dnsmasq" && d.Rate > 0 && r.P50us > 0 {
			rate = fmt.Sprintf("%.2f", r.Rate/d.Rate)
			p50 = fmt.Sprintf("%.2f", d.P50us/r.P50us)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.1f | %.1f | %d | %d | %s | %s | %.2f | %.2f | %.0f |\n",
			r.Server, r.Kind, r.TAPs, r.Window, r.Rate, r.P50us, r.P99us, r.Lost, r.Wrong, rate, p50,
			r.GeneratorCPUus, r.ServerCPUus, r.ClassifierNs)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startBenchDaemon writes a binding per VM and starts nfdhcpd in the lab's
// host namespace as root with queue_balance queues per kind, numbered 10
// apart so that each kind's range stays its own. It returns the process
// and its stop.
func startBenchDaemon(t *testing.T, l *lab.Lab, bin string, vms []VM, balance int, settings ...string) (*Process, func()) {
	t.Helper()
	settings = append(settings, "user", "root", "queue_balance", strconv.Itoa(balance),
		"dhcp.dhcp_queue", "42", "ipv6.rs_queue", "52", "ipv6.ns_queue", "62", "ipv6.dhcpv6_queue", "72")
	conf, datapath := l.SeedConfig(settings...)
	for _, vm := range vms {
		if err := lab.WriteBinding(datapath, vm.TAP, vm.Binding()); err != nil {
			t.Fatal(err)
		}
	}
	p, err := StartProcess("nfdhcpd", l.HostNS, "msg=ready", 20*time.Second, daemonArgs(bin, "-c", conf, "-f")...)
	if err != nil {
		t.Fatal(err)
	}
	return p, func() {
		p.Stop()
		if t.Failed() {
			t.Logf("nfdhcpd output:\n%s", p.Output())
		}
	}
}

// selectServers keeps the servers named in $BENCH_SERVERS (comma-separated),
// or all of them when it is unset.
func selectServers(servers []server) []server {
	var keep []server
	for _, sv := range servers {
		if lab.Selected("BENCH_SERVERS", sv.name) {
			keep = append(keep, sv)
		}
	}
	return keep
}
