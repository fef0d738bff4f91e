// Command vmtest boots Debian's long-term kernels under qemu (software
// emulation) and runs the end-to-end suite in each, in both steering
// modes: `make vmtest`. It prints one line per kernel and mode and exits
// non-zero when any test fails. See README.md, "Kernel-version tests".
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
	"github.com/nfdhcpd/nfdhcpd/test/results"
	"github.com/nfdhcpd/nfdhcpd/test/vmimage"
)

// options are the command line's.
type options struct {
	cache   string // kernel packages, kept between runs
	out     string // scratch and results folder
	daemon  string // the daemon binary (static)
	kernels string // comma-separated kernel names; "" is every one
	modes   string // comma-separated steering modes
	jobs    int    // VMs at once
	timeout time.Duration
	run     string  // go test -run for the suite
	scale   float64 // NFDHCPD_E2E_TIME_SCALE in the VM
	smp     int     // virtual CPUs per VM
	refresh bool    // fetch the suites' current kernels
}

func main() {
	var o options
	flag.StringVar(&o.cache, "cache", vmimage.Cache(), "kernel packages, kept between runs ($VMTEST_CACHE)")
	flag.StringVar(&o.out, "out", "build/vmtest", "scratch and results folder")
	flag.StringVar(&o.daemon, "bin", "bin/nfdhcpd", "the daemon (static)")
	flag.StringVar(&o.kernels, "kernels", "", "comma-separated kernel names (default: all of Kernels)")
	flag.StringVar(&o.modes, "modes", "tc,iptables", "steering modes")
	flag.IntVar(&o.jobs, "jobs", 2, "VMs at once (each takes one core)")
	flag.DurationVar(&o.timeout, "timeout", 14*time.Minute, "limit per VM (a run takes 4-8 minutes under emulation)")
	flag.StringVar(&o.run, "run", "", "only e2e tests matching this (go test -run)")
	flag.IntVar(&o.smp, "smp", 1, "virtual CPUs per VM (TCG runs one host thread per vCPU)")
	flag.Float64Var(&o.scale, "timescale", 3, "stretch the suite's wall-clock bounds (exit within 1 s of SIGTERM) by this under emulation")
	flag.BoolVar(&o.refresh, "refresh", false, "fetch the suites' current kernels even when some are cached")
	fetchOnly := flag.Bool("fetch", false, "only fetch and extract the kernels (CI does it before tests that may disturb the network)")
	flag.Parse()
	var err error
	if *fetchOnly {
		err = fetchAll(o.cache, o.kernels, o.refresh)
	} else {
		err = mainErr(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("vmtest: "+format+"\n", args...)
}

// job is one VM: a kernel and one steering mode.
type job struct {
	k      vmimage.Kernel
	tree   *vmimage.Tree
	initrd string
	mode   string
	dir    string
	took   time.Duration
	err    error
}

func mainErr(o options) error {
	start := time.Now()
	ks, err := vmimage.Pick(o.kernels)
	if err != nil {
		return err
	}
	if o.run != "" && strings.ContainsAny(o.run, " \t") {
		return fmt.Errorf("-run %q: no blanks (it travels on the kernel command line)", o.run)
	}
	// Commands run in other folders (cpio in the staging root).
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	root := filepath.Join(out, "root")
	e2e := filepath.Join(out, "e2e.test")
	logf("building the e2e test binary")
	cmd := exec.Command("go", "test", "-c", "-o", e2e, "./test/e2e")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c ./test/e2e: %v\n%s", err, b)
	}
	logf("staging the VM's userspace")
	if err := stageUserspace(root, o.daemon, e2e); err != nil {
		return err
	}
	user := filepath.Join(out, "userspace.cpio")
	if err := vmimage.WriteCPIO(root, user); err != nil {
		return err
	}
	var all []*job
	for _, k := range ks {
		t, err := vmimage.Fetch(o.cache, k, o.refresh, logf)
		if err != nil {
			return err
		}
		initrd, err := vmimage.Initrd(filepath.Join(out, k.Name), t, Modules, user)
		if err != nil {
			return fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		for _, m := range strings.Split(o.modes, ",") {
			all = append(all, &job{k: k, tree: t, initrd: initrd, mode: m,
				dir: filepath.Join(out, k.Name+"-"+m)})
		}
	}
	logf("booting %d VMs, %d at a time", len(all), o.jobs)
	sem := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	for _, j := range all {
		wg.Add(1)
		sem <- struct{}{} // in order: kernels start as listed
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			j.err = boot(j, o)
			j.took = time.Since(t0)
		}()
	}
	wg.Wait()
	return report(all, time.Since(start))
}

func fetchAll(cache, names string, refresh bool) error {
	ks, err := vmimage.Pick(names)
	if err != nil {
		return err
	}
	for _, k := range ks {
		t, err := vmimage.Fetch(cache, k, refresh, logf)
		if err != nil {
			return err
		}
		logf("%s: %s in %s", k.Name, t.Release, t.Dir)
	}
	return nil
}

// boot runs one VM to its power-off. Its console goes to console.log and
// its "vmtest:" lines to our output; results land in dir/share over 9p.
func boot(j *job, o options) error {
	timeout := o.timeout
	share := filepath.Join(j.dir, "share")
	if err := os.MkdirAll(share, 0o755); err != nil {
		return err
	}
	console, err := os.Create(filepath.Join(j.dir, "console.log"))
	if err != nil {
		return err
	}
	defer console.Close()
	appendArgs := fmt.Sprintf("console=ttyS0 panic=-1 quiet loglevel=4 random.trust_cpu=on nfdhcpd.modes=%s nfdhcpd.timeout=%s nfdhcpd.timescale=%g",
		j.mode, (timeout - time.Minute).String(), o.scale)
	if o.run != "" {
		appendArgs += " nfdhcpd.run=" + o.run
	}
	if skip := skipPattern(); skip != "" {
		appendArgs += " nfdhcpd.skip=" + skip
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", strconv.Itoa(o.smp),
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-nic", "none", "-device", "virtio-rng-pci",
		"-virtfs", "local,path="+share+",mount_tag=out,security_model=none,id=out",
		"-kernel", j.tree.Vmlinuz, "-initrd", j.initrd, "-append", appendArgs)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	name := j.k.Name + "/" + j.mode
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l := strings.TrimRight(sc.Text(), "\r")
			fmt.Fprintln(console, l)
			if i := strings.Index(l, "vmtest: "); i >= 0 {
				fmt.Printf("vmtest: [%s] %s\n", name, l[i+len("vmtest: "):])
			}
		}
		io.Copy(io.Discard, pr)
	}()
	logf("[%s] booting %s", name, filepath.Base(j.tree.Vmlinuz))
	err = cmd.Run()
	pw.Close()
	<-done
	if ctx.Err() != nil {
		return fmt.Errorf("%s: no power-off within %v (console: %s)", name, timeout, console.Name())
	}
	if err != nil {
		return fmt.Errorf("%s: qemu: %v (console: %s)", name, err, console.Name())
	}
	return nil
}

// report prints one line per VM, then the failures' logs and the skip
// reasons, and fails when any VM or test did.
func report(all []*job, took time.Duration) error {
	var failed, passed, skipped int
	var details strings.Builder
	bad := false
	fmt.Println()
	fmt.Printf("%-6s %-9s %-24s %-8s %6s %6s %7s %8s\n", "KERNEL", "MODE", "RELEASE", "ATTACH", "PASSED", "FAILED", "SKIPPED", "TIME")
	for _, j := range all {
		share := filepath.Join(j.dir, "share")
		release := readTrim(filepath.Join(share, "release"))
		res, err := summarize(share, j.mode)
		if j.err != nil && err == nil {
			err = j.err
		}
		if setup := readTrim(filepath.Join(share, "setup-errors")); err == nil && setup != "" {
			err = fmt.Errorf("the VM's setup failed: %s", strings.ReplaceAll(setup, "\n", "; "))
		}
		if err == nil && !strings.HasPrefix(release, j.k.Series) {
			err = fmt.Errorf("the VM runs %q, not %s*", release, j.k.Series)
		}
		if err != nil {
			bad = true
			fmt.Printf("%-6s %-9s %-24s %s\n", j.k.Name, j.mode, release, "ERROR")
			fmt.Fprintf(&details, "\n=== %s/%s: %v\n", j.k.Name, j.mode, err)
			if c, e := os.ReadFile(filepath.Join(j.dir, "console.log")); e == nil {
				fmt.Fprintf(&details, "--- console (last lines):\n%s\n", tail(string(c), 40))
			}
			continue
		}
		res.Passed = withoutEmptyParents(res.Passed)
		attach := attachOf(res)
		if j.mode != "tc" {
			attach = "-"
		} else if attach == "" {
			attach = "?"
		}
		fmt.Printf("%-6s %-9s %-24s %-8s %6d %6d %7d %8s\n", j.k.Name, j.mode, release, attach,
			len(res.Passed), len(res.Failed)+len(res.Unfinished), len(res.Skipped), j.took.Round(time.Second))
		passed += len(res.Passed)
		failed += len(res.Failed) + len(res.Unfinished)
		skipped += len(res.Skipped)
		if len(res.Failed)+len(res.Unfinished) > 0 || len(res.PackageFailed) > 0 || len(res.Passed) == 0 {
			bad = true
		}
		for _, t := range results.Sorted(res.Failed) {
			fmt.Fprintf(&details, "\n=== FAIL %s/%s %s\n%s", j.k.Name, j.mode, t, res.FailureLog(t))
			// The VM's fault, not the kernel's: it would fail the test
			// on every kernel.
			if tool, ok := lab.MissingProgram(res.FailureLog(t)); ok {
				fmt.Fprintf(&details, "=== %s/%s: the VM lacks %s: add it to Tools in test/vm/userspace.go\n", j.k.Name, j.mode, tool)
			}
		}
		for _, t := range res.Unfinished {
			fmt.Fprintf(&details, "\n=== UNFINISHED %s/%s %s (the suite crashed or timed out)\n%s%s", j.k.Name, j.mode, t,
				res.FailureLog(t), tail(res.Output[""], 60))
		}
		if len(res.PackageFailed) > 0 && len(res.Failed)+len(res.Unfinished) == 0 {
			fmt.Fprintf(&details, "\n=== %s/%s: the suite failed outside any test\n%s", j.k.Name, j.mode, tail(res.Output[""], 60))
		}
		if len(res.Passed) == 0 {
			fmt.Fprintf(&details, "\n=== %s/%s: no test passed\n", j.k.Name, j.mode)
		}
		for _, t := range results.Sorted(res.Skipped) {
			reason := res.Reason(t)
			fmt.Fprintf(&details, "skipped %s/%s %s: %s\n", j.k.Name, j.mode, t, reason)
			if lab.SkipForbidden(reason) {
				bad = true
				fmt.Fprintf(&details, "=== %s/%s: a skip the suite must not take in a VM\n", j.k.Name, j.mode)
			}
		}
	}
	for _, x := range Excluded {
		fmt.Fprintf(&details, "excluded on every kernel %s: %s\n", x.Pattern, x.Why)
	}
	fmt.Print(details.String())
	fmt.Printf("\nvmtest: %d VMs in %s\n", len(all), took.Round(time.Second))
	// The closing line CI reads, alone on its line.
	fmt.Printf("vmtest: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if bad {
		return errors.New("some kernels failed (logs under build/vmtest/<kernel>-<mode>/)")
	}
	return nil
}

// summarize converts the VM's test2json stream for mode and counts it.
func summarize(share, mode string) (*results.Result, error) {
	raw := filepath.Join(share, "e2e-"+mode+".out")
	in, err := os.Open(raw)
	if err != nil {
		return nil, fmt.Errorf("no e2e output: %w", err)
	}
	defer in.Close()
	cmd := exec.Command("go", "tool", "test2json", "-t")
	cmd.Stdin = in
	js, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json < %s: %w", raw, err)
	}
	os.WriteFile(filepath.Join(share, "e2e-"+mode+".json"), js, 0o644)
	return results.Summarize(strings.NewReader(string(js)))
}

var attachRE = regexp.MustCompile(`attach method: (\S+) \(attach = auto`)

// attachOf is the attach method TestKernelAttach logged: "tcx" or
// "cls_bpf".
func attachOf(res *results.Result) string {
	for _, t := range results.Sorted(res.Passed) {
		if m := attachRE.FindStringSubmatch(res.Output[t]); m != nil {
			return m[1]
		}
	}
	return ""
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// skipPattern joins Excluded for go test -skip; blanks cannot travel on the
// kernel command line.
func skipPattern() string {
	var p []string
	for _, x := range Excluded {
		p = append(p, x.Pattern)
	}
	return strings.Join(p, "|")
}

// withoutEmptyParents drops the parents of Excluded subtests: with every
// subtest skipped by -skip they pass having run nothing.
func withoutEmptyParents(passed []string) []string {
	var out []string
	for _, t := range passed {
		empty := false
		for _, x := range Excluded {
			parent, _, nested := strings.Cut(x.Pattern, "/")
			empty = empty || nested && t == parent
		}
		if !empty {
			out = append(out, t)
		}
	}
	return out
}
