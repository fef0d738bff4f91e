package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// Reconcile makes the kernel match want, as at start-up after a restart or
// a crash: entries, pinned links and cls_bpf filters of interfaces not in
// want are removed; every wanted interface is attached (kept when already
// current, moved to the current program otherwise). It returns how each
// wanted interface is attached: MethodTCX, MethodClsBPF, or "" where
// attaching failed.
//
// In auto mode, when more than bulkTCX TAPs have no TCX link, those get a
// cls_bpf filter (or keep theirs), so that a start with thousands of TAPs
// steers them all in seconds; Upgrade then moves them to TCX.
//
// Cancelling ctx stops it between two interfaces (a TCX attach waits for
// an RCU grace period: 10,000 take minutes), with ctx's error: what is
// attached by then stays, each with its map entry, as after a stop.
func (l *Loader) Reconcile(ctx context.Context, want []Iface) (map[int]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return nil, fmt.Errorf("reconcile: loader closed")
	}
	wanted := make(map[int]Iface, len(want))
	for _, ifc := range want {
		wanted[ifc.Index] = ifc
	}
	var errs []error

	// Map entries whose bindings are gone: ifaces first, so that the
	// classifier creates no new bucket for them meanwhile, and answers
	// none of their requests. Entries of wanted ones are rewritten below.
	errs = append(errs, l.dropStaleEntries(l.ifaces, classifierMapIfaces, wanted, new(classifierIfaceValue)))
	errs = append(errs, l.dropStaleEntries(l.limits, classifierMapLimits, wanted, new(classifierIfaceLimit)))
	errs = append(errs, l.dropStaleEntries(l.answers, classifierMapAnswers, wanted, new(classifierIfaceAnswers)))

	// Pinned TCX links of interfaces no longer wanted (or pins we cannot
	// read as ours).
	entries, err := os.ReadDir(l.linkPinDir())
	if err != nil {
		errs = append(errs, fmt.Errorf("reconcile: %w", err))
	}
	for _, e := range entries {
		idx, name, ok := parseLinkPinName(e.Name())
		if _, want := wanted[idx]; ok && want {
			continue
		}
		if ok {
			errs = append(errs, l.detachTCX(idx, name))
		} else if err := os.Remove(filepath.Join(l.linkPinDir(), e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("reconcile: remove %s: %w", e.Name(), err))
		}
		l.log.Info("removed stale tcx link", "pin", e.Name())
	}

	// Our cls_bpf filters on interfaces no longer wanted: a filter holds
	// no pin, so the links themselves are the only record.
	links, err := l.nl.LinkList()
	if err != nil {
		errs = append(errs, fmt.Errorf("reconcile: list links: %w", err))
	}
	for _, lnk := range links {
		a := lnk.Attrs()
		if _, ok := wanted[a.Index]; ok {
			continue
		}
		if l.hasClsFilter(a.Index) {
			errs = append(errs, l.detachClsBPF(a.Index, a.Name))
			l.log.Info("removed stale cls_bpf filter", "iface", a.Name)
		}
	}

	// Bulk: so many TAPs without a TCX link that attaching TCX one by one
	// would keep VMs unanswered for minutes.
	unlinked := 0
	for _, ifc := range want {
		if len(l.pins[ifc.Index]) == 0 {
			unlinked++
		}
	}
	bulk := l.cfg.Attach == AttachAuto && !l.noTCX && unlinked > l.bulkTCX
	if bulk {
		l.log.Info("many TAPs without tcx: cls_bpf first, tcx in the background", "taps", unlinked)
	}
	// What is not wanted was detached above; the rest is recorded as it
	// is attached, so that a scrape during a long start sees the progress.
	l.attached.retain(func(idx int) bool { _, ok := wanted[idx]; return ok })
	methods := make(map[int]string, len(want))
	for _, ifc := range want {
		if err := ctx.Err(); err != nil {
			return methods, errors.Join(append(errs, fmt.Errorf("reconcile: %w", err))...)
		}
		m, err := l.reconcileOne(ifc, bulk)
		l.record(ifc.Index, m, err)
		if err != nil {
			errs = append(errs, err)
		}
		methods[ifc.Index] = m
	}
	return methods, errors.Join(errs...)
}

// reconcileOne attaches ifc for Reconcile: as the mode says, or in bulk
// with cls_bpf, kept when there, queued for Upgrade.
func (l *Loader) reconcileOne(ifc Iface, bulk bool) (string, error) {
	if !bulk || len(l.pins[ifc.Index]) > 0 {
		return l.attachLocked(ifc)
	}
	if err := l.putEntry(ifc); err != nil {
		return "", err
	}
	m, err := l.attachClsOnly(ifc)
	if err == nil {
		l.upgrades.add(ifc)
	}
	return m, err
}

// dropStaleEntries deletes m's entries whose ifindex is not wanted; val is
// scratch space of m's value type.
func (l *Loader) dropStaleEntries(m *ebpf.Map, name string, wanted map[int]Iface, val any) error {
	var errs []error
	var stale []classifierIfaceKey
	var key classifierIfaceKey
	it := m.Iterate()
	for it.Next(&key, val) {
		if _, ok := wanted[int(key.Ifindex)]; !ok {
			stale = append(stale, key)
		}
	}
	if err := it.Err(); err != nil {
		errs = append(errs, fmt.Errorf("reconcile: iterate %s: %w", name, err))
	}
	for _, k := range stale {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, fmt.Errorf("reconcile: delete %s entry %d: %w", name, k.Ifindex, err))
		}
	}
	return errors.Join(errs...)
}
