package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
)

// Reconcile makes the kernel match want, as at start-up after a restart or
// a crash: entries, pinned links and cls_bpf filters of interfaces not in
// want are removed; every wanted interface is attached (kept when already
// current, moved to the current program otherwise).
func (l *Loader) Reconcile(want []Iface) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return fmt.Errorf("reconcile: loader closed")
	}
	wanted := make(map[int]Iface, len(want))
	for _, ifc := range want {
		wanted[ifc.Index] = ifc
	}
	var errs []error

	// Map entries whose bindings are gone: ifaces first, so that the
	// classifier creates no new bucket for them meanwhile.
	errs = append(errs, l.dropStaleEntries(l.ifaces, classifierMapIfaces, wanted, new(classifierIfaceValue)))
	errs = append(errs, l.dropStaleEntries(l.limits, classifierMapLimits, wanted, new(classifierIfaceLimit)))

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
	links, err := netlink.LinkList()
	if err != nil {
		errs = append(errs, fmt.Errorf("reconcile: list links: %w", err))
	}
	for _, lnk := range links {
		a := lnk.Attrs()
		if _, ok := wanted[a.Index]; ok {
			continue
		}
		if len(ourClsFilters(a.Index)) > 0 {
			errs = append(errs, l.detachClsBPF(a.Index, a.Name))
			l.log.Info("removed stale cls_bpf filter", "iface", a.Name)
		}
	}

	for _, ifc := range want {
		if _, err := l.attachLocked(ifc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
