package e2e

import (
	"testing"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// steering is one way packets reach the daemon's queues.
type steering struct {
	name string
	// setup prepares the host namespace before the daemon starts and returns
	// the configuration's replacements.
	setup func(l *lab.Lab) []string
	// bridgeRules makes packets arriving on a bridge without br_netfilter
	// reach the queues (in tc mode the classifier's mark already does).
	bridgeRules func(l *lab.Lab, bridge string)
}

var iptablesMode = steering{
	name: "iptables",
	setup: func(l *lab.Lab) []string {
		l.SeedRules()
		return []string{"steering", "iptables"}
	},
	bridgeRules: func(l *lab.Lab, bridge string) { l.QueueRules(bridge) },
}

var tcMode = steering{
	name: "tc",
	setup: func(l *lab.Lab) []string {
		return []string{"steering", "tc", "bpf_pin_path", l.BPFFS()}
	},
	bridgeRules: func(*lab.Lab, string) {},
}

// tcClsBPF is tc steering with the classifier attached the pre-6.6 way, forced.
var tcClsBPF = steering{
	name: "tc-clsbpf",
	setup: func(l *lab.Lab) []string {
		return []string{"steering", "tc", "attach", "tc", "bpf_pin_path", l.BPFFS()}
	},
	bridgeRules: func(*lab.Lab, string) {},
}

// modes lists the steering modes to run: all by default, or those named in
// $NFDHCPD_E2E_STEERING (comma-separated).
func modes(t *testing.T) []steering {
	var out []steering
	for _, m := range []steering{iptablesMode, tcMode, tcClsBPF} {
		if lab.Selected("NFDHCPD_E2E_STEERING", m.name) {
			out = append(out, m)
		}
	}
	return out
}

// forEachMode runs the test once per steering mode.
func forEachMode(t *testing.T, fn func(t *testing.T, m steering)) {
	for _, m := range modes(t) {
		t.Run(m.name, func(t *testing.T) { fn(t, m) })
	}
}

// seedLab makes a lab with the seed's binding on tap10 and a VM behind it,
// and starts the daemon with the seed's configuration plus replace.
func seedLab(t *testing.T, m steering, replace ...string) (*lab.Lab, *lab.VM, *lab.Daemon, string) {
	l := lab.New(t)
	vm := l.AddVM("tap10", lab.SeedMAC)
	repl := append(m.setup(l), replace...)
	conf, datapath := l.SeedConfig(repl...)
	if err := lab.WriteBinding(datapath, "tap10", lab.SeedBinding); err != nil {
		t.Fatal(err)
	}
	d := l.StartDaemon(conf)
	return l, vm, d, datapath
}
