package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// taps makes n bound TAPs (veth host ends) named tap0..tap<n-1>.
func (l *lab) taps(t *testing.T, n int) []Iface {
	t.Helper()
	var ifcs []Iface
	for i := range n {
		mac := slices.Clone(vmMAC)
		mac[5] = byte(i)
		host, _ := l.veth(t, fmt.Sprintf("tap%d", i), fmt.Sprintf("vm%d", i), mac)
		ifcs = append(ifcs, Iface{Index: host.Attrs().Index, Name: host.Attrs().Name, MAC: mac, Kinds: AllKinds})
	}
	return ifcs
}

// wantAttached checks that the kernel has our current program on ifc's
// ingress exactly once, by the method given, and the ifaces entry.
func wantAttached(t *testing.T, l *Loader, ifc Iface, method string) {
	t.Helper()
	tcx, cls := attachment(t, l, ifc.Index)
	want := map[string][2]int{MethodTCX: {1, 0}, MethodClsBPF: {0, 1}, "": {0, 0}}[method]
	if tcx != want[0] || cls != want[1] {
		t.Errorf("%s: %d tcx + %d cls_bpf attachments, want %s only", ifc.Name, tcx, cls, method)
	}
	if got := l.Method(ifc.Index); got != method {
		t.Errorf("%s: Method = %q, want %q", ifc.Name, got, method)
	}
	if _, ok := mapEntry(t, l, ifc.Index); ok != (method != "") {
		t.Errorf("%s: ifaces entry present = %v, want %v", ifc.Name, ok, method != "")
	}
}

// reconciled opens an auto-mode loader whose bulk limit is bulk, on n
// fresh TAPs, reconciles them and checks that each got want, as Reconcile
// reports it and as the kernel has it.
func reconciled(t *testing.T, n, bulk int, want string) (*Loader, []Iface) {
	t.Helper()
	lab := newLab(t)
	ifcs := lab.taps(t, n)
	l := openLoader(t, lab.config(t, AttachAuto))
	l.bulkTCX = bulk
	methods, err := l.Reconcile(context.Background(), ifcs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifcs {
		if methods[ifc.Index] != want {
			t.Errorf("Reconcile said %s is %q, want %q", ifc.Name, methods[ifc.Index], want)
		}
		wantAttached(t, l, ifc, want)
	}
	return l, ifcs
}

// Within the bulk limit Reconcile attaches TCX at once; past it, cls_bpf
// now and TCX by Upgrade. Either way every TAP ends on one TCX link, with
// no qdisc left behind, and a second Upgrade has nothing to do.
func TestReconcileBulk(t *testing.T) {
	for _, tt := range []struct {
		name       string
		taps, bulk int
		reconciled string
	}{
		{name: "within the limit", taps: 2, bulk: 2, reconciled: MethodTCX},
		{name: "past the limit", taps: 5, bulk: 2, reconciled: MethodClsBPF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, ifcs := reconciled(t, tt.taps, tt.bulk, tt.reconciled)
			wantMoved := 0
			if tt.reconciled == MethodClsBPF {
				wantMoved = tt.taps
			}
			if moved, err := l.Upgrade(t.Context()); moved != wantMoved || err != nil {
				t.Fatalf("Upgrade = %d, %v; want %d moved", moved, err, wantMoved)
			}
			for _, ifc := range ifcs {
				wantAttached(t, l, ifc, MethodTCX)
				if got := ingressQdiscs(t, ifc.Index); len(got) != 0 {
					t.Errorf("%s: qdiscs %v left after the move to tcx", ifc.Name, got)
				}
			}
			if got := len(pinNames(t, l.linkPinDir())); got != tt.taps {
				t.Errorf("%d link pins, want %d", got, tt.taps)
			}
			if moved, err := l.Upgrade(t.Context()); moved != 0 || err != nil {
				t.Errorf("second Upgrade = %d, %v; want nothing to do", moved, err)
			}
		})
	}
}

// A binding that changes or goes while its TAP waits for Upgrade is
// handled there and then; Upgrade must not bring a detached TAP back.
func TestUpgradeYieldsToAttachAndDetach(t *testing.T) {
	l, ifcs := reconciled(t, 3, 0, MethodClsBPF)

	if err := l.Detach(ifcs[0].Index, ifcs[0].Name); err != nil {
		t.Fatal(err)
	}
	changed := ifcs[1]
	changed.MACSpoof = true
	if err := l.Attach(changed); err != nil { // auto: TCX at once
		t.Fatal(err)
	}
	wantAttached(t, l, changed, MethodTCX)

	moved, err := l.Upgrade(t.Context())
	if err != nil || moved != 1 {
		t.Fatalf("Upgrade = %d, %v; want only tap2 moved", moved, err)
	}
	wantAttached(t, l, ifcs[0], "")
	wantAttached(t, l, changed, MethodTCX)
	wantAttached(t, l, ifcs[2], MethodTCX)
	if v, _ := mapEntry(t, l, changed.Index); v.Flags&flagMACSpoof == 0 {
		t.Errorf("tap1's entry lost the change made while queued: %+v", v)
	}
}

// A closed loader has nothing left to move and says so.
func TestUpgradeAfterClose(t *testing.T) {
	l, ifcs := reconciled(t, 1, 0, MethodClsBPF)
	l.Close()
	if moved, err := l.Upgrade(t.Context()); moved != 0 || err != nil {
		t.Errorf("Upgrade after Close = %d, %v; want 0, nil", moved, err)
	}
	if tcx, _ := attachment(t, l, ifcs[0].Index); tcx != 0 {
		t.Errorf("Upgrade after Close attached tcx")
	}
}

// addQdisc adds a qdisc of kind "ingress" or "clsact" to ifindex, as
// someone else would.
func addQdisc(t *testing.T, ifindex int, kind string) {
	t.Helper()
	attrs := netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}
	var q netlink.Qdisc = &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: kind}
	if kind == "ingress" {
		attrs.Parent = netlink.HANDLE_INGRESS
		q = &netlink.Ingress{QdiscAttrs: attrs}
	}
	if err := netlink.QdiscAdd(q); err != nil {
		t.Fatalf("add %s qdisc: %v", kind, err)
	}
}

// addForeignFilter adds someone else's direct-action cls_bpf filter,
// named "foreign", running p on ifindex's ingress at prio and handle.
func addForeignFilter(t *testing.T, ifindex int, p *ebpf.Program, prio uint16, handle uint32) {
	t.Helper()
	if err := netlink.FilterAdd(&netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: netlink.HANDLE_MIN_INGRESS, Handle: handle, Priority: prio, Protocol: unix.ETH_P_ALL},
		Fd:          p.FD(), Name: "foreign", DirectAction: true,
	}); err != nil {
		t.Fatalf("add foreign filter: %v", err)
	}
}

// ingressQdiscs lists, by kind, the qdiscs of ifindex that take ingress
// filters.
func ingressQdiscs(t *testing.T, ifindex int) []string {
	t.Helper()
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		t.Fatal(err)
	}
	qdiscs, err := netlink.QdiscList(lnk)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, q := range qdiscs {
		if k := q.Type(); k == "ingress" || k == "clsact" {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// The qdisc cls_bpf needs: added as ingress where there is none, removed
// again once empty; a clsact or ingress qdisc found there is used, and a
// clsact is never removed.
func TestClsBPFQdisc(t *testing.T) {
	for _, tt := range []struct {
		name       string
		before     string // qdisc on the TAP before the attach
		wantAfter  []string
		wantDetach []string
	}{
		{name: "none", wantAfter: []string{"ingress"}},
		{name: "ingress", before: "ingress", wantAfter: []string{"ingress"}},
		{name: "clsact", before: "clsact", wantAfter: []string{"clsact"}, wantDetach: []string{"clsact"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lab := newLab(t)
			ifc := lab.taps(t, 1)[0]
			if tt.before != "" {
				addQdisc(t, ifc.Index, tt.before)
			}
			l := openLoader(t, lab.config(t, AttachTC))
			if err := l.Attach(ifc); err != nil {
				t.Fatal(err)
			}
			wantAttached(t, l, ifc, MethodClsBPF)
			if got := ingressQdiscs(t, ifc.Index); !slices.Equal(got, tt.wantAfter) {
				t.Errorf("after Attach: qdiscs %v, want %v", got, tt.wantAfter)
			}
			if err := l.Detach(ifc.Index, ifc.Name); err != nil {
				t.Fatal(err)
			}
			wantAttached(t, l, ifc, "")
			if got := ingressQdiscs(t, ifc.Index); !slices.Equal(got, tt.wantDetach) {
				t.Errorf("after Detach: qdiscs %v, want %v", got, tt.wantDetach)
			}
		})
	}
}

// A cancelled Reconcile stops before the next interface with ctx's error:
// cancelled from the start, it attaches nothing and writes no entry.
func TestReconcileCancelled(t *testing.T) {
	lab := newLab(t)
	ifcs := lab.taps(t, 3)
	l := openLoader(t, lab.config(t, AttachAuto))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	methods, err := l.Reconcile(ctx, ifcs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reconcile with a cancelled context: %v, want context.Canceled", err)
	}
	for _, ifc := range ifcs {
		if methods[ifc.Index] != "" {
			t.Errorf("%s: reported %q", ifc.Name, methods[ifc.Index])
		}
		wantAttached(t, l, ifc, "")
	}
}
