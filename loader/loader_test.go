package loader

import (
	"cmp"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

func openLoader(t *testing.T, cfg Config) *Loader {
	t.Helper()
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// tcxPrograms lists the program IDs on ifindex's TCX ingress, as the
// kernel reports them.
func tcxPrograms(t *testing.T, ifindex int) []ebpf.ProgramID {
	t.Helper()
	res, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		t.Fatalf("query tcx ingress of %d: %v", ifindex, err)
	}
	var ids []ebpf.ProgramID
	for _, p := range res.Programs {
		ids = append(ids, p.ID)
	}
	return ids
}

// ingressFilters lists every ingress filter of ifindex as "name/prio/progid".
func ingressFilters(t *testing.T, ifindex int) []string {
	t.Helper()
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		t.Fatal(err)
	}
	filters, err := netlink.FilterList(lnk, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range filters {
		if bf, ok := f.(*netlink.BpfFilter); ok {
			out = append(out, bf.Name+"/"+itoa(int(bf.Priority))+"/"+itoa(bf.Id))
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// attachment is what the kernel has on one ingress: our program by TCX,
// by cls_bpf, or both (which must never happen).
func attachment(t *testing.T, l *Loader, ifindex int) (tcx, cls int) {
	t.Helper()
	for _, id := range tcxPrograms(t, ifindex) {
		if id == l.progID {
			tcx++
		}
	}
	for _, f := range ingressFilters(t, ifindex) {
		if f == clsName+"/"+itoa(clsPriority)+"/"+itoa(int(l.progID)) {
			cls++
		}
	}
	return tcx, cls
}

func mapEntry(t *testing.T, l *Loader, ifindex int) (classifierIfaceValue, bool) {
	t.Helper()
	var v classifierIfaceValue
	err := l.ifaces.Lookup(classifierIfaceKey{Ifindex: uint32(ifindex)}, &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return v, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func TestAttachDetach(t *testing.T) {
	for _, tt := range []struct {
		mode       AttachMode
		wantMethod string
	}{
		{AttachAuto, MethodTCX},
		{AttachTCX, MethodTCX},
		{AttachTC, MethodClsBPF},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			lab := newLab(t)
			host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
			l := openLoader(t, lab.config(t, tt.mode))
			ifc := Iface{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: KindDHCP | KindRS, MACSpoof: true}

			for i := range 2 { // the second call must change nothing
				start := time.Now()
				if err := l.Attach(ifc); err != nil {
					t.Fatalf("Attach #%d: %v", i+1, err)
				}
				t.Logf("Attach #%d (%s) took %v", i+1, tt.mode, time.Since(start))
				if got := l.Method(ifc.Index); got != tt.wantMethod {
					t.Fatalf("Method = %q, want %q", got, tt.wantMethod)
				}
				tcx, cls := attachment(t, l, ifc.Index)
				if want := tt.wantMethod == MethodTCX; (tcx == 1) != want || (cls == 1) == want || tcx+cls != 1 {
					t.Fatalf("after Attach #%d: %d tcx + %d cls_bpf attachments of ours, want exactly one %s", i+1, tcx, cls, tt.wantMethod)
				}
			}
			v, ok := mapEntry(t, l, ifc.Index)
			want := classifierIfaceValue{Mac: [6]uint8(vmMAC), Kinds: uint8(KindDHCP | KindRS), Flags: flagMACSpoof, Gen: l.gen}
			if !ok || v != want {
				t.Fatalf("ifaces[%d] = %+v (present %v), want %+v", ifc.Index, v, ok, want)
			}

			if err := l.Detach(ifc.Index, ifc.Name); err != nil {
				t.Fatalf("Detach: %v", err)
			}
			if got := l.Method(ifc.Index); got != "" {
				t.Errorf("Method after Detach = %q", got)
			}
			if tcx, cls := attachment(t, l, ifc.Index); tcx+cls != 0 {
				t.Errorf("after Detach: %d tcx + %d cls_bpf attachments remain", tcx, cls)
			}
			if _, ok := mapEntry(t, l, ifc.Index); ok {
				t.Errorf("ifaces entry %d remains after Detach", ifc.Index)
			}
			if err := l.Detach(ifc.Index, ifc.Name); err != nil {
				t.Errorf("second Detach: %v", err)
			}
		})
	}
}

func TestSecondInstanceRefused(t *testing.T) {
	lab := newLab(t)
	openLoader(t, lab.config(t, AttachAuto))
	_, err := Open(lab.config(t, AttachAuto))
	if err == nil || !strings.Contains(err.Error(), "another nfdhcpd is running") {
		t.Fatalf("second Open: err = %v, want the lock refused", err)
	}
}

func TestReconcileAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name        string
		mode        AttachMode
		newProgram  bool // the restarted daemon brings a different program
		wantReused  bool
		wantMethod  string
		secondMode  AttachMode
		secondWants string // after Reconcile and Upgrade
		// after Reconcile alone, when it differs: auto in bulk keeps a
		// cls_bpf filter until Upgrade moves the TAP to TCX
		reconcileWants string
		bulk           bool // more TAPs without TCX than bulkTCX
	}{
		{name: "tcx same program", mode: AttachTCX, secondMode: AttachTCX, wantReused: true, secondWants: MethodTCX},
		{name: "tcx new program", mode: AttachTCX, secondMode: AttachTCX, newProgram: true, secondWants: MethodTCX},
		{name: "cls_bpf same program", mode: AttachTC, secondMode: AttachTC, wantReused: true, secondWants: MethodClsBPF},
		{name: "cls_bpf new program", mode: AttachTC, secondMode: AttachTC, newProgram: true, secondWants: MethodClsBPF},
		{name: "cls_bpf then tcx", mode: AttachTC, secondMode: AttachAuto, wantReused: true, secondWants: MethodTCX},
		{name: "cls_bpf then tcx in bulk", mode: AttachTC, secondMode: AttachAuto, bulk: true, wantReused: true, secondWants: MethodTCX, reconcileWants: MethodClsBPF},
		{name: "tcx then cls_bpf", mode: AttachTCX, secondMode: AttachTC, wantReused: true, secondWants: MethodClsBPF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lab := newLab(t)
			tap0, _ := lab.veth(t, "tap0", "vm0", vmMAC)
			tap1, _ := lab.veth(t, "tap1", "vm1", otherMAC)
			keep := Iface{Index: tap0.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}
			gone := Iface{Index: tap1.Attrs().Index, Name: "tap1", MAC: otherMAC, Kinds: AllKinds}

			first, err := Open(lab.config(t, tt.mode))
			if err != nil {
				t.Fatal(err)
			}
			for _, ifc := range []Iface{keep, gone} {
				if err := first.Attach(ifc); err != nil {
					t.Fatal(err)
				}
			}
			firstProg := first.progID
			if err := first.Close(); err != nil { // the daemon exits; pins stay
				t.Fatal(err)
			}
			if tt.newProgram {
				// Stands in for an upgrade: the pinned program is not the one
				// the new daemon loads, which must pin its own over it.
				if err := removePin(lab.pinPath, progPin); err != nil {
					t.Fatal(err)
				}
				if err := trivialProgram(t).Pin(filepath.Join(lab.pinPath, progPin)); err != nil {
					t.Fatal(err)
				}
			}

			second := openLoader(t, lab.config(t, tt.secondMode))
			if reused := second.progID == firstProg; reused != tt.wantReused {
				t.Fatalf("program reused = %v, want %v", reused, tt.wantReused)
			}
			if pinned, err := ebpf.LoadPinnedProgram(filepath.Join(lab.pinPath, progPin), nil); err != nil {
				t.Fatal(err)
			} else {
				info, _ := pinned.Info()
				id, _ := info.ID()
				pinned.Close()
				if id != second.progID {
					t.Errorf("pinned program %d, want the running %d", id, second.progID)
				}
			}
			// tap1's binding went away while the daemon was down.
			if tt.bulk {
				second.bulkTCX = 0
			}
			methods, err := second.Reconcile(context.Background(), []Iface{keep})
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			wantReconciled := cmp.Or(tt.reconcileWants, tt.secondWants)
			if got := second.Method(keep.Index); got != wantReconciled || methods[keep.Index] != wantReconciled {
				t.Errorf("after Reconcile: Method(tap0) = %q, Reconcile said %q; want %q", got, methods[keep.Index], wantReconciled)
			}
			moved, err := second.Upgrade(t.Context())
			if err != nil {
				t.Fatalf("Upgrade: %v", err)
			}
			if wantMoved := tt.reconcileWants != ""; (moved == 1) != wantMoved {
				t.Errorf("Upgrade moved %d TAPs, want moved = %v", moved, wantMoved)
			}
			if got := second.Method(keep.Index); got != tt.secondWants {
				t.Errorf("Method(tap0) = %q, want %q", got, tt.secondWants)
			}
			if tcx, cls := attachment(t, second, keep.Index); tcx+cls != 1 {
				t.Errorf("tap0: %d tcx + %d cls_bpf attachments of the current program, want 1", tcx, cls)
			}
			if n := len(tcxPrograms(t, keep.Index)) + len(ingressFilters(t, keep.Index)); n != 1 {
				t.Errorf("tap0: %d programs attached in all, want 1 (%v %v)", n, tcxPrograms(t, keep.Index), ingressFilters(t, keep.Index))
			}
			if n := len(tcxPrograms(t, gone.Index)) + len(ingressFilters(t, gone.Index)); n != 0 {
				t.Errorf("tap1: %d programs still attached, want 0", n)
			}
			if _, ok := mapEntry(t, second, gone.Index); ok {
				t.Errorf("stale ifaces entry for tap1 remains")
			}
			if _, ok := mapEntry(t, second, keep.Index); !ok {
				t.Errorf("ifaces entry for tap0 missing")
			}
			if pins := pinNames(t, lab.pinPath+"/"+linksDir); tt.secondWants == MethodTCX && len(pins) != 1 ||
				tt.secondWants == MethodClsBPF && len(pins) != 0 {
				t.Errorf("link pins = %v", pins)
			}
		})
	}
}

// trivialProgram is someone else's TC program: it passes everything.
func trivialProgram(t *testing.T) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "foreign", Type: ebpf.SchedCLS, License: "MIT",
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, -1, asm.DWord), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestDetachLeavesForeignAttachments(t *testing.T) {
	for _, mode := range []AttachMode{AttachTCX, AttachTC} {
		t.Run(mode.String(), func(t *testing.T) {
			lab := newLab(t)
			host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
			idx := host.Attrs().Index
			foreign := trivialProgram(t)
			info, _ := foreign.Info()
			foreignID, _ := info.ID()

			// Someone else's clsact, cls_bpf filter and TCX link, there first.
			addQdisc(t, idx, "clsact")
			addForeignFilter(t, idx, foreign, 1, 1)
			fl, err := link.AttachTCX(link.TCXOptions{Interface: idx, Program: foreign, Attach: ebpf.AttachTCXIngress})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fl.Close() })

			l := openLoader(t, lab.config(t, mode))
			ifc := Iface{Index: idx, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}
			if err := l.Attach(ifc); err != nil {
				t.Fatal(err)
			}
			if err := l.Detach(idx, "tap0"); err != nil {
				t.Fatal(err)
			}
			if got, want := tcxPrograms(t, idx), []ebpf.ProgramID{foreignID}; !equalIDs(got, want) {
				t.Errorf("tcx ingress = %v, want only the foreign %v", got, want)
			}
			if got, want := ingressFilters(t, idx), []string{"foreign/1/" + itoa(int(foreignID))}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("ingress filters = %v, want %v", got, want)
			}
			qdiscs, _ := netlink.QdiscList(host)
			if !hasQdisc(qdiscs, "clsact") {
				t.Errorf("foreign clsact qdisc gone: %v", qdiscs)
			}
		})
	}
}

func TestAttachRefusesForeignFilterInOurSlot(t *testing.T) {
	lab := newLab(t)
	host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
	idx := host.Attrs().Index
	foreign := trivialProgram(t)
	addQdisc(t, idx, "clsact")
	addForeignFilter(t, idx, foreign, clsPriority, clsHandle)
	l := openLoader(t, lab.config(t, AttachTC))
	err := l.Attach(Iface{Index: idx, Name: "tap0", MAC: vmMAC, Kinds: AllKinds})
	if err == nil || !strings.Contains(err.Error(), "belongs to someone else") {
		t.Fatalf("Attach over a foreign filter: err = %v", err)
	}
	if got := ingressFilters(t, idx); len(got) != 1 || !strings.HasPrefix(got[0], "foreign/") {
		t.Errorf("ingress filters = %v, want the foreign one untouched", got)
	}
}

func hasQdisc(qs []netlink.Qdisc, typ string) bool {
	for _, q := range qs {
		if q.Type() == typ {
			return true
		}
	}
	return false
}

func equalIDs(a, b []ebpf.ProgramID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
