package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// kernelRelease is `uname -r` and whether the kernel is at least 6.6, the
// release that brought TCX.
func kernelRelease(t *testing.T) (string, bool) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var major, minor int
	if _, err := fmt.Sscanf(rel, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", rel, err)
	}
	return rel, major > 6 || major == 6 && minor >= 6
}

// Each attach setting uses the method this kernel has: auto picks TCX on
// 6.6+ and cls_bpf before (the line `make vmtest` reports), tc is always
// cls_bpf, and tcx runs only where TCX exists. Every one serves the VM
// through exactly one attachment. steering = auto picks tc steering.
func TestKernelAttach(t *testing.T) {
	lab.RequireTools(t, "udhcpc", "tc")
	selected := false
	for _, m := range modes(t) {
		selected = selected || m.name == "tc"
	}
	if !selected {
		t.Skip("tc steering is not among the selected modes")
	}
	release, hasTCX := kernelRelease(t)
	auto := "cls_bpf"
	if hasTCX {
		auto = "tcx"
	}
	for _, c := range []struct{ steering, attach, want string }{
		{"tc", "auto", auto},
		{"tc", "tc", "cls_bpf"},
		{"tc", "tcx", "tcx"},
		{"auto", "auto", auto},
	} {
		t.Run("steering="+c.steering+",attach="+c.attach, func(t *testing.T) {
			if c.want == "tcx" && !hasTCX {
				t.Skipf("TCX needs Linux 6.6 or later; this kernel is %s", release)
			}
			l := lab.New(t)
			vm := l.AddVM("tap10", lab.SeedMAC)
			conf, datapath := l.SeedConfig("steering", c.steering, "attach", c.attach, "bpf_pin_path", l.BPFFS())
			lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
			d := l.StartDaemon(conf)
			if !strings.Contains(d.Log(), "msg=ready steering=tc") {
				t.Fatalf("steering = %s did not choose tc steering on %s:\n%s", c.steering, release, d.Log())
			}
			if _, err := vm.UdhcpcTries(4); err != nil {
				t.Fatal(err)
			}
			got := attachMethod(d, "tap10")
			if got != c.want {
				t.Errorf("attach = %s on %s: method %q, want %q", c.attach, release, got, c.want)
			}
			if n := attachments(t, l, "tap10", l.Ifindex("tap10")); n != 1 {
				t.Errorf("tap10 has %d attachments, want 1", n)
			}
			if c.steering == "tc" && c.attach == "auto" {
				t.Logf("attach method: %s (attach = auto, kernel %s)", got, release)
			}
		})
	}
}

// unitMemlock is prlimit's --memlock for LimitMEMLOCK=infinity: before
// Linux 5.11 BPF maps count against RLIMIT_MEMLOCK, which an unprivileged
// daemon cannot raise. Where the test cannot raise it either (root without
// CAP_SYS_RESOURCE, as in some containers) it raises the soft limit to the
// hard one, all that the unit could get there too.
func unitMemlock(t *testing.T) string {
	t.Helper()
	if exec.Command("prlimit", "--memlock=unlimited", "true").Run() == nil {
		return "--memlock=unlimited"
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r); err != nil {
		t.Fatal(err)
	}
	if r.Max == unix.RLIM_INFINITY {
		return "--memlock=unlimited"
	}
	return fmt.Sprintf("--memlock=%d:%d", r.Max, r.Max)
}
