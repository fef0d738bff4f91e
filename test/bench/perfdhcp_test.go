package bench

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// PerfResult is one perfdhcp run against one server.
type PerfResult struct {
	Server       string  `json:"server"`
	QueueBalance int     `json:"queue_balance,omitempty"`
	Seconds      float64 `json:"seconds"`
	DORAs        uint64  `json:"doras"` // ACKs received: exchanges completed
	Rate         float64 `json:"doras_per_s"`
	Drops        uint64  `json:"drops"`
	ServerCPUus  float64 `json:"server_cpu_us_per_dora"`
	// perfdhcp's own, whose sends run the kernel's receive path and
	// steering (NFQUEUE's enqueue, the classifier) on the way in.
	PerfdhcpCPUus float64 `json:"perfdhcp_cpu_us_per_dora"`
}

// TestPerfdhcp has a load tool nobody here wrote, Kea's perfdhcp, play one
// bound VM doing full DORA exchanges as fast as it can, against dnsmasq and
// nfdhcpd in each steering, and reports each server's CPU per DORA from the
// kernel's accounting. By default perfdhcp acts as a relay, which nfdhcpd
// rightly ignores: -J with a file holding 0.0.0.0 clears giaddr, -L 68
// sends from the client port, -M gives it the VM's MAC, -R 1 keeps it one
// client, -g single one thread.
func TestPerfdhcp(t *testing.T) {
	requireBench(t)
	if _, err := exec.LookPath("perfdhcp"); err != nil {
		t.Skip("bench: perfdhcp is not installed (Debian's kea-admin package): no perfdhcp rows")
	}
	l := lab.New(t)
	lab.RequireTools(t, "dnsmasq", "iptables-restore")
	bin := lab.Binary(t)
	def := vmAt(0)
	vm := l.AddVM(def.TAP, def.MAC.String())
	l.Host("ip", "addr", "add", def.Gateway.String()+"/24", "dev", def.TAP) // dnsmasq serves from it
	// perfdhcp sends from an address of its interface: the VM's own, as
	// after a first lease; replies to it reach perfdhcp's socket.
	vm.Run("ip", "addr", "add", def.IP.String()+"/24", "dev", "eth0")
	giaddr := l.WriteFile("perfdhcp-giaddr", "0.0.0.0\n")
	macs := l.WriteFile("perfdhcp-macs", def.MAC.String()+"\n")
	period := envDuration("PERF_DURATION", 5*time.Second)
	rate := envInt("PERF_RATE", 50000)
	vms := []VM{def}

	type run struct {
		name    string
		balance int
		start   func(t *testing.T) (stop func(), pid int)
	}
	daemon := func(balance int, settings ...string) func(t *testing.T) (func(), int) {
		return func(t *testing.T) (func(), int) {
			p, stop := startBenchDaemon(t, l, bin, vms, balance, append(settings, "rate_limit", "0")...)
			return stop, p.Pid()
		}
	}
	var runs []run
	runs = append(runs, run{"dnsmasq", 0, func(t *testing.T) (func(), int) {
		p, err := StartProcess("dnsmasq", l.HostNS, "", 0, DnsmasqArgs(vms, l.Dir)...)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // dnsmasq binds within a few ms
		return p.Stop, p.Pid()
	}})
	for _, balance := range []int{1, 2} {
		runs = append(runs,
			run{"nfdhcpd-iptables", balance, func(t *testing.T) (func(), int) {
				queueRules(l, balance)
				stop, pid := daemon(balance, "steering", "iptables")(t)
				return func() {
					stop()
					l.Host("iptables", "-w", "-t", "mangle", "-F", "PREROUTING")
					l.Host("ip6tables", "-w", "-t", "mangle", "-F", "PREROUTING")
				}, pid
			}},
			run{"nfdhcpd-tc", balance, func(t *testing.T) (func(), int) {
				return daemon(balance, "steering", "tc", "bpf_pin_path", l.BPFFS())(t)
			}})
	}

	var results []PerfResult
	for _, r := range runs {
		if !lab.Selected("BENCH_SERVERS", r.name) {
			continue
		}
		stop, pid := r.start(t)
		res, out, err := perfdhcp(vm, pid, period, rate, giaddr, macs)
		stop()
		if err != nil {
			t.Fatalf("%s: perfdhcp: %v\n%s", r.name, err, out)
		}
		res.Server, res.QueueBalance = r.name, r.balance
		if res.DORAs == 0 {
			t.Errorf("%s (queue_balance %d): no exchange completed\n%s", r.name, r.balance, out)
		}
		results = append(results, res)
		fmt.Printf("perfdhcp %-17s queue_balance %d  %7.0f DORA/s  drops %5d  server CPU %5.1f µs/DORA  perfdhcp CPU %5.1f µs/DORA\n",
			res.Server, res.QueueBalance, res.Rate, res.Drops, res.ServerCPUus, res.PerfdhcpCPUus)
	}
	fmt.Printf("\n| server | queue_balance | DORA/s | drops | server CPU µs/DORA | perfdhcp CPU µs/DORA |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Printf("| %s | %d | %.0f | %d | %.1f | %.1f |\n", r.Server, r.QueueBalance, r.Rate, r.Drops, r.ServerCPUus, r.PerfdhcpCPUus)
	}
	if out := os.Getenv("PERF_OUT"); out != "" {
		writeJSON(t, out, results)
	}
}

var (
	perfReceived = regexp.MustCompile(`(?s)Statistics for: REQUEST-ACK\*+\s*sent packets: \d+\s*received packets: (\d+)\s*drops: (\d+)`)
	perfDODrops  = regexp.MustCompile(`(?s)Statistics for: DISCOVER-OFFER\*+\s*sent packets: \d+\s*received packets: \d+\s*drops: (\d+)`)
)

// perfdhcp runs perfdhcp in vm for period at rate DORAs a second and
// returns what it completed, with the CPU the server (pid) and the host
// spent meanwhile.
func perfdhcp(vm *lab.VM, pid int, period time.Duration, rate int, giaddr, macs string) (PerfResult, string, error) {
	use := sampler(pid, "")
	from, err := use()
	if err != nil {
		return PerfResult{}, "", err
	}
	cmd := exec.Command("ip", "netns", "exec", vm.NS, "perfdhcp", "-4", "-l", "eth0", "-L", "68",
		"-J", giaddr, "-M", macs, "-R", "1", "-g", "single", "-r", strconv.Itoa(rate),
		"-p", strconv.Itoa(int(period.Seconds())))
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	// Exit status 3: some exchanges were not completed, which at full
	// speed is normal and counted in drops.
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		err = nil
	}
	if err != nil {
		return PerfResult{}, out, err
	}
	to, err := use()
	if err != nil {
		return PerfResult{}, out, err
	}
	m := perfReceived.FindStringSubmatch(out)
	if m == nil {
		return PerfResult{}, out, fmt.Errorf("no REQUEST-ACK statistics in perfdhcp's output")
	}
	acks, _ := strconv.ParseUint(m[1], 10, 64)
	drops, _ := strconv.ParseUint(m[2], 10, 64)
	if d := perfDODrops.FindStringSubmatch(out); d != nil {
		n, _ := strconv.ParseUint(d[1], 10, 64)
		drops += n
	}
	res := PerfResult{Seconds: period.Seconds(), DORAs: acks, Rate: float64(acks) / period.Seconds(), Drops: drops}
	if acks > 0 {
		res.ServerCPUus = float64((to.Server - from.Server).Nanoseconds()) / 1e3 / float64(acks)
		if ps := cmd.ProcessState; ps != nil {
			res.PerfdhcpCPUus = float64((ps.UserTime() + ps.SystemTime()).Nanoseconds()) / 1e3 / float64(acks)
		}
	}
	return res, out, nil
}
