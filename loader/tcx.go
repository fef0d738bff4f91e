package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

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
		if errors.Is(err, os.ErrNotExist) {
			// Removed by hand: attach afresh rather than fail for good.
			l.pinned(path, false)
			continue
		}
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
