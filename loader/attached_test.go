package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// removeOursByHand deletes our attachment to ifc behind the loader's back,
// as an administrator's `tc filter del` or `rm` of the link pin would.
func removeOursByHand(t *testing.T, l *Loader, lab *lab, ifc Iface, method string) {
	t.Helper()
	switch method {
	case MethodTCX:
		// As `bpftool link detach` and `rm` of the pin would.
		pin := filepath.Join(lab.pinPath, linksDir, linkPinName(ifc.Index, ifc.Name))
		lk, err := link.LoadPinnedLink(pin, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer lk.Close()
		if err := lk.Detach(); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(pin); err != nil {
			t.Fatal(err)
		}
	case MethodClsBPF:
		ours, _, err := l.clsFilters(ifc.Index)
		if err != nil || len(ours) != 1 {
			t.Fatalf("our filters on %s: %v, %v", ifc.Name, ours, err)
		}
		if err := netlink.FilterDel(ours[0]); err != nil {
			t.Fatal(err)
		}
	}
	if tcx, cls := attachment(t, l, ifc.Index); tcx+cls != 0 {
		t.Fatalf("%s: %d tcx + %d cls_bpf attachments left after removing ours by hand", ifc.Name, tcx, cls)
	}
}

// Method answers from the loader's record, not from the kernel: after our
// attachment is removed by hand it still reports what the loader attached
// (the README says so), and the next Attach puts it back.
func TestMethodIsTheRecord(t *testing.T) {
	for _, tt := range []struct {
		mode AttachMode
		want string
	}{
		{AttachTCX, MethodTCX},
		{AttachTC, MethodClsBPF},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			lab := newLab(t)
			host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
			l := openLoader(t, lab.config(t, tt.mode))
			ifc := Iface{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}
			if err := l.Attach(ifc); err != nil {
				t.Fatal(err)
			}
			wantAttached(t, l, ifc, tt.want)

			removeOursByHand(t, l, lab, ifc, tt.want)
			if got := l.Method(ifc.Index); got != tt.want {
				t.Errorf("Method after our attachment was removed by hand = %q, want the record %q", got, tt.want)
			}
			if err := l.Attach(ifc); err != nil {
				t.Fatalf("Attach after our attachment was removed by hand: %v", err)
			}
			wantAttached(t, l, ifc, tt.want)
		})
	}
}

// A scrape (Method for every TAP, the classifier's counters, the rate
// limit buckets) takes none of the lock an attach holds, so a loop of
// scrapes cannot delay an attach, and an attach cannot stall a scrape.
// The test holds that lock, as a TCX attach does through an RCU grace
// period, while a scrape runs to its end.
func TestScrapeTakesNoAttachLock(t *testing.T) {
	lab := newLab(t)
	ifcs := lab.taps(t, 3)
	l := openLoader(t, lab.config(t, AttachTC))
	want := map[int]string{}
	for _, ifc := range ifcs[:2] {
		if err := l.Attach(ifc); err != nil {
			t.Fatal(err)
		}
		want[ifc.Index] = MethodClsBPF
	}

	type scrape struct {
		methods map[int]string
		err     error
	}
	done := make(chan scrape, 1)
	l.mu.Lock()
	go func() {
		s := scrape{methods: map[int]string{}}
		for _, ifc := range ifcs {
			if m := l.Method(ifc.Index); m != "" {
				s.methods[ifc.Index] = m
			}
		}
		if _, err := l.Stats(); err != nil {
			s.err = err
		} else if _, err := l.Limits(); err != nil {
			s.err = err
		}
		done <- s
	}()
	var got scrape
	select {
	case got = <-done:
		l.mu.Unlock()
	case <-time.After(30 * time.Second):
		// Not a bound on its speed: a scrape that takes the lock never
		// ends while the test holds it.
		l.mu.Unlock()
		t.Fatal("the scrape waited for the attach lock")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	if fmt.Sprint(got.methods) != fmt.Sprint(want) {
		t.Errorf("scrape during an attach = %v, want %v", got.methods, want)
	}
}

// A closed loader's counters cannot be read, and it reports nothing
// attached, without a race with the Close (go test -race).
func TestScrapeDuringClose(t *testing.T) {
	lab := newLab(t)
	ifcs := lab.taps(t, 1)
	l := openLoader(t, lab.config(t, AttachTC))
	if err := l.Attach(ifcs[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			l.Stats()
			l.Limits()
			l.Method(ifcs[0].Index)
		}
	}()
	l.Close()
	<-done
	if _, err := l.Stats(); err == nil {
		t.Error("Stats after Close: no error")
	}
	if _, err := l.Limits(); err == nil {
		t.Error("Limits after Close: no error")
	}
	if m := l.Method(ifcs[0].Index); m != "" {
		t.Errorf("Method after Close = %q, want nothing", m)
	}
}
