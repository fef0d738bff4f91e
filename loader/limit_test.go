package loader

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
)

// An interval no test outlives: between two runs of the program the
// bucket refills by nothing, so every count below is exact however slow
// the machine. Refill is tested by moving a bucket's tat by hand.
const frozenInterval = 1 << 50 // ns, about 13 days

// setBucket writes interval and burst into the config map directly, past
// RateLimit's per-second arithmetic, so that the clock cannot move counts.
func setBucket(t *testing.T, objs *classifierObjects, interval, burst uint64) {
	t.Helper()
	var c classifierMarkConfig
	if err := objs.Config.Lookup(uint32(0), &c); err != nil {
		t.Fatal(err)
	}
	c.IntervalNs, c.BurstNs = interval, interval*burst
	if err := objs.Config.Put(uint32(0), &c); err != nil {
		t.Fatal(err)
	}
}

// runN runs the classifier n times on frame as if received on ifindex and
// counts the verdicts.
func runN(t *testing.T, prog *ebpf.Program, frame []byte, ifindex uint32, n int) (passed, dropped int) {
	t.Helper()
	for range n {
		ret, err := prog.Run(&ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256),
			Context: skbCtx{Ifindex: ifindex}, ContextOut: make([]byte, skbSize)})
		if err != nil {
			t.Fatal(err)
		}
		switch ret {
		case tcActUnspec:
			passed++
		case tcActShot:
			dropped++
		default:
			t.Fatalf("verdict %#x", ret)
		}
	}
	return passed, dropped
}

func bucketOf(t *testing.T, m *ebpf.Map, ifindex uint32) (classifierIfaceLimit, bool) {
	t.Helper()
	var v classifierIfaceLimit
	err := m.Lookup(classifierIfaceKey{Ifindex: ifindex}, &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return v, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func TestClassifierRateLimit(t *testing.T) {
	lab := newLab(t) // a second device, so that two TAPs' buckets meet
	host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
	tapA, tapB := uint32(loIfindex), uint32(host.Attrs().Index)
	objs := loadUnpinned(t, Config{})
	prog := objs.NfdhcpdClassify
	for _, idx := range []uint32{tapA, tapB} {
		putIface(t, objs.Ifaces, idx, vmMAC, AllKinds, 0)
	}
	dhcp := dhcpDiscover(vmMAC)

	// Off: nothing is limited and no bucket is made.
	resetStats(t, objs.Stats)
	if p, d := runN(t, prog, dhcp, tapA, 100); p != 100 || d != 0 {
		t.Fatalf("limit off: %d passed, %d dropped; want 100, 0", p, d)
	}
	if _, ok := bucketOf(t, objs.Limits, tapA); ok {
		t.Fatalf("limit off made a bucket")
	}

	setBucket(t, objs, frozenInterval, 5)
	resetStats(t, objs.Stats)

	// A fresh bucket holds exactly the burst.
	if p, d := runN(t, prog, dhcp, tapA, 8); p != 5 || d != 3 {
		t.Fatalf("burst: %d passed, %d dropped; want 5, 3", p, d)
	}
	// Other kinds draw on the same bucket.
	rs := ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(133)))
	if p, d := runN(t, prog, rs, tapA, 2); p != 0 || d != 2 {
		t.Fatalf("rs on an empty bucket: %d passed, %d dropped; want 0, 2", p, d)
	}
	// Traffic that is not ours never touches the bucket.
	arp := ether(vmMAC, etherARP, make([]byte, 28))
	if p, d := runN(t, prog, arp, tapA, 10); p != 10 || d != 0 {
		t.Fatalf("arp: %d passed, %d dropped; want 10, 0", p, d)
	}
	// Spoofed packets are dropped as spoofed and take no token.
	if p, d := runN(t, prog, dhcpDiscover(otherMAC), tapB, 3); p != 0 || d != 3 {
		t.Fatalf("spoofed: %d passed, %d dropped; want 0, 3", p, d)
	}
	// TAP B's bucket is its own: A's excess leaves it full.
	if p, d := runN(t, prog, dhcp, tapB, 6); p != 5 || d != 1 {
		t.Fatalf("other tap: %d passed, %d dropped; want 5, 1", p, d)
	}

	got, err := readStats(objs.Stats)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{DHCP: KindStats{Marked: 10, Limited: 4, Spoofed: 3}, RS: KindStats{Limited: 2}}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	limits, err := readLimits(objs.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if len(limits) != 2 || limits[int(tapA)] != (TapLimit{Passed: 5, Limited: 5}) || limits[int(tapB)] != (TapLimit{Passed: 5, Limited: 1}) {
		t.Errorf("limits = %+v, want %d:{5 5} %d:{5 1}", limits, tapA, tapB)
	}

	// Refill: two intervals' worth of time admits exactly two more.
	b, _ := bucketOf(t, objs.Limits, tapA)
	b.Tat -= 2 * frozenInterval
	if err := objs.Limits.Put(classifierIfaceKey{Ifindex: tapA}, &b); err != nil {
		t.Fatal(err)
	}
	if p, d := runN(t, prog, dhcp, tapA, 4); p != 2 || d != 2 {
		t.Fatalf("after two intervals: %d passed, %d dropped; want 2, 2", p, d)
	}
	// A bucket idle for ages refills to the burst, not beyond.
	b, _ = bucketOf(t, objs.Limits, tapA)
	b.Tat = 1
	if err := objs.Limits.Put(classifierIfaceKey{Ifindex: tapA}, &b); err != nil {
		t.Fatal(err)
	}
	if p, d := runN(t, prog, dhcp, tapA, 7); p != 5 || d != 2 {
		t.Fatalf("after idling: %d passed, %d dropped; want 5, 2", p, d)
	}
}

// Several CPUs drawing on one TAP's bucket at once admit exactly the burst
// and count every packet once: the spin lock, not luck, keeps it so.
func TestClassifierRateLimitConcurrent(t *testing.T) {
	objs := loadUnpinned(t, Config{})
	putIface(t, objs.Ifaces, loIfindex, vmMAC, AllKinds, 0)
	const burst, workers, each = 1000, 4, 1000
	setBucket(t, objs, frozenInterval, burst)
	resetStats(t, objs.Stats)
	dhcp := dhcpDiscover(vmMAC)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			_, err := objs.NfdhcpdClassify.Run(&ebpf.RunOptions{Data: dhcp, DataOut: make([]byte, len(dhcp)+256),
				Context: skbCtx{Ifindex: loIfindex}, ContextOut: make([]byte, skbSize), Repeat: each})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, ok := bucketOf(t, objs.Limits, loIfindex)
	if !ok || b.Passed != burst || b.Limited != workers*each-burst {
		t.Errorf("bucket = %+v (present %v), want passed %d limited %d", b, ok, burst, workers*each-burst)
	}
	got, err := readStats(objs.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if got.DHCP.Marked != burst || got.DHCP.Limited != workers*each-burst {
		t.Errorf("stats = %+v, want marked %d limited %d", got.DHCP, burst, workers*each-burst)
	}
}

func TestRateLimitBucket(t *testing.T) {
	for _, tt := range []struct {
		r                 RateLimit
		interval, burstNs uint64
		s                 string
	}{
		{RateLimit{}, 0, 0, "off"},
		{RateLimit{PerSecond: 200, Burst: 50}, 5_000_000, 250_000_000, "200/s burst 50"},
		{RateLimit{PerSecond: 1, Burst: 1}, 1_000_000_000, 1_000_000_000, "1/s burst 1"},
		{RateLimit{PerSecond: 3, Burst: 2}, 333_333_333, 666_666_666, "3/s burst 2"},
	} {
		i, b := tt.r.bucket()
		if i != tt.interval || b != tt.burstNs || tt.r.String() != tt.s {
			t.Errorf("%+v: bucket = %d, %d, %q; want %d, %d, %q", tt.r, i, b, tt.r.String(), tt.interval, tt.burstNs, tt.s)
		}
	}
}

// Detach and Reconcile leave no bucket behind for a TAP that is gone.
func TestLimitsEntryRemoved(t *testing.T) {
	lab := newLab(t)
	host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
	cfg := lab.config(t, AttachAuto)
	cfg.Limit = RateLimit{PerSecond: 100, Burst: 10}
	l := openLoader(t, cfg)
	idx := host.Attrs().Index
	ifc := Iface{Index: idx, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}
	key := classifierIfaceKey{Ifindex: uint32(idx)}
	seed := func() {
		t.Helper()
		if err := l.Attach(ifc); err != nil {
			t.Fatal(err)
		}
		// What the classifier does on the TAP's first packet.
		if err := l.limits.Put(key, &classifierIfaceLimit{Passed: 1}); err != nil {
			t.Fatal(err)
		}
		if got, err := l.Limits(); err != nil || got[idx] != (TapLimit{Passed: 1}) {
			t.Fatalf("Limits = %v, %v", got, err)
		}
	}

	seed()
	if err := l.Detach(idx, "tap0"); err != nil {
		t.Fatal(err)
	}
	if _, ok := bucketOf(t, l.limits, uint32(idx)); ok {
		t.Errorf("Detach left the limits entry")
	}

	seed()
	if _, err := l.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := bucketOf(t, l.limits, uint32(idx)); ok {
		t.Errorf("Reconcile left the limits entry of an unwanted TAP")
	}
	if _, ok := mapEntry(t, l, idx); ok {
		t.Errorf("Reconcile left the ifaces entry of an unwanted TAP")
	}
}
