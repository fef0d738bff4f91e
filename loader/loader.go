package loader

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// layoutVersion is NFDHCPD_LAYOUT_VERSION in bpf/nfdhcpd.h (TestHeaderConstants
// holds them equal): pinned maps written by another layout are recreated,
// not reused.
const layoutVersion = 3

// Names under PinPath.
const (
	progPin  = "classifier"
	linksDir = "links"
)

// Loader owns the classifier, its pinned maps and its attachments. Its
// methods are safe for concurrent use.
type Loader struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File // PinPath, flocked

	mu      sync.Mutex
	prog    *ebpf.Program
	progID  ebpf.ProgramID
	ifaces  *ebpf.Map
	limits  *ebpf.Map
	stats   *ebpf.Map
	config  *ebpf.Map
	answers *ebpf.Map
	scratch *ebpf.Map
	gen     uint64 // the last ifaces entry's generation (see nextGen)

	pins     map[int][]string // link pin paths by ifindex, under mu (see indexPins)
	upgrades upgradeQueue     // cls_bpf attachments waiting for Upgrade
	noTCX    bool             // a TCX attach said the kernel lacks it
	bulkTCX  int              // see bulkTCX; tests lower it

	// nl is our rtnetlink socket, opened in the network namespace Open
	// ran in; it serialises its own requests.
	nl *netlink.Handle

	// What a scrape reads, apart from mu so that it never waits for an
	// attach nor an attach for it: the record of attach methods, and the
	// maps' handles, which Close takes the write lock of mapsMu to close
	// (Stats and Limits read the maps under its read lock).
	attached attachments
	mapsMu   sync.RWMutex
}

// Open loads the classifier, or reuses the pinned one when it is the same
// program, and takes the pin directory's lock for the life of the Loader.
func Open(cfg Config) (*Loader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("loader config: %w", err)
	}
	mounted, err := ensureBPFFS(cfg.PinPath)
	if err != nil {
		return nil, err
	}
	if mounted {
		cfg.Logger.Info("no bpf filesystem was mounted; mounted one", "path", bpffsRoot)
	}
	if err := os.MkdirAll(filepath.Join(cfg.PinPath, linksDir), 0o700); err != nil {
		return nil, fmt.Errorf("%w: create pin directory: %w", ErrUnsupported, err)
	}
	lock, err := lockDir(cfg.PinPath)
	if err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, log: cfg.Logger.With("pin_path", cfg.PinPath), lock: lock, bulkTCX: bulkTCX, gen: firstGen()}
	// From here on reach the pin directory through the descriptor we hold:
	// a daemon that drops root can no longer walk a bpffs mounted 0700, as
	// systemd mounts /sys/fs/bpf, but a /proc/self/fd path resolves through
	// the open directory without checking its parents.
	l.cfg.PinPath = fmt.Sprintf("/proc/self/fd/%d", lock.Fd())
	if l.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		l.Close()
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if err := l.indexPins(); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.load(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// lockDir flocks dir so that a second daemon sharing the pin path fails at
// start instead of fighting over maps and attachments.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open pin directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("pin directory %s is locked: another nfdhcpd is running", dir)
		}
		return nil, fmt.Errorf("lock pin directory %s: %w", dir, err)
	}
	return f, nil
}

func (l *Loader) load() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	spec, err := loadClassifier()
	if err != nil {
		return err
	}
	recreated := l.dropStaleMaps()

	var objs classifierObjects
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: l.cfg.PinPath}}
	err = spec.LoadAndAssign(&objs, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// Same version, different shape (e.g. max_entries): start afresh;
		// Reconcile rewrites the entries.
		l.log.Warn("pinned maps incompatible, recreating", "error", err)
		l.unpinMaps()
		recreated = true
		err = spec.LoadAndAssign(&objs, opts)
	}
	if err != nil {
		return fmt.Errorf("%w: load classifier: %w", ErrUnsupported, err)
	}
	l.ifaces, l.limits, l.stats, l.config = objs.Ifaces, objs.Limits, objs.Stats, objs.Config
	l.answers, l.scratch = objs.Answers, objs.Scratch

	if err := l.writeConfig(); err != nil {
		objs.NfdhcpdClassify.Close()
		return err
	}
	return l.adoptProgram(objs.NfdhcpdClassify, recreated)
}

// dropStaleMaps unpins maps written under another layout version. It
// reports whether it did.
func (l *Loader) dropStaleMaps() bool {
	path := filepath.Join(l.cfg.PinPath, classifierMapConfig)
	m, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err == nil {
		var c classifierMarkConfig
		err = m.Lookup(uint32(0), &c)
		m.Close()
		if err == nil && c.Version == layoutVersion {
			return false
		}
		if err == nil {
			err = fmt.Errorf("layout version %d, want %d", c.Version, layoutVersion)
		}
	}
	l.log.Info("pinned maps from another layout, recreating", "reason", err)
	l.unpinMaps()
	return true
}

func (l *Loader) unpinMaps() {
	for _, name := range []string{classifierMapIfaces, classifierMapLimits, classifierMapStats, classifierMapConfig,
		classifierMapAnswers, classifierMapScratch, progPin} {
		if err := os.Remove(filepath.Join(l.cfg.PinPath, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("remove stale pin", "name", name, "error", err)
		}
	}
}

func (l *Loader) writeConfig() error {
	c := classifierMarkConfig{
		Version:    layoutVersion,
		Mask:       l.cfg.MarkMask,
		DhcpMark:   MarkFor(l.cfg, KindDHCP),
		RsMark:     MarkFor(l.cfg, KindRS),
		NsMark:     MarkFor(l.cfg, KindNS),
		Dhcpv6Mark: MarkFor(l.cfg, KindDHCPv6),
		// Set at every start: turning answers off takes effect at
		// once, before Reconcile has removed the templates.
		AnswerKinds: uint32(l.cfg.Answer),
	}
	c.IntervalNs, c.BurstNs = l.cfg.Limit.bucket()
	if err := l.config.Put(uint32(0), &c); err != nil {
		return fmt.Errorf("write classifier config: %w", err)
	}
	return nil
}

// adoptProgram keeps the pinned program when it is the one just loaded
// (same tag, same maps), so that attachments made by the previous run stay
// current; otherwise it pins the new one in its place, atomically by rename,
// and Attach/Reconcile move attachments over to it.
func (l *Loader) adoptProgram(fresh *ebpf.Program, mapsRecreated bool) error {
	path := filepath.Join(l.cfg.PinPath, progPin)
	freshInfo, err := fresh.Info()
	if err != nil {
		fresh.Close()
		return fmt.Errorf("%w: classifier info: %w", ErrUnsupported, err)
	}
	if old, err := ebpf.LoadPinnedProgram(path, nil); err == nil {
		if !mapsRecreated && l.sameProgram(freshInfo, old) {
			fresh.Close()
			return l.setProgram(old, "reused")
		}
		old.Close()
	}
	tmp := path + "_new" // bpffs refuses dots in names
	os.Remove(tmp)
	if err := fresh.Pin(tmp); err != nil {
		fresh.Close()
		return fmt.Errorf("pin classifier: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fresh.Close()
		return fmt.Errorf("pin classifier: %w", err)
	}
	return l.setProgram(fresh, "loaded")
}

func (l *Loader) sameProgram(freshInfo *ebpf.ProgramInfo, old *ebpf.Program) bool {
	oldInfo, err := old.Info()
	if err != nil || oldInfo.Tag != freshInfo.Tag {
		return false
	}
	want := []ebpf.MapID{}
	for _, m := range l.maps() {
		info, err := m.Info()
		if err != nil {
			return false
		}
		id, _ := info.ID()
		want = append(want, id)
	}
	have, _ := oldInfo.MapIDs()
	slices.Sort(want)
	have = slices.Sorted(slices.Values(have))
	return slices.Equal(want, have)
}

// maps are the classifier's maps, all pinned.
func (l *Loader) maps() []*ebpf.Map {
	return []*ebpf.Map{l.ifaces, l.limits, l.stats, l.config, l.answers, l.scratch}
}

func (l *Loader) setProgram(p *ebpf.Program, how string) error {
	info, err := p.Info()
	if err != nil {
		p.Close()
		return fmt.Errorf("classifier info: %w", err)
	}
	id, _ := info.ID()
	l.prog, l.progID = p, id
	l.log.Info("classifier ready", "how", how, "prog_id", id, "tag", info.Tag)
	return nil
}

// Close releases file descriptors and the lock. Pins, attachments and map
// entries stay, so that VMs keep being served across a restart.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mapsMu.Lock()
	defer l.mapsMu.Unlock()
	l.attached.clear()
	var errs []error
	if l.prog != nil {
		errs = append(errs, l.prog.Close())
	}
	for _, m := range l.maps() {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	l.prog, l.ifaces, l.limits, l.stats, l.config, l.answers, l.scratch = nil, nil, nil, nil, nil, nil, nil
	l.upgrades.clear()
	if l.nl != nil {
		l.nl.Close()
		l.nl = nil
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close()) // closing drops the flock
		l.lock = nil
	}
	return errors.Join(errs...)
}
