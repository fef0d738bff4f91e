package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// openFairTAPs makes n TAPs like openTAPs, as files with deadlines.
func openFairTAPs(t *testing.T, l *lab.Lab, n int) []FairTAP {
	taps := make([]FairTAP, n)
	var batch strings.Builder
	for i := range taps {
		vm := vmAt(i)
		taps[i] = FairTAP{VM: vm, File: l.OpenTAP(vm.TAP)}
		fmt.Fprintf(&batch, "link set %s txqueuelen 10000\naddr add %s/24 dev %s\naddr add %s/64 dev %s nodad\n",
			vm.TAP, vm.Gateway, vm.TAP, vm.Gateway6, vm.TAP)
	}
	l.Host("ip", "-batch", l.WriteFile("fair-taps.batch", batch.String()))
	return taps
}

// hashlimitRules are the iptables-mode equivalent of the classifier's
// per-TAP token bucket: per TAP, drop its DHCP, RS, NS and DHCPv6 beyond
// rate/s with the burst, before the queue rules see them.
func hashlimitRules(l *lab.Lab, vms []VM, rate, burst int) {
	var v4, v6 strings.Builder
	v4.WriteString("*mangle\n")
	v6.WriteString("*mangle\n")
	for _, vm := range vms {
		lim := fmt.Sprintf("-m hashlimit --hashlimit-name %s --hashlimit-above %d/sec --hashlimit-burst %d -j DROP", vm.TAP, rate, burst)
		fmt.Fprintf(&v4, "-I PREROUTING -i %s -p udp --dport 67 %s\n", vm.TAP, lim)
		// One bucket per TAP for its three IPv6 kinds, as the classifier has.
		fmt.Fprintf(&v6, "-N NFDHCPD-LIM-%s\n-A NFDHCPD-LIM-%s %s\n", vm.TAP, vm.TAP, lim)
		for _, m := range []string{"-p ipv6-icmp --icmpv6-type 133", "-p ipv6-icmp --icmpv6-type 135", "-p udp --dport 547"} {
			fmt.Fprintf(&v6, "-I PREROUTING -i %s %s -j NFDHCPD-LIM-%s\n", vm.TAP, m, vm.TAP)
		}
	}
	v4.WriteString("COMMIT\n")
	v6.WriteString("COMMIT\n")
	l.Host("iptables-restore", "-w", "--noflush", l.WriteFile("hashlimit4.rules", v4.String()))
	l.Host("ip6tables-restore", "-w", "--noflush", l.WriteFile("hashlimit6.rules", v6.String()))
}

// TestFairness: one TAP floods DISCOVERs open-loop while 50 others each
// complete a full DORA every 100 ms with a 2 s timeout; the others' success
// rate and DORA latency, without and with the flood, for dnsmasq and for
// nfdhcpd in iptables mode (with and without the hashlimit rules) and tc
// mode, on the same TAPs in one run.
func TestFairness(t *testing.T) {
	requireBench(t)
	l := lab.New(t)
	lab.RequireTools(t, "dnsmasq", "iptables-restore")
	bin := lab.Binary(t)
	nClients := envInt("FAIR_TAPS", 50)
	floodRate := envInt("FAIR_FLOOD_RATE", 50000)
	duration := envDuration("FAIR_DURATION", 10*time.Second)
	const limitRate, limitBurst = 200, 50 // nfdhcpd's default rate_limit
	balance := min(envInt("BENCH_QUEUES", runtime.NumCPU()), 10)
	taps := openFairTAPs(t, l, nClients+1)
	flooder, clients := &taps[0], taps[1:]
	vms := make([]VM, len(taps))
	for i, tap := range taps {
		vms[i] = tap.VM
	}

	startDaemon := func(t *testing.T, settings ...string) func() {
		_, stop := startBenchDaemon(t, l, bin, vms, balance, settings...)
		return stop
	}
	flushRules := func() {
		for _, cmd := range []string{"iptables", "ip6tables"} {
			l.Host(cmd, "-w", "-t", "mangle", "-F", "PREROUTING")
		}
		for _, vm := range vms {
			l.HostTry("ip6tables", "-w", "-t", "mangle", "-X", "NFDHCPD-LIM-"+vm.TAP)
		}
	}
	servers := []server{
		{name: "dnsmasq", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			p, err := StartProcess("dnsmasq", l.HostNS, "", 0, DnsmasqArgs(vms, l.Dir)...)
			if err != nil {
				t.Fatal(err)
			}
			return p.Stop, nil
		}},
		{name: "nfdhcpd-iptables", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			queueRules(l, balance)
			stop := startDaemon(t, "steering", "iptables")
			return func() { stop(); flushRules() }, nil
		}},
		{name: "nfdhcpd-iptables-hashlimit", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			queueRules(l, balance)
			hashlimitRules(l, vms, limitRate, limitBurst)
			stop := startDaemon(t, "steering", "iptables")
			return func() { stop(); flushRules() }, nil
		}},
		{name: "nfdhcpd-tc", start: func(t *testing.T, vms []VM) (func(), func() (Usage, error)) {
			return startDaemon(t, "steering", "tc", "bpf_pin_path", l.BPFFS(),
				"rate_limit", fmt.Sprintf("%d/s burst %d", limitRate, limitBurst)), nil
		}},
	}
	servers = selectServers(servers)

	var results []FairResult
	for _, sv := range servers {
		stop, _ := sv.start(t, vms)
		if _, err := ProbeEvery(TAP{VM: clients[0].VM, FD: rawFD(t, clients[0].File)}, Discover, 50*time.Millisecond, 10*time.Second); err != nil {
			stop()
			t.Fatalf("%s is not serving: %v", sv.name, err)
		}
		for _, flood := range []bool{false, true} {
			f := Fairness{Clients: clients, FloodRate: floodRate, Interval: 100 * time.Millisecond,
				Timeout: 2 * time.Second, Duration: duration}
			if flood {
				f.Flooder = flooder
			}
			r, err := RunFairness(f)
			if err != nil {
				stop()
				t.Fatal(err)
			}
			r.Server = sv.name
			results = append(results, r)
			fmt.Printf("%-27s flood %-5v (%6.0f/s)  %d DORAs  served %7.3f%%  p50 %7.2f ms  p99 %7.2f ms  wrong %d\n",
				r.Server, r.Flood, r.FloodRate, r.Attempts, 100*r.Rate, r.P50ms, r.P99ms, r.Wrong)
			time.Sleep(2 * time.Second) // the flood's backlog drains before the next run
		}
		stop()
	}
	printFairness(os.Stdout, results, nClients)
	if out := os.Getenv("FAIR_OUT"); out != "" {
		writeJSON(t, out, results)
	}
	for _, r := range results {
		if r.Wrong > 0 {
			t.Errorf("%s (flood %v): %d wrong replies, first: %s", r.Server, r.Flood, r.Wrong, r.FirstWrong)
		}
	}
}

// rawFD is f's descriptor, left non-blocking (File.Fd would make it
// blocking and take read deadlines away).
func rawFD(t *testing.T, f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(raw uintptr) { fd = int(raw) })
	return fd
}

func printFairness(w io.Writer, rs []FairResult, clients int) {
	fmt.Fprintf(w, "\n%d VMs each doing a DORA every 100 ms (2 s timeout), one more VM flooding DISCOVERs open-loop:\n\n", clients)
	fmt.Fprintf(w, "| server | flood offered | DORAs | served | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		flood := "none"
		if r.Flood {
			flood = fmt.Sprintf("%.0f/s", r.FloodRate)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.2f%% | %.2f | %.2f |\n", r.Server, flood, r.Attempts, 100*r.Rate, r.P50ms, r.P99ms)
	}
}
