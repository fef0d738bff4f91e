package loader

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Iface is a bound TAP as the classifier needs it.
type Iface struct {
	Index    int
	Name     string
	MAC      net.HardwareAddr // the binding's MAC: the only source accepted
	MACSpoof bool             // accept any source MAC
	Kinds    Kinds            // packets to mark on this TAP
}

// Methods reported by Method.
const (
	MethodTCX    = "tcx"
	MethodClsBPF = "cls_bpf"
)

// Our cls_bpf filter is recognised by name, priority and handle together;
// a filter with our priority and handle but another name is someone
// else's, and we refuse to touch it.
const (
	clsName     = "nfdhcpd"
	clsPriority = 0x4e44 // "ND"
	clsHandle   = 0x4e44
)

// Attach writes ifc's map entry and attaches the classifier to its ingress
// unless our current program is already there. It is idempotent.
func (l *Loader) Attach(ifc Iface) error {
	start := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return fmt.Errorf("attach %s: loader closed", ifc.Name)
	}
	method, err := l.attachLocked(ifc)
	if err != nil {
		return err
	}
	l.log.Debug("classifier attached", "ifindex", ifc.Index, "iface", ifc.Name, "method", method,
		"kinds", ifc.Kinds.String(), "macspoof", ifc.MACSpoof, "took", time.Since(start))
	return nil
}

func (l *Loader) attachLocked(ifc Iface) (string, error) {
	if ifc.Index <= 0 {
		return "", fmt.Errorf("attach %s: bad ifindex %d", ifc.Name, ifc.Index)
	}
	if len(ifc.MAC) != 6 {
		return "", fmt.Errorf("attach %s: MAC %q is not 6 bytes", ifc.Name, ifc.MAC)
	}
	v := classifierIfaceValue{Kinds: uint8(ifc.Kinds)}
	copy(v.Mac[:], ifc.MAC)
	if ifc.MACSpoof {
		v.Flags |= flagMACSpoof
	}
	if err := l.ifaces.Put(classifierIfaceKey{Ifindex: uint32(ifc.Index)}, &v); err != nil {
		return "", fmt.Errorf("attach %s: write ifaces entry %d: %w", ifc.Name, ifc.Index, err)
	}

	mode := l.cfg.Attach
	if mode != AttachTC {
		err := l.attachTCX(ifc)
		if err == nil {
			// Moving from cls_bpf (an older kernel's run, or attach = tc
			// before): one attachment only, or packets count twice.
			return MethodTCX, l.detachClsBPF(ifc.Index, ifc.Name)
		}
		if mode == AttachTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return "", err
		}
		l.log.Debug("tcx unsupported, using cls_bpf", "iface", ifc.Name, "error", err)
	}
	if err := l.attachClsBPF(ifc); err != nil {
		return "", err
	}
	return MethodClsBPF, l.detachTCX(ifc.Index, ifc.Name)
}

func (l *Loader) linkPinDir() string { return filepath.Join(l.cfg.PinPath, linksDir) }

func linkPinName(ifindex int, name string) string { return fmt.Sprintf("%d-%s", ifindex, name) }

// parseLinkPinName splits "<ifindex>-<name>".
func parseLinkPinName(base string) (int, string, bool) {
	idx, name, ok := strings.Cut(base, "-")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n <= 0 {
		return 0, "", false
	}
	return n, name, true
}

// linkPins lists our pinned TCX links for ifindex (normally zero or one),
// from the index: globbing the folder read every pin per call, and Method
// runs per TAP at start and on every metrics scrape, O(n²) at 10,000 TAPs.
func (l *Loader) linkPins(ifindex int) []string {
	return slices.Clone(l.pins[ifindex])
}

// indexPins reads the link pin folder once, at Open; from then on the
// loader, which holds the folder's lock, is the only one to change it and
// keeps the index with every pin, rename and removal.
func (l *Loader) indexPins() error {
	entries, err := os.ReadDir(l.linkPinDir())
	if err != nil {
		return fmt.Errorf("read link pins: %w", err)
	}
	l.pins = make(map[int][]string)
	for _, e := range entries {
		l.pinned(filepath.Join(l.linkPinDir(), e.Name()), true)
	}
	return nil
}

// pinned records that the link pin at path now exists, or no longer does.
// Names that are not <ifindex>-<name> are not ours to index (Reconcile
// removes them).
func (l *Loader) pinned(path string, exists bool) {
	idx, _, ok := parseLinkPinName(filepath.Base(path))
	if !ok {
		return
	}
	paths := slices.DeleteFunc(l.pins[idx], func(p string) bool { return p == path })
	if exists {
		paths = append(paths, path)
	}
	if len(paths) == 0 {
		delete(l.pins, idx)
	} else {
		l.pins[idx] = paths
	}
}

// attachTCX keeps a pinned link that is live on ifc.Index (updating its
// program in place when ours is newer, renaming the pin when the TAP was
// renamed) or creates and pins one.
func (l *Loader) attachTCX(ifc Iface) error {
	want := filepath.Join(l.linkPinDir(), linkPinName(ifc.Index, ifc.Name))
	kept := false
	for _, path := range l.linkPins(ifc.Index) {
		lk, live, err := l.loadTCXPin(path, ifc.Index)
		if err != nil {
			return fmt.Errorf("attach %s: %w", ifc.Name, err)
		}
		if !live || kept {
			l.unpinLink(lk, path)
			continue
		}
		kept = true
		err = l.adoptTCX(lk, path, want)
		lk.Close()
		if err != nil {
			return fmt.Errorf("attach %s: %w", ifc.Name, err)
		}
	}
	if kept {
		return nil
	}
	lk, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: l.prog, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return fmt.Errorf("attach %s: tcx ingress of ifindex %d: %w", ifc.Name, ifc.Index, err)
	}
	defer lk.Close()
	if err := lk.Pin(want); err != nil {
		return fmt.Errorf("attach %s: pin tcx link: %w", ifc.Name, err) // closing detaches
	}
	l.pinned(want, true)
	return nil
}

// adoptTCX moves an existing live link to our program and pin name.
func (l *Loader) adoptTCX(lk link.Link, path, want string) error {
	info, err := lk.Info()
	if err != nil {
		return fmt.Errorf("tcx link info: %w", err)
	}
	if info.Program != l.progID {
		if err := lk.Update(l.prog); err != nil {
			return fmt.Errorf("update tcx link to program %d: %w", l.progID, err)
		}
	}
	if path != want {
		if err := os.Rename(path, want); err != nil {
			return fmt.Errorf("rename tcx link pin: %w", err)
		}
		l.pinned(path, false)
		l.pinned(want, true)
	}
	return nil
}

// loadTCXPin opens a pinned link and reports whether it is a TCX ingress
// link still attached to ifindex (a link whose device went away is
// defunct and reports ifindex 0).
func (l *Loader) loadTCXPin(path string, ifindex int) (link.Link, bool, error) {
	lk, err := link.LoadPinnedLink(path, nil)
	if err != nil {
		return nil, false, fmt.Errorf("load pinned link %s: %w", path, err)
	}
	info, err := lk.Info()
	if err != nil {
		return lk, false, nil
	}
	tcx := info.TCX()
	live := tcx != nil && int(tcx.Ifindex) == ifindex && tcx.AttachType == unix.BPF_TCX_INGRESS
	return lk, live, nil
}

func (l *Loader) unpinLink(lk link.Link, path string) {
	if err := lk.Unpin(); err != nil {
		l.log.Warn("unpin tcx link", "path", path, "error", err)
	} else {
		l.pinned(path, false)
	}
	lk.Close() // last reference: the kernel detaches it
}

// detachTCX removes our pinned links for ifindex.
func (l *Loader) detachTCX(ifindex int, name string) error {
	var errs []error
	for _, path := range l.linkPins(ifindex) {
		lk, err := link.LoadPinnedLink(path, nil)
		if err != nil {
			// A pin we cannot open as a link: remove the file only.
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("detach %s: %w", name, err))
			} else {
				l.pinned(path, false)
			}
			continue
		}
		l.unpinLink(lk, path)
	}
	return errors.Join(errs...)
}

// attachClsBPF adds (or replaces in place, atomically) our direct-action
// filter on the clsact ingress hook.
func (l *Loader) attachClsBPF(ifc Iface) error {
	lnk, err := netlink.LinkByIndex(ifc.Index)
	if err != nil {
		return fmt.Errorf("attach %s: link %d: %w", ifc.Name, ifc.Index, err)
	}
	if err := l.ensureClsact(lnk); err != nil {
		return fmt.Errorf("attach %s: %w", ifc.Name, err)
	}
	filters, err := netlink.FilterList(lnk, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return fmt.Errorf("attach %s: list ingress filters: %w", ifc.Name, err)
	}
	for _, f := range filters {
		a := f.Attrs()
		if a.Priority != clsPriority || a.Handle != clsHandle {
			continue
		}
		bf, ok := f.(*netlink.BpfFilter)
		if !ok || bf.Name != clsName {
			return fmt.Errorf("attach %s: ingress filter pref %d handle %#x belongs to someone else (%s)",
				ifc.Name, clsPriority, clsHandle, f.Type())
		}
		if bf.Id == int(l.progID) {
			return nil
		}
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifc.Index,
			Parent:    netlink.HANDLE_MIN_INGRESS,
			Handle:    clsHandle,
			Priority:  clsPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		Fd:           l.prog.FD(),
		Name:         clsName,
		DirectAction: true,
	}
	if err := netlink.FilterReplace(filter); err != nil {
		return fmt.Errorf("attach %s: cls_bpf filter: %w", ifc.Name, err)
	}
	return nil
}

// ensureClsact adds a clsact qdisc when the link has no ingress-capable
// qdisc. It is never deleted, not even one we added: once it exists we
// cannot know whether someone else has filters under it, and an empty
// clsact costs nothing.
func (l *Loader) ensureClsact(lnk netlink.Link) error {
	qdiscs, err := netlink.QdiscList(lnk)
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qdiscs {
		if t := q.Type(); t == "clsact" || t == "ingress" {
			return nil
		}
	}
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: lnk.Attrs().Index,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
	if err := netlink.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add clsact qdisc: %w", err)
	}
	l.log.Info("added clsact qdisc", "iface", lnk.Attrs().Name)
	return nil
}

// ourClsFilters returns our cls_bpf filters on ifindex; a link that is
// gone or has no ingress hook has none.
func ourClsFilters(ifindex int) []*netlink.BpfFilter {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return nil
	}
	filters, err := netlink.FilterList(lnk, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return nil
	}
	var ours []*netlink.BpfFilter
	for _, f := range filters {
		if bf, ok := f.(*netlink.BpfFilter); ok && bf.Name == clsName &&
			bf.Priority == clsPriority && bf.Handle == clsHandle {
			ours = append(ours, bf)
		}
	}
	return ours
}

func (l *Loader) detachClsBPF(ifindex int, name string) error {
	for _, bf := range ourClsFilters(ifindex) {
		if err := netlink.FilterDel(bf); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("detach %s: delete cls_bpf filter: %w", name, err)
		}
	}
	return nil
}

// Detach removes ifindex's map entry and our attachment to it, and only
// ours. The link may already be gone.
func (l *Loader) Detach(ifindex int, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prog == nil {
		return fmt.Errorf("detach %s: loader closed", name)
	}
	return l.detachLocked(ifindex, name)
}

func (l *Loader) detachLocked(ifindex int, name string) error {
	var errs []error
	err := l.ifaces.Delete(classifierIfaceKey{Ifindex: uint32(ifindex)})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("detach %s: delete ifaces entry %d: %w", name, ifindex, err))
	}
	// After the ifaces entry: with that gone the classifier creates no
	// new bucket for this ifindex.
	err = l.limits.Delete(classifierIfaceKey{Ifindex: uint32(ifindex)})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, fmt.Errorf("detach %s: delete limits entry %d: %w", name, ifindex, err))
	}
	errs = append(errs, l.detachTCX(ifindex, name), l.detachClsBPF(ifindex, name))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	l.log.Debug("classifier detached", "ifindex", ifindex, "iface", name)
	return nil
}

// Method reports how the classifier is attached to ifindex: MethodTCX,
// MethodClsBPF, or "" when it is not (as seen in the kernel, not
// remembered).
func (l *Loader) Method(ifindex int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
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
	if len(ourClsFilters(ifindex)) > 0 {
		return MethodClsBPF
	}
	return ""
}
