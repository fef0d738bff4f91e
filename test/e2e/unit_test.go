package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// unitCaps are contrib/systemd/nfdhcpd.service's AmbientCapabilities= and
// CapabilityBoundingSet=, in setpriv's spelling.
const unitCaps = "-all,+net_admin,+net_raw,+bpf,+perfmon"

// TestStartedAsUnit starts the daemon the way the systemd unit does: as
// nobody from the start (User=), with only the unit's capabilities, in
// folders the unit prepares (RuntimeDirectory=, ExecStartPre= for the pin
// folder), and checks that a VM present at start and one added later are
// both served.
func TestStartedAsUnit(t *testing.T) {
	lab.RequireTools(t, "prlimit", "setpriv", "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		vm := l.AddVM("tap10", lab.SeedMAC)
		repl := m.setup(l)
		conf, datapath := l.SeedConfig(repl...)
		lab.WriteBinding(datapath, "tap10", lab.SeedBinding)
		const nobody = 65534
		run := filepath.Join(l.Dir, "run") // RuntimeDirectory=nfdhcpd
		os.MkdirAll(run, 0o755)
		os.Chown(run, nobody, nobody)
		if l.PinPath != "" { // ExecStartPre=+...
			os.MkdirAll(l.PinPath, 0o700)
			os.Chown(l.PinPath, nobody, nobody)
			os.Chmod(filepath.Dir(l.PinPath), 0o701)
		}
		// prlimit: LimitMEMLOCK=.
		l.Wrapper = []string{"prlimit", unitMemlock(t), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=" + unitCaps, "--ambient-caps=" + unitCaps, "--bounding-set=" + unitCaps}
		d := l.StartDaemon(conf)

		st := procStatus(t, d.Pid())
		if st["Uid"] != "65534 65534 65534 65534" {
			t.Errorf("Uid: %q, want nobody's", st["Uid"])
		}
		// CAP_NET_ADMIN, CAP_NET_RAW, CAP_PERFMON, CAP_BPF: the unit's, kept.
		for _, k := range []string{"CapEff", "CapAmb", "CapBnd"} {
			if st[k] != "000000c000003000" {
				t.Errorf("%s = %s, want 000000c000003000", k, st[k])
			}
		}
		got, err := vm.Udhcpc()
		if err != nil || got["ip"] != "192.0.2.100" {
			t.Fatalf("udhcpc on the VM present at start: %v %v", got, err)
		}
		// A TAP that appears later is attached by the unprivileged daemon.
		vm2 := l.AddVM("tap11", "aa:6b:39:22:33:11")
		lab.WriteBinding(datapath, "tap11", lab.SeedBindingFor("tap11", "192.0.2.111", "aa:6b:39:22:33:11", "later-vm"))
		var got2 lab.Vars
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if got2, err = vm2.UdhcpcTries(2); err == nil {
				break
			}
		}
		if err != nil || got2["ip"] != "192.0.2.111" {
			t.Errorf("udhcpc on the VM added later: %v %v", got2, err)
		}
		if took, err := d.Stop(); err != nil || took > lab.Within(time.Second) {
			t.Errorf("stop: %v after %v", err, took)
		}
		if _, err := os.Stat(filepath.Join(run, "nfdhcpd.pid")); !os.IsNotExist(err) {
			t.Errorf("pidfile left after exit: %v", err)
		}
	})
}
