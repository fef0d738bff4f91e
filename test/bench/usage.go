package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
)

// Usage is CPU time spent so far, as the kernel accounts it: on a
// hypervisor, CPU spent on infrastructure is CPU not sold.
type Usage struct {
	Host   time.Duration // every CPU busy (/proc/stat: user, nice, system, irq, softirq)
	Server time.Duration // the server process, all threads, user and system (/proc/PID/stat)
	// The classifier's own runs (BPF run-time statistics): what answering
	// in the kernel costs, counted where it runs, in the writer's context.
	BPFTime time.Duration
	BPFRuns uint64
}

// clockTick is USER_HZ, the unit of /proc's CPU times on every Linux
// architecture the daemon runs on.
const clockTick = 10 * time.Millisecond

// hostBusy is the time every CPU spent busy since boot.
func hostBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: %q", line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system . . irq softirq
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q", line)
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}

// processCPU is pid's user and system time, all threads.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold blanks and parentheses: fields count from
	// the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// sampler reads a server's Usage; pinPath, when set, is where its
// classifier is pinned.
func sampler(pid int, pinPath string) func() (Usage, error) {
	return func() (Usage, error) {
		var u Usage
		var err error
		if u.Host, err = hostBusy(); err != nil {
			return u, err
		}
		if u.Server, err = processCPU(pid); err != nil {
			return u, err
		}
		if pinPath != "" {
			u.BPFTime, u.BPFRuns, err = loader.PinnedRunStats(pinPath)
		}
		return u, err
	}
}

// perReply fills r's CPU figures from the usage over its measured window.
func (r *Result) perReply(from, to Usage) {
	if r.Replies == 0 {
		return
	}
	n := float64(r.Replies)
	r.HostCPUus = float64((to.Host - from.Host).Nanoseconds()) / 1e3 / n
	r.ServerCPUus = float64((to.Server - from.Server).Nanoseconds()) / 1e3 / n
	if runs := to.BPFRuns - from.BPFRuns; runs > 0 {
		r.ClassifierNs = float64((to.BPFTime - from.BPFTime).Nanoseconds()) / float64(runs)
	}
}
