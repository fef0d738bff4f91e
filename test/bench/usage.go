package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/loader"
)

// Usage is CPU time spent so far, as the kernel accounts it per task: on
// a hypervisor, CPU spent on infrastructure is CPU not sold. Per task, not
// the host's total, because the machine is shared with other jobs.
type Usage struct {
	// The generator: this process, whose TAP writes run the kernel's
	// receive path, the classifier and, for answers in the kernel or the
	// host's own NA, the whole answer; and whose reads take the replies.
	Generator time.Duration
	Server    time.Duration // the server process, all threads
	// The classifier's own runs (BPF run-time statistics), part of the
	// generator's time.
	BPFTime time.Duration
	BPFRuns uint64
}

// selfCPU is this process's user and system time, all threads.
func selfCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// processCPU is pid's time on CPU, all threads, in nanoseconds
// (/proc/PID/task/*/schedstat: /proc/PID/stat counts 10 ms ticks).
func processCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no tasks of pid %d", pid)
	}
	var total time.Duration
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			return 0, fmt.Errorf("%s: %q", p, b)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", p, b)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// sampler reads a server's Usage; pinPath, when set, is where its
// classifier is pinned.
func sampler(pid int, pinPath string) func() (Usage, error) {
	return func() (Usage, error) {
		var u Usage
		var err error
		if u.Generator, err = selfCPU(); err != nil {
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
	r.GeneratorCPUus = float64((to.Generator - from.Generator).Nanoseconds()) / 1e3 / n
	r.ServerCPUus = float64((to.Server - from.Server).Nanoseconds()) / 1e3 / n
	if runs := to.BPFRuns - from.BPFRuns; runs > 0 {
		r.ClassifierNs = float64((to.BPFTime - from.BPFTime).Nanoseconds()) / float64(runs)
	}
}
