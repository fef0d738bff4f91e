package e2e

import (
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// tapBinding is the seed binding moved to another TAP, MAC and address.
func tapBinding(tap, mac, ip string) string {
	return strings.NewReplacer("INDEV=tap10", "INDEV="+tap, "MAC="+lab.SeedMAC, "MAC="+mac,
		"IP=192.0.2.100", "IP="+ip).Replace(lab.SeedBinding)
}

// waitOffer sends DISCOVERs from mac on tap until one is answered, as a
// client retries while its TAP is being steered.
func waitOffer(t *testing.T, tap *os.File, mac net.HardwareAddr, xid uint32, tries int) bool {
	t.Helper()
	for i := range tries {
		if _, err := tap.Write(discover(t, mac, xid+uint32(i))); err != nil {
			t.Fatal(err)
		}
		if readDHCP(t, tap, xid+uint32(i), time.Second) != nil {
			return true
		}
	}
	return false
}

// floodPair is a flooder on tap31 and a VM beside it on tap32, both bound
// and served once before the flood.
type floodPair struct {
	l               *lab.Lab
	d               *lab.Daemon
	flooder, victim *faultVM
}

func newFloodPair(t *testing.T, m steering) *floodPair {
	t.Helper()
	l := lab.New(t)
	flooder := &faultVM{tap: "tap31", f: l.OpenTAP("tap31"), ip: "192.0.2.131"}
	victim := &faultVM{tap: "tap32", f: l.OpenTAP("tap32"), ip: "192.0.2.132"}
	conf, datapath := l.SeedConfig(append(m.setup(l), "rate_limit", "100/s burst 20")...)
	flooder.mac, _ = net.ParseMAC("aa:6b:39:22:33:31")
	victim.mac, _ = net.ParseMAC("aa:6b:39:22:33:32")
	for _, vm := range []*faultVM{flooder, victim} {
		lab.WriteBinding(datapath, vm.tap, tapBinding(vm.tap, vm.mac.String(), vm.ip))
	}
	d := l.StartDaemon(conf)
	if !waitOffer(t, victim.f, victim.mac, 0x100, 5) || !waitOffer(t, flooder.f, flooder.mac, 0x200, 5) {
		t.Fatal("not served before the flood")
	}
	return &floodPair{l: l, d: d, flooder: flooder, victim: victim}
}

// floodBeside floods DISCOVERs from the flooder while the VM beside it asks
// 20 times, 100 ms apart; each ask must be answered. It returns how many the
// flooder sent.
func (p *floodPair) floodBeside(t *testing.T) int64 {
	t.Helper()
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); flood(t, p.flooder, stop, &sent) }()
	const asks = 20
	answered := 0
	for i := range asks {
		xid := uint32(0x300 + i)
		if _, err := p.victim.f.Write(discover(t, p.victim.mac, xid)); err != nil {
			t.Fatal(err)
		}
		if readDHCP(t, p.victim.f, xid, 2*time.Second) != nil {
			answered++
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("flood: %d DISCOVERs from tap31 in %d×100 ms; tap32 answered %d/%d", sent.Load(), asks, answered, asks)
	if answered != asks {
		t.Errorf("the VM beside the flood was answered %d times of %d", answered, asks)
	}
	return sent.Load()
}

// servedAgain fails t unless the flooder is served once its flood is over.
func (p *floodPair) servedAgain(t *testing.T) {
	t.Helper()
	if !waitOffer(t, p.flooder.f, p.flooder.mac, 0x400, 3) {
		t.Error("the flooder was not served again after its flood")
	}
}

// One VM flooding DISCOVERs is cut down to its rate limit in the kernel and
// counted there; a VM beside it is answered every time, and the flooder
// itself is served again once it calms down.
func TestRateLimitFlood(t *testing.T) {
	forEachTCMode(t, func(t *testing.T, m steering) {
		p := newFloodPair(t, m)
		sent := p.floodBeside(t)

		limits, err := loader.PinnedLimits(p.l.PinPath)
		if err != nil {
			t.Fatal(err)
		}
		fl, vl := limits[p.l.Ifindex("tap31")], limits[p.l.Ifindex("tap32")]
		t.Logf("limits: tap31 %d passed %d dropped; tap32 %d passed %d dropped", fl.Passed, fl.Limited, vl.Passed, vl.Limited)
		// Everything the flooder sent beyond its bucket was dropped in the
		// kernel: at most the burst plus 100/s over the run got through.
		if fl.Limited == 0 || fl.Passed+fl.Limited < uint64(sent) {
			t.Errorf("tap31: %d dropped, %d passed, of %d sent", fl.Limited, fl.Passed, sent)
		}
		if vl.Limited != 0 {
			t.Errorf("tap32 within its limit had %d packets dropped", vl.Limited)
		}
		if c := counters(t, p.l); c.DHCP.Limited != fl.Limited {
			t.Errorf("stats: DHCP limited %d, want tap31's %d", c.DHCP.Limited, fl.Limited)
		}
		p.servedAgain(t)
	})
}

// In iptables steering no classifier stands before the queue: the
// readers keep the same per-TAP bucket themselves. The flooder is answered
// no more than its bucket allows, the rest dropped unread and logged as a
// throttled warning, and the VM beside it is answered every time.
func TestRateLimitFloodIPTables(t *testing.T) {
	if !lab.Selected("NFDHCPD_E2E_STEERING", iptablesMode.name) {
		t.Skip("iptables steering is not among the selected modes")
	}
	p := newFloodPair(t, iptablesMode)
	start := time.Now()
	sent := p.floodBeside(t)
	took := time.Since(start)
	log := p.d.Log()
	answered := strings.Count(log, "iface=tap31 mac="+p.flooder.mac.String()+" kind=dhcp-discover xid=0xf100d outcome=answered")
	t.Logf("tap31: %d of %d DISCOVERs answered in %v", answered, sent, took.Round(time.Millisecond))
	if most := 20 + int(100*took.Seconds()) + 10; answered > most {
		t.Errorf("the flooder got %d answers in %v, more than its bucket's %d", answered, took, most)
	}
	if !regexp.MustCompile(`msg="requests over the TAP's rate limit dropped" .*iface=tap31 `).MatchString(log) {
		t.Errorf("no warning of the flood:\n%s", log)
	}
	p.servedAgain(t)
}
