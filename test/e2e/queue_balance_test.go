package e2e

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// With queue_balance = 2 the daemon's rules spread DHCP over queues 42-43
// by CPU, and a DISCOVER written on either CPU is answered (each queue has
// its reader).
func TestQueueBalance(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs to reach both queues")
	}
	l := lab.New(t)
	tap := l.OpenTAP("tap30")
	conf, datapath := l.SeedConfig(append(tcMode.setup(l), "queue_balance", "2",
		"ipv6.rs_queue", "52", "ipv6.ns_queue", "62", "ipv6.dhcpv6_queue", "72")...)
	lab.WriteBinding(datapath, "tap30", strings.Replace(lab.SeedBinding, "INDEV=tap10", "INDEV=tap30", 1))
	l.StartDaemon(conf)
	if rules := l.Host("iptables", "-w", "-t", "mangle", "-S", "NFDHCPD"); !strings.Contains(rules, "--queue-balance 42:43") ||
		!strings.Contains(rules, "--queue-cpu-fanout") {
		t.Fatalf("the daemon's DHCP rule does not balance over 42:43:\n%s", rules)
	}
	mac, _ := net.ParseMAC(lab.SeedMAC)
	for cpu := 0; cpu < 2; cpu++ {
		var ok bool
		for i := 0; i < 5 && !ok; i++ {
			xid := uint32(0x3000 + cpu*16 + i)
			writeOnCPU(t, cpu, tap.Write, discover(t, mac, xid))
			ok = readDHCP(t, tap, xid, time.Second) != nil
		}
		if !ok {
			t.Errorf("no OFFER to a DISCOVER written on CPU %d", cpu)
		}
	}
}

// writeOnCPU writes frame from a thread that runs on cpu only, so that the
// kernel handles the frame there (a TAP write runs the receive path in the
// writer's context).
func writeOnCPU(t *testing.T, cpu int, write func([]byte) (int, error), frame []byte) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the pinned thread ends with the goroutine
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			done <- err
			return
		}
		_, err := write(frame)
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
