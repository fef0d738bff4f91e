package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// unitCaps are contrib/systemd/nfdhcpd.service's AmbientCapabilities=,
// which its CapabilityBoundingSet= must equal, in setpriv's spelling.
func unitCaps(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile("../../contrib/systemd/nfdhcpd.service")
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]string{}
	for _, line := range strings.Split(string(text), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && (k == "AmbientCapabilities" || k == "CapabilityBoundingSet") {
			sets[k] = v
		}
	}
	if sets["AmbientCapabilities"] == "" || sets["AmbientCapabilities"] != sets["CapabilityBoundingSet"] {
		t.Fatalf("the unit's capability sets differ or are missing: %v", sets)
	}
	caps := "-all"
	for _, c := range strings.Fields(sets["AmbientCapabilities"]) {
		caps += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	return caps
}

// TestStartedAsUnit starts the daemon the way the systemd unit does: as
// nobody from the start (User=), with only the unit's capabilities, in
// folders the unit prepares (RuntimeDirectory=, ExecStartPre= for the pin
// folder, under a bpffs left at mode 0700), and checks that a VM present
// at start and one added later are both served, and that the start-only
// capability (CAP_DAC_READ_SEARCH) is gone.
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
		}
		// prlimit: LimitMEMLOCK=.
		caps := unitCaps(t)
		l.Wrapper = []string{"prlimit", unitMemlock(t), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps}
		d := l.StartDaemon(conf)

		st := procStatus(t, d.Pid())
		if st["Uid"] != "65534 65534 65534 65534" {
			t.Errorf("Uid: %q, want nobody's", st["Uid"])
		}
		// What the steering needs stays (CAP_NET_ADMIN, CAP_NET_RAW, and
		// CAP_PERFMON, CAP_BPF in tc steering); CAP_DAC_READ_SEARCH goes.
		want := map[string]string{"iptables": "0000000000003000", "tc": "000000c000003000", "tc-clsbpf": "000000c000003000"}
		wantCaps(t, st, want[m.name])
		if st["CapBnd"] != "000000c000003004" {
			t.Errorf("CapBnd = %s, want the unit's 000000c000003004", st["CapBnd"])
		}
		if fi, err := os.Stat(filepath.Join(l.Dir, "bpffs")); err == nil && fi.Mode().Perm() != 0o700 {
			t.Errorf("the bpffs above the pin folder is %v, want 0700 untouched", fi.Mode().Perm())
		}
		// Root's /proc/net/netfilter/nfnetlink_queue, opened at start.
		if strings.Contains(d.Log(), "no NFQUEUE drop counters") {
			t.Errorf("the NFQUEUE counters were not opened at start:\n%s", d.Log())
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
