package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// checkBindings runs `nfdhcpd -t` on conf, bounded: a check that hangs fails
// the test instead of stalling the suite.
func checkBindings(t *testing.T, conf string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lab.Within(10*time.Second))
	defer cancel()
	out, err := exec.CommandContext(ctx, lab.Binary(t), "-t", "-c", conf).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("nfdhcpd -t did not finish within 10s:\n%s", out)
	}
	return string(out), err
}

// A FIFO in datapath, there at start or made later, stops nothing: the
// daemon becomes ready and serves, and a binding written after the later
// FIFO and a SIGHUP (a full read of the folder) is followed. -t names it.
func TestFIFOInDatapath(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		if err := syscall.Mkfifo(filepath.Join(datapath, "tap11"), 0o644); err != nil {
			t.Fatal(err)
		}
		d := l.StartDaemon(conf) // waits a bounded time for ready
		if _, err := vm.UdhcpcTries(2); err != nil {
			t.Fatalf("not served with a FIFO beside its binding: %v", err)
		}
		if !strings.Contains(d.Log(), `level=WARN msg="not a regular file, ignored" part=bindings file=`+datapath+`/tap11`) {
			t.Errorf("no warning about the FIFO:\n%s", d.Log())
		}

		if err := syscall.Mkfifo(filepath.Join(datapath, "tap13"), 0o644); err != nil {
			t.Fatal(err)
		}
		d.Signal(syscall.SIGHUP)
		if !d.WaitLog("file="+datapath+"/tap13", lab.Within(2*time.Second)) {
			t.Fatalf("SIGHUP's full read did not reach the later FIFO:\n%s", d.Log())
		}
		vm12 := l.AddVM("tap12", "aa:6b:39:22:33:12")
		lab.WriteBinding(datapath, "tap12", lab.SeedBindingFor("tap12", "192.0.2.112", "aa:6b:39:22:33:12", "vm-twelve"))
		got, err := vm12.UdhcpcTries(2)
		if err != nil {
			t.Fatalf("a binding written after a FIFO and a SIGHUP is not served: %v", err)
		}
		want(t, "udhcpc tap12", got, map[string]string{"ip": "192.0.2.112", "hostname": "vm-twelve"})

		out, err := checkBindings(t, conf)
		if err == nil || !strings.Contains(out, datapath+"/tap11: a FIFO, not a regular file") {
			t.Errorf("-t with FIFOs in datapath: %v\n%s", err, out)
		}
	})
}
