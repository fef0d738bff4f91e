package loader

import "sync"

// attachments is the loader's record of how it attached the classifier to
// each ifindex: what Method answers. A metrics scrape, /bindings and the
// SIGUSR1 table ask it for every TAP. Asking the kernel instead took a link
// load and a filter dump per TAP under Loader.mu, 2 s a scrape at 10,000
// TAPs, and every attach of a new VM waited behind it. The record is
// written under Loader.mu, as the kernel is changed, and read under its
// own lock only: a reader never waits for an attach (a TCX attach holds
// Loader.mu through an RCU grace period), nor an attach for more than a
// map write.
type attachments struct {
	mu sync.RWMutex
	by map[int]string // MethodTCX or MethodClsBPF; absent: not attached
}

func (a *attachments) get(ifindex int) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.by[ifindex]
}

// set records method for ifindex; "" forgets it.
func (a *attachments) set(ifindex int, method string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if method == "" {
		delete(a.by, ifindex)
		return
	}
	if a.by == nil {
		a.by = make(map[int]string)
	}
	a.by[ifindex] = method
}

// retain forgets every ifindex keep does not want.
func (a *attachments) retain(keep func(ifindex int) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for idx := range a.by {
		if !keep(idx) {
			delete(a.by, idx)
		}
	}
}

func (a *attachments) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.by = nil
}

// record notes how ifindex is attached after an attach or detach under
// l.mu that ended with method, or failed with err. A failure may have left
// the kernel anywhere between before and after, so that case alone asks
// the kernel.
func (l *Loader) record(ifindex int, method string, err error) {
	if err != nil {
		method = l.methodInKernel(ifindex)
	}
	l.attached.set(ifindex, method)
}

// Method reports how the loader attached the classifier to ifindex:
// MethodTCX, MethodClsBPF, or "" when it did not. It answers from the
// loader's record, kept with every attach, detach, move to TCX and
// reconcile, without asking the kernel or waiting for an attach in
// progress. A filter or link someone else removes by hand is still
// reported until the next attach or detach of that TAP, or a restart,
// finds it gone.
func (l *Loader) Method(ifindex int) string { return l.attached.get(ifindex) }

// methodInKernel reads how our current program is attached to ifindex.
// Under l.mu.
func (l *Loader) methodInKernel(ifindex int) string {
	if l.prog == nil {
		return ""
	}
	for _, path := range l.linkPins(ifindex) {
		lk, live, err := l.loadTCXPin(path, ifindex)
		if err != nil {
			continue
		}
		lk.Close()
		if live {
			return MethodTCX
		}
	}
	if l.hasClsFilter(ifindex) {
		return MethodClsBPF
	}
	return ""
}
