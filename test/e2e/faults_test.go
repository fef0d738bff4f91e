package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// faultVM is a TAP the test plays the VM on, with its binding.
type faultVM struct {
	tap string
	f   *os.File
	mac net.HardwareAddr
	ip  string
}

func faultVMs(t *testing.T, l *lab.Lab, datapath string, n, first int) []*faultVM {
	var vms []*faultVM
	for i := range n {
		k := first + i
		vm := &faultVM{tap: fmt.Sprintf("tap%d", k), ip: fmt.Sprintf("192.0.2.%d", k)}
		vm.mac, _ = net.ParseMAC(fmt.Sprintf("aa:6b:39:22:%02x:%02x", k/256, k%256))
		vm.f = l.OpenTAP(vm.tap)
		if err := lab.WriteBinding(datapath, vm.tap, tapBinding(vm.tap, vm.mac.String(), vm.ip)); err != nil {
			t.Fatal(err)
		}
		vms = append(vms, vm)
	}
	return vms
}

// servedWithin has every VM ask until answered, all at once, and returns
// how long each took from start; a VM not answered by deadline gets -1.
func servedWithin(t *testing.T, vms []*faultVM, start time.Time, deadline time.Duration) []time.Duration {
	took := make([]time.Duration, len(vms))
	var wg sync.WaitGroup
	for i, vm := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took[i] = -1
			for xid := uint32(0x5000 + i*0x1000); time.Since(start) < deadline; xid++ {
				if _, err := vm.f.Write(discover(t, vm.mac, xid)); err != nil {
					t.Error(err)
					return
				}
				if o := readDHCP(t, vm.f, xid, 50*time.Millisecond); o != nil {
					if !o.YourClientIP.Equal(net.ParseIP(vm.ip)) {
						t.Errorf("%s: yiaddr %v, want %s", vm.tap, o.YourClientIP, vm.ip)
					}
					took[i] = time.Since(start)
					return
				}
			}
		}()
	}
	wg.Wait()
	return took
}

// flood writes DISCOVERs from vm as fast as it can until stop is closed.
func flood(t *testing.T, vm *faultVM, stop <-chan struct{}, sent *atomic.Int64) {
	frame := discover(t, vm.mac, 0xf100d)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := vm.f.Write(frame); err == nil {
			sent.Add(1)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// kill -9 while one VM floods and the others are served; while it is down,
// one binding is deleted and one TAP is removed. Within 2 s of the restart
// every remaining VM is served again, and in tc steering each has exactly
// one attachment while nothing is left for the deleted ones. (TestTCKill9
// shows that other traffic flows while the daemon is down.)
func TestFaultKill9UnderLoad(t *testing.T) {
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		vms := faultVMs(t, l, datapath, 7, 50)
		flooder, live, unbound, removed := vms[0], vms[1:5], vms[5], vms[6]
		d := l.StartDaemon(conf)
		if took := servedWithin(t, vms[1:], time.Now(), 5*time.Second); contains(took, -1) {
			t.Fatalf("not every VM served before the fault: %v", took)
		}
		removedIndex := l.Ifindex(removed.tap)

		stop := make(chan struct{})
		var sent atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); flood(t, flooder, stop, &sent) }()
		defer func() { close(stop); wg.Wait() }()

		time.Sleep(300 * time.Millisecond) // under load
		d.Kill()
		if err := os.Remove(filepath.Join(datapath, unbound.tap)); err != nil {
			t.Fatal(err)
		}
		removed.f.Close()
		l.HostTry("ip", "link", "del", removed.tap) // gone already when its fd closed

		start := time.Now()
		l.StartDaemon(conf)
		took := servedWithin(t, live, start, lab.Within(2*time.Second))
		t.Logf("after kill -9 under a flood of %d DISCOVERs: served again after %v (from the restart)", sent.Load(), took)
		for i, d := range took {
			if d < 0 {
				t.Errorf("%s not served within 2 s of the restart", live[i].tap)
			}
		}
		if m.name == "iptables" {
			return
		}
		for _, vm := range append([]*faultVM{flooder}, live...) {
			if n := attachments(t, l, vm.tap, l.Ifindex(vm.tap)); n != 1 {
				t.Errorf("%s: %d attachments, want 1", vm.tap, n)
			}
		}
		unboundIndex := l.Ifindex(unbound.tap)
		if n := attachments(t, l, unbound.tap, unboundIndex); n != 0 {
			t.Errorf("%s (binding deleted while down): %d attachments, want 0", unbound.tap, n)
		}
		want := []int{l.Ifindex(flooder.tap)}
		for _, vm := range live {
			want = append(want, l.Ifindex(vm.tap))
		}
		sort.Ints(want)
		if got := ifaceKeys(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ifaces map keys %v, want exactly the bound TAPs %v (not %d, %d)", got, want, unboundIndex, removedIndex)
		}
		limits, err := loader.PinnedLimits(l.PinPath)
		if err != nil {
			t.Fatal(err)
		}
		for idx := range limits {
			if idx == unboundIndex || idx == removedIndex {
				t.Errorf("limits map keeps ifindex %d of a TAP that is gone", idx)
			}
		}
		for _, idx := range []int{unboundIndex, removedIndex} {
			if pins, _ := lab.PinnedTCXLinks(l.PinPath, idx); len(pins) != 0 {
				t.Errorf("tcx link pins left for ifindex %d: %v", idx, pins)
			}
		}
	})
}

func contains(ds []time.Duration, v time.Duration) bool {
	for _, d := range ds {
		if d == v {
			return true
		}
	}
	return false
}

// pinLayout leaves in pinPath what a daemon of an older layout version
// (1 or 2) left: its maps (config holding its version), its program, and a
// TCX link on ifindex (where the kernel has TCX), from the classifier
// object that release shipped.
func pinLayout(t *testing.T, version int, pinPath, netnsName string, ifindex int, tap string, mac net.HardwareAddr) {
	t.Helper()
	// Before Linux 5.11 maps count against RLIMIT_MEMLOCK, as the daemon knows.
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpec(fmt.Sprintf("testdata/classifier_layout%d_bpfel.o", version))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(pinPath, "links"), 0o700); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: pinPath}})
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	// struct mark_config of layout 1: version, mask, four marks; layout 2
	// adds the rate limit's two u64 (left 0: no limit).
	cfg := make([]byte, spec.Maps["config"].ValueSize)
	for i, v := range []uint32{uint32(version), 0x0e000000, 0x02000000, 0x04000000, 0x06000000, 0x08000000} {
		binary.NativeEndian.PutUint32(cfg[4*i:], v)
	}
	if err := coll.Maps["config"].Put(uint32(0), cfg); err != nil {
		t.Fatal(err)
	}
	if err := coll.Maps["ifaces"].Put(uint32(ifindex), append(append([]byte{}, mac...), 0x0f, 0)); err != nil {
		t.Fatal(err)
	}
	prog := coll.Programs["nfdhcpd_classify"]
	if err := prog.Pin(filepath.Join(pinPath, "classifier")); err != nil {
		t.Fatal(err)
	}
	// ifindex is the lab's: attach from inside its namespace, never to
	// the host's interface of the same number.
	var lk link.Link
	inNetns(t, netnsName, func() {
		lk, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ebpf.AttachTCXIngress})
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Logf("no TCX on this kernel: the layout-%d pins hold no link", version)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	if err := lk.Pin(filepath.Join(pinPath, "links", fmt.Sprintf("%d-%s", ifindex, tap))); err != nil {
		t.Fatal(err)
	}
}

// inNetns runs fn on a thread switched into the named network namespace.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	if err := lab.InNamespace(name, func() error { fn(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// A start with a pin folder from an older layout (maps, program and a
// link of that release), a stale pidfile, and a bad binding among good
// ones: each is handled and logged, none is fatal, and every good VM is
// served with exactly one attachment.
func TestFaultStartLeftovers(t *testing.T) {
	forEachTCMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		conf, datapath := l.SeedConfig(m.setup(l)...)
		vms := faultVMs(t, l, datapath, 3, 60)
		bad := faultVMs(t, l, datapath, 1, 63)[0]
		lab.WriteBinding(datapath, bad.tap, tapBinding(bad.tap, bad.mac.String(), "198.51.100.7"))
		pinLayout(t, 1, l.PinPath, l.HostNS, l.Ifindex(vms[0].tap), vms[0].tap, vms[0].mac)
		pidfile := filepath.Join(l.Dir, "run", "nfdhcpd.pid")
		// What a crashed daemon leaves: its folder (handed to its user)
		// and its pidfile.
		os.MkdirAll(filepath.Dir(pidfile), 0o755)
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			os.Chown(filepath.Dir(pidfile), uid, gid)
		}
		os.WriteFile(pidfile, []byte("4194303\n"), 0o644)

		d := l.StartDaemon(conf)
		if took := servedWithin(t, vms, time.Now(), 5*time.Second); contains(took, -1) {
			t.Fatalf("not every good VM served: %v", took)
		}
		if got := servedWithin(t, []*faultVM{bad}, time.Now(), 500*time.Millisecond); got[0] >= 0 {
			t.Errorf("the bad binding was served")
		}
		log := d.Log()
		for _, want := range []string{
			"pinned maps from another layout, recreating",
			`msg="took over a stale pidfile (no daemon held its lock)"`,
			"old_pid=4194303",
			"tap63:2: IP: 198.51.100.7 is outside SUBNET 192.0.2.0/24",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("the log does not say %q", want)
			}
		}
		if b, _ := os.ReadFile(pidfile); strings.TrimSpace(string(b)) != fmt.Sprint(d.Pid()) {
			t.Errorf("pidfile holds %q, want the daemon's pid %d", b, d.Pid())
		}
		for _, vm := range vms {
			if n := attachments(t, l, vm.tap, l.Ifindex(vm.tap)); n != 1 {
				t.Errorf("%s: %d attachments, want 1", vm.tap, n)
			}
		}
		if n := attachments(t, l, bad.tap, l.Ifindex(bad.tap)); n != 0 {
			t.Errorf("%s (bad binding): %d attachments, want 0", bad.tap, n)
		}
	})
}

// With bpf_pin_path under /sys/fs/bpf and no bpffs mounted there, the
// daemon mounts one, says so, and steers. `ip netns exec` gives the daemon
// a fresh /sys in a mount namespace of its own, so this never mounts over
// the host's /sys/fs/bpf: the host's mount table is checked unchanged.
func TestFaultNoBPFFS(t *testing.T) {
	l := lab.New(t)
	before := bpfMounts(t)
	conf, datapath := l.SeedConfig("steering", "tc", "bpf_pin_path", "/sys/fs/bpf/"+l.Prefix)
	vm := faultVMs(t, l, datapath, 1, 70)[0]
	d := l.StartDaemon(conf)
	if took := servedWithin(t, []*faultVM{vm}, time.Now(), 5*time.Second); took[0] < 0 {
		t.Fatal("not served")
	}
	if log := d.Log(); !strings.Contains(log, `msg="no bpf filesystem was mounted; mounted one"`) || !strings.Contains(log, "path=/sys/fs/bpf") {
		t.Errorf("the mount is not logged")
	}
	if !strings.Contains(d.Log(), "steering=tc") {
		t.Errorf("not in tc steering")
	}
	if after := bpfMounts(t); after != before {
		t.Errorf("the host's bpf mounts changed:\nbefore %s\nafter  %s", before, after)
	}
}

// bpfMounts lists this process's bpf filesystem mounts.
func bpfMounts(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "bpf" {
			out = append(out, f[1])
		}
	}
	return strings.Join(out, " ")
}
