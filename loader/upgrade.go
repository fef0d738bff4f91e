package loader

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// bulkTCX is how many TAPs without a TCX link Reconcile attaches with TCX
// in auto mode; past that it gives them cls_bpf and leaves them to
// Upgrade. A TCX attach waits for an RCU grace period while holding RTNL
// (10-15 ms on a 2-CPU host, and as long again for every attach queued
// behind it: parallel attaches do not overlap), so 10,000 take minutes; a
// cls_bpf filter takes a tenth of a millisecond.
const bulkTCX = 32

// upgradeQueue holds the TAPs attached with cls_bpf in auto mode on a
// kernel that may have TCX, in the order Reconcile met them. Under l.mu.
type upgradeQueue struct {
	order []int
	ifc   map[int]Iface
}

func (q *upgradeQueue) add(ifc Iface) {
	if q.ifc == nil {
		q.ifc = make(map[int]Iface)
	}
	if _, ok := q.ifc[ifc.Index]; !ok {
		q.order = append(q.order, ifc.Index)
	}
	q.ifc[ifc.Index] = ifc
}

// drop forgets ifindex: it was attached as the mode says, or detached.
func (q *upgradeQueue) drop(ifindex int) { delete(q.ifc, ifindex) }

// next returns the oldest TAP still queued, and keeps it queued.
func (q *upgradeQueue) next() (Iface, bool) {
	for len(q.order) > 0 {
		if ifc, ok := q.ifc[q.order[0]]; ok {
			return ifc, true
		}
		q.order = q.order[1:]
	}
	q.order = nil // let the backing array go
	return Iface{}, false
}

func (q *upgradeQueue) len() int { return len(q.ifc) }

func (q *upgradeQueue) clear() { q.order, q.ifc = nil, nil }

// Upgrade moves the TAPs that Reconcile attached with cls_bpf in auto mode
// to TCX, one at a time, each steered throughout: the link is attached
// before the filter goes. It returns how many it moved once none is left,
// the kernel turns out to lack TCX, the loader is closed or ctx is done.
//
// Run it from a thread in the loader's network namespace: TCX names the
// interface by index in the caller's.
func (l *Loader) Upgrade(ctx context.Context) (int, error) {
	l.mu.Lock()
	queued := l.upgrades.len()
	l.mu.Unlock()
	if queued == 0 {
		return 0, nil
	}
	start := time.Now()
	l.log.Info("moving cls_bpf attachments to tcx", "taps", queued)
	moved := 0
	for ctx.Err() == nil {
		ok, done, err := l.upgradeNext()
		if errors.Is(err, ebpf.ErrNotSupported) {
			l.mu.Lock()
			l.noTCX = true
			l.upgrades.clear()
			l.mu.Unlock()
			l.log.Info("tcx unsupported, staying on cls_bpf", "error", err)
			return moved, nil
		}
		if err != nil {
			// Still steered by its filter; left there.
			l.log.Warn("move to tcx", "error", err)
		} else if done {
			l.log.Info("moved cls_bpf attachments to tcx", "taps", moved, "took", time.Since(start).Round(time.Millisecond))
			return moved, nil
		} else if ok {
			moved++
		}
	}
	return moved, ctx.Err()
}

// upgradeNext moves the next queued TAP to TCX and reports whether it did,
// or reports done. Each TAP leaves the queue whatever happens to it. The
// grace period the attach waits for passes without l.mu held, so that
// bindings coming and going and metrics scrapes do not queue behind it;
// whatever changed meanwhile wins over the move.
func (l *Loader) upgradeNext() (moved, done bool, err error) {
	l.mu.Lock()
	ifc, ok := l.upgrades.next()
	if !ok || l.prog == nil {
		l.mu.Unlock()
		return false, true, nil
	}
	prog, err := l.prog.Clone() // Close may run before the attach returns
	if err != nil {
		l.upgrades.drop(ifc.Index)
		l.mu.Unlock()
		return false, false, fmt.Errorf("move %s: %w", ifc.Name, err)
	}
	l.mu.Unlock()
	lk, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: ebpf.AttachTCXIngress})
	prog.Close()

	l.mu.Lock()
	defer l.mu.Unlock()
	if _, still := l.upgrades.ifc[ifc.Index]; !still || l.prog == nil {
		// Attached or detached meanwhile: that stands.
		if lk != nil {
			lk.Close() // not pinned: closing detaches
		}
		return false, false, nil
	}
	l.upgrades.drop(ifc.Index)
	if err != nil {
		return false, false, fmt.Errorf("move %s: tcx ingress of ifindex %d: %w", ifc.Name, ifc.Index, err)
	}
	defer lk.Close()
	want := filepath.Join(l.linkPinDir(), linkPinName(ifc.Index, ifc.Name))
	if err := lk.Pin(want); err != nil {
		return false, false, fmt.Errorf("move %s: pin tcx link: %w", ifc.Name, err)
	}
	l.pinned(want, true)
	l.attached.set(ifc.Index, MethodTCX) // steered by TCX now, whatever becomes of the filter
	return true, false, l.detachClsBPF(ifc.Index, ifc.Name)
}
