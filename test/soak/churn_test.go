package soak

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// churnVM is cycle i's VM: a fresh TAP name, MAC and address each cycle.
func churnVM(i int) (tap string, mac net.HardwareAddr, ip net.IP, binding string) {
	tap = fmt.Sprintf("tapc%d", i) // tap+: matched by the seed's iptables rules
	mac = net.HardwareAddr{0x02, 0x5a, 0, byte(i >> 16), byte(i >> 8), byte(i)}
	ip = net.IPv4(10, byte(i>>16), byte(i>>8), byte(i%250+2))
	binding = fmt.Sprintf("MAC=%s\nHOSTNAME=c%d\nIP=%s\nSUBNET=10.0.0.0/8\nGATEWAY=10.0.0.1\n", mac, i, ip)
	return
}

// churnCycle is one VM's life: TAP and binding made (in either order),
// a lease, then both removed (in either order).
func churnCycle(w *nsWorker, datapath string, i int) (time.Duration, error) {
	tap, mac, ip, text := churnVM(i)
	bindingFirst := i%2 == 0
	if bindingFirst {
		if err := lab.WriteBinding(datapath, tap, text); err != nil {
			return 0, err
		}
	}
	f, err := w.openTAP(tap)
	if err != nil {
		return 0, err
	}
	if !bindingFirst {
		if err := lab.WriteBinding(datapath, tap, text); err != nil {
			f.Close()
			return 0, err
		}
	}
	dt, err := lease(f, mac, ip, uint32(i)<<8, 10*time.Second)
	if i%4 < 2 {
		f.Close()
		os.Remove(filepath.Join(datapath, tap))
	} else {
		os.Remove(filepath.Join(datapath, tap))
		f.Close()
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", tap, err)
	}
	return dt, nil
}

// cycleOf reads the cycle number back from churnCycle's error.
func cycleOf(err error) int {
	var n int
	fmt.Sscanf(err.Error(), "cycle %d:", &n)
	return n
}

// Thousands of VMs created, leased, and removed one after another with the
// daemon running throughout: afterwards nothing of theirs remains, and the
// daemon's memory, fds and goroutines are where they were after the first
// 500.
func TestSoakChurn(t *testing.T) {
	requireSoak(t)
	cycles := envInt(t, "SOAK_CYCLES", 10000)
	const warmup = 500
	l, d, datapath := start(t)
	w, err := newNSWorker(l.HostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	chain := func() string {
		return l.Host("iptables", "-w", "-t", "mangle", "-S") + l.Host("ip6tables", "-w", "-t", "mangle", "-S")
	}
	rulesBefore := chain()
	var pinsBefore []string
	if tcMode() {
		pinsBefore = pins(t, l.PinPath)
	}

	// Several VMs come and go at once, as on a hypervisor: lanes of
	// cycles run side by side, each its own sequence.
	const lanes = 8
	took := make([]time.Duration, cycles)
	var atWarmup usage
	startAt := time.Now()
	for base := 0; base < cycles; {
		// Up to the warm-up point, then to the end: the measurement
		// happens between the two, with no cycle in flight.
		stop := cycles
		if base < warmup && cycles > warmup {
			stop = warmup
		}
		errc := make(chan error, lanes)
		for lane := range lanes {
			go func() {
				for i := base + lane; i < stop; i += lanes {
					dt, err := churnCycle(w, datapath, i)
					if err != nil {
						errc <- fmt.Errorf("cycle %d: %w", i, err)
						return
					}
					took[i] = dt
					if (i+1)%1000 == 0 {
						t.Logf("%d cycles, %v", i+1, time.Since(startAt).Round(time.Second))
					}
				}
				errc <- nil
			}()
		}
		failed := false
		for range lanes {
			if err := <-errc; err != nil {
				failed = true
				t.Error(err)
				tap := fmt.Sprintf("tapc%d ", cycleOf(err))
				for _, line := range strings.Split(d.Log(), "\n") {
					if strings.Contains(line+" ", "="+tap) || strings.Contains(line, "/"+strings.TrimSpace(tap)+" ") {
						t.Log(line)
					}
				}
			}
		}
		if failed {
			t.FailNow()
		}
		base = stop
		if stop == warmup {
			time.Sleep(time.Second) // let removals settle before measuring
			atWarmup = readUsage(t, l)
			t.Logf("after %d cycles: %s", stop, atWarmup)
		}
	}
	elapsed := time.Since(startAt)

	// Everything removed is gone from the daemon's table...
	if !waitUntil(10*time.Second, func() bool { return len(bindingRows(t, l)) == 0 }) {
		t.Errorf("the daemon's table still has %d rows", len(bindingRows(t, l)))
	}
	time.Sleep(time.Second)
	end := readUsage(t, l)
	slices.Sort(took)
	t.Logf("%d cycles in %v (%.0f/s); lease after TAP and binding: p50 %v p99 %v max %v",
		cycles, elapsed.Round(time.Second), float64(cycles)/elapsed.Seconds(),
		took[len(took)/2].Round(100*time.Microsecond), took[len(took)*99/100].Round(100*time.Microsecond), took[len(took)-1].Round(time.Millisecond))
	t.Logf("after %d cycles: %s (after %d: %s)", cycles, end, warmup, atWarmup)

	// ...memory, fds and goroutines are flat...
	for _, m := range []struct {
		name       string
		warm, last float64
	}{{"RSS", atWarmup.RSS, end.RSS}, {"open fds", atWarmup.FDs, end.FDs}, {"goroutines", atWarmup.Goroutines, end.Goroutines}} {
		if math.Abs(m.last-m.warm) > 0.10*m.warm {
			t.Errorf("%s: %.0f after %d cycles, %.0f after %d: more than 10%% apart", m.name, m.last, cycles, m.warm, warmup)
		}
	}

	// ...and nothing is left in the kernel for TAPs that are gone.
	if links := l.Host("ip", "-o", "link", "show"); strings.Count(strings.TrimSpace(links), "\n") != 0 {
		t.Errorf("links left besides lo:\n%s", links)
	}
	if after := chain(); after != rulesBefore {
		t.Errorf("netfilter rules changed:\nbefore:\n%s\nafter:\n%s", rulesBefore, after)
	}
	if tcMode() {
		if after := pins(t, l.PinPath); !slices.Equal(after, pinsBefore) {
			t.Errorf("pinned objects: %v, want as at start %v", after, pinsBefore)
		}
		ifaces, err := loader.PinnedIfaces(l.PinPath)
		if err != nil || len(ifaces) != 0 {
			t.Errorf("ifaces map: %d entries left (%v)", len(ifaces), err)
		}
		limits, err := loader.PinnedLimits(l.PinPath)
		if err != nil || len(limits) != 0 {
			t.Errorf("limits map: %d entries left (%v)", len(limits), err)
		}
		c, err := loader.PinnedStats(l.PinPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("classifier counters: %+v", c)
		if c.Unbound != 0 {
			t.Logf("%d packets reached the classifier on a TAP without an entry (sent between detach and removal)", c.Unbound)
		}
	}
	if strings.Contains(d.Log(), "level=ERROR") {
		t.Errorf("the daemon logged errors")
	}
}
