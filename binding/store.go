package binding

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// Entry is an active binding: a parsed file whose TAP (and INDEV) exist.
// Entries are immutable snapshots; a change produces a new Entry.
type Entry struct {
	Binding *Binding
	TAP     Link // the TAP named by the file
	InDev   Link // INDEV's link; equal to TAP in routed setups
	Bridged bool // the TAP is a port of a bridge (TAP.MasterIndex is that bridge)

	// Prepared is what Options.Prepare returned for this entry: the packet
	// path's own precomputed view, built once per change, not per packet.
	Prepared any
}

// ChangeKind says what happened to a TAP's entry.
type ChangeKind int

const (
	Activated   ChangeKind = iota + 1 // the binding and its links all exist now
	Updated                           // the file or a link changed; Old is the previous entry
	Deactivated                       // the file or the TAP went away; Entry is the last entry
)

func (k ChangeKind) String() string {
	switch k {
	case Activated:
		return "activated"
	case Updated:
		return "updated"
	case Deactivated:
		return "deactivated"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one entry appearing, changing or going away.
type Change struct {
	Kind  ChangeKind
	Entry *Entry // for Deactivated, the entry that went away
	Old   *Entry // for Updated, the entry it replaces
}

// FileStatus describes one binding file, active or not.
type FileStatus struct {
	TAP     string
	Path    string
	Active  bool
	Binding *Binding // the version in force (the last good one); nil if none yet
	// Err is why the last read was rejected, and why the version in force
	// is refused (wrapping ErrNotVMPort) when its TAP is not a VM port;
	// nil when the file was accepted and is active or waiting.
	Err     error
	Waiting string // why a good binding is not active, e.g. "no link tap10"
}

// Options tune a Store. The zero value works: netlink in the current
// namespace, logs discarded.
type Options struct {
	Logger *slog.Logger
	// Prepare, when set, is called once for every new Entry, in the store's
	// goroutine; its result is stored as Entry.Prepared. It may use the
	// lookups but must not call Status.
	Prepare func(*Entry) any
	// Links is where links come from; nil means Netlink{} in the current
	// network namespace.
	Links LinkSource
}

// Store holds the binding files of one directory joined with live links.
// Lookups read an immutable snapshot through an atomic pointer, so the
// packet path never waits for the goroutine that applies changes.
type Store struct {
	dir  string
	opt  Options
	log  *slog.Logger
	snap atomic.Pointer[snapshot]

	ready   chan struct{}
	rescan  chan struct{}
	changes chan Change

	mu      sync.Mutex // guards files, links and pending; held only briefly
	files   map[string]*fileState
	links   map[int]Link
	pending []Change
	wanted  bool          // Changes was called: queue changes for it
	wake    chan struct{} // pending grew
	notify  []chan struct{}
}

type fileState struct {
	good *Binding
	err  error
	// refused is why good is not active although its TAP exists: the
	// link is not a VM port (VMPort). Set by publish.
	refused error
}

type snapshot struct {
	byIndex     map[int]*Entry
	byName      map[string]*Entry
	byBridgeMAC map[bridgeMAC]*Entry
	entries     []*Entry // sorted by TAP name
}

type bridgeMAC struct {
	bridge int
	mac    [6]byte
}

// NewStore returns a store for the binding files in dir. Nothing is read
// until Run.
func NewStore(dir string, opt Options) *Store {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Links == nil {
		opt.Links = Netlink{Logger: log}
	}
	s := &Store{
		dir:     dir,
		opt:     opt,
		log:     log,
		ready:   make(chan struct{}),
		rescan:  make(chan struct{}, 1),
		changes: make(chan Change, 256),
		files:   map[string]*fileState{},
		links:   map[int]Link{},
		wake:    make(chan struct{}, 1),
	}
	s.snap.Store(&snapshot{})
	return s
}

// Ready is closed once Run has loaded the directory and listed the links.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Rescan asks Run to read the whole directory again (SIGHUP).
func (s *Store) Rescan() {
	select {
	case s.rescan <- struct{}{}:
	default: // one is already pending
	}
}

// Changes returns the stream of entry changes, in order. Nothing is queued
// until the first call; that call queues an Activated change for every entry
// already active, so a reader that starts late still sees every TAP that is
// up. Call it before Run, or at least before reading Entries: a TAP that goes
// away before the first call is never reported. Changes are never dropped,
// so the reader must keep draining the channel.
func (s *Store) Changes() <-chan Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wanted {
		s.wanted = true
		// publish swaps the snapshot under mu, so this is a consistent cut:
		// later changes are queued after these.
		for _, e := range s.snap.Load().entries {
			s.pending = append(s.pending, Change{Kind: Activated, Entry: e})
		}
		if len(s.pending) > 0 {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
	return s.changes
}

// Notify returns a channel that receives whenever the entries in force
// change, for a reader that needs to know only that (and looks them up
// itself), beside the one that reads Changes. At most one is pending: the
// store never waits for the reader.
func (s *Store) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.notify = append(s.notify, ch)
	s.mu.Unlock()
	return ch
}

// ByIndex returns the active entry whose TAP has this ifindex, or nil.
func (s *Store) ByIndex(ifindex int) *Entry { return s.snap.Load().byIndex[ifindex] }

// ByName returns the active entry for the TAP of this name, or nil.
func (s *Store) ByName(tap string) *Entry { return s.snap.Load().byName[tap] }

// ByBridgeMAC returns the active entry whose TAP is a port of the bridge
// with this ifindex and whose binding has this MAC, or nil. It finds the TAP
// of a bridged frame when br_netfilter does not report the physical port.
func (s *Store) ByBridgeMAC(bridgeIndex int, mac net.HardwareAddr) *Entry {
	if len(mac) != 6 {
		return nil
	}
	return s.snap.Load().byBridgeMAC[bridgeMAC{bridgeIndex, [6]byte(mac)}]
}

// Entries returns the active entries sorted by TAP name. The slice is shared:
// do not modify it.
func (s *Store) Entries() []*Entry { return s.snap.Load().entries }

// Status describes every binding file seen, sorted by TAP name.
func (s *Store) Status() []FileStatus {
	snap := s.snap.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FileStatus, 0, len(s.files))
	for tap, f := range s.files {
		st := FileStatus{TAP: tap, Path: filepath.Join(s.dir, tap), Binding: f.good, Err: f.err}
		switch {
		case snap.byName[tap] != nil:
			st.Active = true
		case f.good != nil && f.refused != nil:
			st.Err = errors.Join(f.err, f.refused)
		case f.good != nil:
			st.Waiting = s.waitingLocked(f.good)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b FileStatus) int { return compareStrings(a.TAP, b.TAP) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) waitingLocked(b *Binding) string {
	if _, ok := s.linkByNameLocked(b.TAP); !ok {
		return "no link " + b.TAP
	}
	if _, ok := s.linkByNameLocked(b.InDev); !ok {
		return "no link " + b.InDev + " (INDEV)"
	}
	return "links listed after the last update; applied on the next one"
}

func (s *Store) linkByNameLocked(name string) (Link, bool) {
	for _, l := range s.links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// Run loads the directory, lists the links, then follows both until ctx is
// done. It returns an error if the directory cannot be watched or read, or
// goes away.
func (s *Store) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Watch before reading, so a file written during the first read is seen.
	w, err := newWatcher(s.dir)
	if err != nil {
		return err
	}
	defer w.Close()
	fileEvents := make(chan fileEvent, 256)
	watchErr := make(chan error, 1)
	go func() { watchErr <- w.run(ctx, fileEvents) }()

	linkUpdates := make(chan LinkUpdate, 256)
	linkErr := make(chan error, 1)
	go func() {
		linkErr <- s.opt.Links.WatchLinks(ctx, func(u LinkUpdate) {
			select {
			case linkUpdates <- u:
			case <-ctx.Done():
			}
		})
	}()

	go s.forwardChanges(ctx)

	if err := s.loadAll(); err != nil {
		return err
	}
	listed := false
	for !listed {
		select {
		case u := <-linkUpdates:
			listed = s.applyLinks(u) || listed
		case err := <-linkErr:
			return fmt.Errorf("watch links: %w", err)
		case <-ctx.Done():
			return nil
		}
	}
	s.publish()
	close(s.ready)
	s.log.Info("bindings loaded", "dir", s.dir, "active", len(s.Entries()), "files", len(s.files))

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-watchErr:
			if err == nil {
				return nil
			}
			return err
		case err := <-linkErr:
			if err == nil {
				return nil
			}
			return fmt.Errorf("watch links: %w", err)
		case <-s.rescan:
			if err := s.loadAll(); err != nil {
				s.log.Error("rescan failed", "dir", s.dir, "err", err)
			}
		case ev := <-fileEvents:
			s.applyFile(ev)
		case u := <-linkUpdates:
			s.applyLinks(u)
		}
		s.applyQueued(fileEvents, linkUpdates)
		s.publish()
	}
}

// maxBatch bounds how many queued events one snapshot takes in, so an
// endless stream of events still publishes now and then.
const maxBatch = 4096

// applyQueued applies the file and link events already waiting, so that a
// burst (a thousand bindings rewritten, a storm of links) rebuilds the
// snapshot once, not once per event: publish walks every binding.
func (s *Store) applyQueued(fileEvents <-chan fileEvent, linkUpdates <-chan LinkUpdate) {
	for range maxBatch {
		select {
		case ev := <-fileEvents:
			s.applyFile(ev)
		case u := <-linkUpdates:
			s.applyLinks(u)
		default:
			return
		}
	}
}

func (s *Store) applyFile(ev fileEvent) {
	switch ev.op {
	case fileOverflow:
		s.log.Warn("inotify queue overflowed, reading the whole directory", "dir", s.dir)
		if err := s.loadAll(); err != nil {
			s.log.Error("rescan failed", "dir", s.dir, "err", err)
		}
	case fileChanged:
		if !Ignored(ev.name) {
			s.load(ev.name)
		}
	case fileRemoved:
		if !Ignored(ev.name) {
			s.mu.Lock()
			_, had := s.files[ev.name]
			delete(s.files, ev.name)
			s.mu.Unlock()
			if had {
				s.log.Info("binding file removed", "tap", ev.name)
			}
		}
	}
}

// loadAll reads every binding file and forgets those no longer present.
func (s *Store) loadAll() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read binding directory: %w", err)
	}
	present := map[string]bool{}
	for _, de := range des {
		if Ignored(de.Name()) || de.IsDir() {
			continue
		}
		present[de.Name()] = true
		s.load(de.Name())
	}
	s.mu.Lock()
	for tap := range s.files {
		if !present[tap] {
			delete(s.files, tap)
		}
	}
	s.mu.Unlock()
	return nil
}

// load reads one file. A file that is empty or fails to parse leaves the
// last good version in force: in-place writers produce both states for a
// moment, and a close-after-write event follows once they are done.
func (s *Store) load(tap string) {
	path := filepath.Join(s.dir, tap)
	b, err := ReadFile(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[tap]
	switch {
	case errors.Is(err, fs.ErrNotExist):
		delete(s.files, tap) // gone before we read it: the removal event follows
		return
	case errors.Is(err, ErrNotRegular):
		// Not a binding file at all, so no earlier version stays in
		// force; listed with its error so that /bindings shows why.
		s.files[tap] = &fileState{err: err}
		s.log.Warn("not a regular file, ignored", "file", path, "err", err)
		return
	}
	if f == nil {
		f = &fileState{}
		s.files[tap] = f
	}
	f.err = err
	switch {
	case errors.Is(err, ErrEmpty):
		s.log.Debug("binding file empty, keeping the last good version", "file", path, "have_good", f.good != nil)
	case err != nil:
		s.log.Warn("binding file rejected, keeping the last good version", "file", path, "have_good", f.good != nil, "err", err)
	case f.good != nil && reflect.DeepEqual(f.good, b):
		// Rewritten with the same content (hooks rewrite on every
		// reconfiguration): keep the pointer so no change is reported.
	default:
		f.good = b
		s.log.Debug("binding file read", "file", path, "unknown_keys", b.UnknownKeys)
		// Once per version: a rewrite with the same content (or SIGHUP)
		// does not repeat them.
		for _, w := range b.Warnings {
			s.log.Warn("binding file served with a warning", w.logArgs(tap)...)
		}
	}
}

// applyLinks updates the known links and reports whether u was a full listing.
func (s *Store) applyLinks(u LinkUpdate) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch u.Kind {
	case LinksListed:
		s.links = make(map[int]Link, len(u.Links))
		for _, l := range u.Links {
			s.links[l.Index] = l
		}
		return true
	case LinksChanged:
		for _, l := range u.Links {
			s.links[l.Index] = l
		}
	case LinksRemoved:
		for _, l := range u.Links {
			delete(s.links, l.Index)
		}
	}
	return false
}

// publish builds a new snapshot from files and links, stores it, and queues
// the differences as changes. Unchanged entries keep their identity.
func (s *Store) publish() {
	old := s.snap.Load()
	s.mu.Lock()
	byName := make(map[string]Link, len(s.links))
	for _, l := range s.links {
		byName[l.Name] = l
	}
	next := &snapshot{
		byIndex:     map[int]*Entry{},
		byName:      map[string]*Entry{},
		byBridgeMAC: map[bridgeMAC]*Entry{},
	}
	taps := make([]string, 0, len(s.files))
	for tap, f := range s.files {
		if f.good != nil {
			taps = append(taps, tap)
		}
	}
	slices.Sort(taps)
	var changes []Change
	var refused []error // newly refused, logged below
	for _, tap := range taps {
		f := s.files[tap]
		b := f.good
		tl, ok := byName[b.TAP]
		if !ok {
			f.refused = nil
			continue
		}
		// The TAP itself must be a VM port; INDEV (a bridge, in bridged
		// setups) is only looked up, never attached to nor sent on.
		if err := VMPort(tl); err != nil {
			if f.refused == nil || f.refused.Error() != err.Error() {
				refused = append(refused, err)
			}
			f.refused = err
			continue
		}
		f.refused = nil
		il, ok := byName[b.InDev]
		if !ok {
			continue
		}
		master, hasMaster := s.links[tl.MasterIndex]
		e := &Entry{
			Binding: b,
			TAP:     tl,
			InDev:   il,
			Bridged: tl.MasterIndex != 0 && hasMaster && (master.Kind == "bridge" || master.Kind == "openvswitch"),
		}
		prev := old.byName[tap]
		switch {
		case prev != nil && prev.Binding == e.Binding && prev.TAP.equal(e.TAP) && prev.InDev.equal(e.InDev) && prev.Bridged == e.Bridged:
			e = prev
		case prev != nil:
			e.Prepared = s.prepare(e)
			changes = append(changes, Change{Kind: Updated, Entry: e, Old: prev})
		default:
			e.Prepared = s.prepare(e)
			changes = append(changes, Change{Kind: Activated, Entry: e})
		}
		next.byName[tap] = e
		next.entries = append(next.entries, e)
		if other := next.byIndex[tl.Index]; other != nil {
			s.log.Warn("two bindings for one ifindex", "ifindex", tl.Index, "tap", tap, "other", other.Binding.TAP)
		}
		next.byIndex[tl.Index] = e
		if e.Bridged {
			k := bridgeMAC{tl.MasterIndex, [6]byte(b.MAC)}
			if other := next.byBridgeMAC[k]; other != nil {
				s.log.Warn("two TAPs on one bridge bound to the same MAC; the first wins",
					"bridge", tl.MasterIndex, "mac", b.MAC.String(), "tap", tap, "first", other.Binding.TAP)
			} else {
				next.byBridgeMAC[k] = e
			}
		}
	}
	for _, e := range old.entries {
		if next.byName[e.Binding.TAP] == nil {
			changes = append(changes, Change{Kind: Deactivated, Entry: e})
		}
	}
	s.snap.Store(next)
	if s.wanted && len(changes) > 0 {
		s.pending = append(s.pending, changes...)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	for _, ch := range s.notify {
		if len(changes) > 0 {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	s.mu.Unlock()
	for _, err := range refused {
		s.log.Warn("binding refused", "err", err)
	}
	for _, c := range changes {
		s.log.Info("binding "+c.Kind.String(), "tap", c.Entry.Binding.TAP, "ifindex", c.Entry.TAP.Index,
			"indev", c.Entry.InDev.Name, "bridged", c.Entry.Bridged)
	}
}

func (s *Store) prepare(e *Entry) any {
	if s.opt.Prepare == nil {
		return nil
	}
	return s.opt.Prepare(e)
}

// forwardChanges moves queued changes to the channel, in order, so that a
// slow reader never stalls the goroutine that keeps the snapshot current.
func (s *Store) forwardChanges(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.changes <- c:
			case <-ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
	}
}
