package binding

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeLinks is a LinkSource driven by the test.
type fakeLinks struct{ ch chan LinkUpdate }

func newFakeLinks(initial ...Link) *fakeLinks {
	f := &fakeLinks{ch: make(chan LinkUpdate, 16)}
	f.ch <- LinkUpdate{Kind: LinksListed, Links: initial}
	return f
}

func (f *fakeLinks) WatchLinks(ctx context.Context, update func(LinkUpdate)) error {
	for {
		select {
		case u := <-f.ch:
			update(u)
		case <-ctx.Done():
			return nil
		}
	}
}

func bindingText(mac, extra string) string {
	return "MAC=" + mac + "\nHOSTNAME=vm\nIP=192.0.2.10\nSUBNET=192.0.2.0/24\n" + extra
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startStore runs a store until the test ends and waits for Ready.
func startStore(t *testing.T, dir string, links LinkSource) (*Store, <-chan Change) {
	t.Helper()
	return startStoreLog(t, dir, links, nil)
}

// startStoreLog is startStore with the store logging to log.
func startStoreLog(t *testing.T, dir string, links LinkSource, log *slog.Logger) (*Store, <-chan Change) {
	t.Helper()
	s := NewStore(dir, Options{Links: links, Logger: log, Prepare: func(e *Entry) any { return "prepared:" + e.Binding.TAP }})
	changes := s.Changes()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context's end")
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run ended before Ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("store not ready after 5s")
	}
	return s, changes
}

// nextChange waits for one change and checks its kind and TAP.
func nextChange(t *testing.T, ch <-chan Change, kind ChangeKind, tap string) Change {
	t.Helper()
	select {
	case c := <-ch:
		if c.Kind != kind || c.Entry.Binding.TAP != tap {
			t.Fatalf("change = %v %s, want %v %s", c.Kind, c.Entry.Binding.TAP, kind, tap)
		}
		return c
	case <-time.After(2 * time.Second):
		t.Fatalf("no %v change for %s within 2s", kind, tap)
	}
	return Change{}
}

// nextChanges takes len(want) changes in any order: changes to different
// TAPs that land in one snapshot carry no order between them.
func nextChanges(t *testing.T, ch <-chan Change, want ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	for range want {
		select {
		case c := <-ch:
			got := c.Kind.String() + " " + c.Entry.Binding.TAP
			if !left[got] {
				t.Fatalf("change = %s, want one of %v", got, left)
			}
			delete(left, got)
		case <-time.After(2 * time.Second):
			t.Fatalf("no change within 2s; still waiting for %v", left)
		}
	}
}

func noChange(t *testing.T, ch <-chan Change) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("unexpected change %v %s", c.Kind, c.Entry.Binding.TAP)
	case <-time.After(150 * time.Millisecond):
	}
}

var (
	macA = "aa:00:00:00:00:01"
	macB = "aa:00:00:00:00:02"
	tapL = Link{Index: 7, Name: "tap0", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 7}, Kind: "veth"}
)

func TestStoreInitialLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	writeFile(t, dir, "tap1", "MAC=bad\n")
	writeFile(t, dir, "tap2", bindingText(macB, ""))
	for _, junk := range []string{".tap3.tmp", "tap3~", "tap3.swp", "tap3.tmp", "4913", "#tap3#"} {
		writeFile(t, dir, junk, bindingText(macB, ""))
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, changes := startStore(t, dir, newFakeLinks(tapL))

	c := nextChange(t, changes, Activated, "tap0")
	if c.Entry.TAP.Index != 7 || c.Entry.InDev.Name != "tap0" || c.Entry.Bridged || c.Entry.Prepared != "prepared:tap0" {
		t.Errorf("entry = %+v", c.Entry)
	}
	if s.ByIndex(7) != c.Entry || s.ByName("tap0") != c.Entry || s.ByIndex(8) != nil || s.ByName("tap2") != nil {
		t.Errorf("lookups do not return the activated entry")
	}
	if got := s.Entries(); len(got) != 1 || got[0] != c.Entry {
		t.Errorf("Entries = %v", got)
	}
	st := s.Status()
	var lines []string
	for _, f := range st {
		line := f.TAP + " active=" + map[bool]string{true: "yes", false: "no"}[f.Active] + " waiting=" + f.Waiting
		if f.Err != nil {
			line += " err=" + strings.ReplaceAll(f.Err.Error(), dir, "DIR")
		}
		lines = append(lines, line)
	}
	want := []string{
		"tap0 active=yes waiting=",
		"tap1 active=no waiting= err=DIR/tap1:1: MAC: \"bad\" is not an Ethernet MAC address\nDIR/tap1: HOSTNAME: required",
		"tap2 active=no waiting=no link tap2",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Status:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestStoreInPlaceWriter follows a writer that truncates and rewrites the
// file in place, as Ganeti's hooks do: the empty and the cut-short states
// must leave the last good version in force.
func TestStoreInPlaceWriter(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	s, changes := startStore(t, dir, newFakeLinks(tapL))
	first := nextChange(t, changes, Activated, "tap0")

	path := filepath.Join(dir, "tap0")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // close-after-write of an empty file
	noChange(t, changes)
	if s.ByName("tap0") != first.Entry {
		t.Fatal("empty file replaced the last good binding")
	}

	writeFile(t, dir, "tap0", "MAC="+macB+"\nHOSTN") // cut short mid-write
	noChange(t, changes)
	if s.ByName("tap0") != first.Entry {
		t.Fatal("cut-short file replaced the last good binding")
	}
	if st := s.Status(); st[0].Err == nil || st[0].Binding != first.Entry.Binding {
		t.Errorf("Status of cut-short file = %+v", st[0])
	}

	// The same content written again is not a change.
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	noChange(t, changes)
	if s.ByName("tap0") != first.Entry {
		t.Fatal("rewriting the same content replaced the entry")
	}

	start := time.Now()
	writeFile(t, dir, "tap0", bindingText(macB, "MTU=1450\n"))
	c := nextChange(t, changes, Updated, "tap0")
	t.Logf("in-place rewrite took effect after %v", time.Since(start))
	if c.Old != first.Entry || c.Entry.Binding.MTU != 1450 || c.Entry.Binding.MAC.String() != macB {
		t.Errorf("update = %+v", c)
	}
	if st := s.Status(); st[0].Err != nil {
		t.Errorf("error kept after a good write: %v", st[0].Err)
	}
}

// TestStoreRenameWriter follows temp-file + rename, rename away and delete.
func TestStoreRenameWriter(t *testing.T) {
	dir := t.TempDir()
	tap1 := Link{Index: 9, Name: "tap1", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 9}, Kind: "tuntap"}
	s, changes := startStore(t, dir, newFakeLinks(tapL, tap1))

	writeFile(t, dir, ".tap0.tmp", bindingText(macA, ""))
	noChange(t, changes)
	start := time.Now()
	if err := os.Rename(filepath.Join(dir, ".tap0.tmp"), filepath.Join(dir, "tap0")); err != nil {
		t.Fatal(err)
	}
	nextChange(t, changes, Activated, "tap0")
	t.Logf("rename took effect after %v", time.Since(start))

	// Replace by rename: the same TAP is updated, not deactivated first.
	writeFile(t, dir, "tap0.new", bindingText(macB, ""))
	if err := os.Rename(filepath.Join(dir, "tap0.new"), filepath.Join(dir, "tap0")); err != nil {
		t.Fatal(err)
	}
	c := nextChange(t, changes, Updated, "tap0")
	if c.Entry.Binding.MAC.String() != macB {
		t.Errorf("MAC after replace = %s", c.Entry.Binding.MAC)
	}

	// Renamed to another TAP's name: one goes, the other comes.
	if err := os.Rename(filepath.Join(dir, "tap0"), filepath.Join(dir, "tap1")); err != nil {
		t.Fatal(err)
	}
	nextChanges(t, changes, "deactivated tap0", "activated tap1")
	if s.ByIndex(9) == nil || s.ByIndex(7) != nil {
		t.Error("lookups by index do not follow the rename")
	}

	if err := os.Remove(filepath.Join(dir, "tap1")); err != nil {
		t.Fatal(err)
	}
	nextChange(t, changes, Deactivated, "tap1")
	if len(s.Entries()) != 0 || len(s.Status()) != 0 {
		t.Errorf("after delete: entries %v, status %v", s.Entries(), s.Status())
	}
}

// TestStoreRescan: a hard link made into the directory raises no event that
// the store acts on, so only Rescan (SIGHUP) picks it up.
func TestStoreRescan(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	s, changes := startStore(t, dir, newFakeLinks(tapL))
	writeFile(t, other, "x", bindingText(macA, ""))
	if err := os.Link(filepath.Join(other, "x"), filepath.Join(dir, "tap0")); err != nil {
		t.Skipf("hard link across temp dirs: %v", err)
	}
	noChange(t, changes)
	s.Rescan()
	nextChange(t, changes, Activated, "tap0")
}

// TestStoreLinks: binding before TAP, TAP gone, TAP re-created with a new
// ifindex, bridge port, INDEV missing.
func TestStoreLinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	writeFile(t, dir, "tap5", bindingText(macB, "INDEV=br0\n"))
	links := newFakeLinks()
	s, changes := startStore(t, dir, links)
	if len(s.Entries()) != 0 {
		t.Fatal("active without links")
	}
	links.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{tapL}}
	nextChange(t, changes, Activated, "tap0")

	links.ch <- LinkUpdate{Kind: LinksRemoved, Links: []Link{tapL}}
	nextChange(t, changes, Deactivated, "tap0")
	if s.ByIndex(7) != nil {
		t.Error("ByIndex finds a removed TAP")
	}

	again := tapL
	again.Index = 70
	links.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{again}}
	c := nextChange(t, changes, Activated, "tap0")
	if c.Entry.TAP.Index != 70 || s.ByIndex(70) != c.Entry || s.ByIndex(7) != nil {
		t.Errorf("re-created TAP not followed: %+v", c.Entry.TAP)
	}

	br := Link{Index: 20, Name: "br0", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 20}, Kind: "bridge"}
	port := Link{Index: 21, Name: "tap5", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 21}, MasterIndex: 20, Kind: "tuntap"}
	links.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{port}}
	noChange(t, changes) // INDEV br0 does not exist yet
	if st := s.Status(); st[1].Waiting != "no link br0 (INDEV)" {
		t.Errorf("Waiting = %q", st[1].Waiting)
	}
	links.ch <- LinkUpdate{Kind: LinksChanged, Links: []Link{br}}
	c = nextChange(t, changes, Activated, "tap5")
	if !c.Entry.Bridged || c.Entry.InDev.Index != 20 || c.Entry.TAP.Index != 21 {
		t.Errorf("bridged entry = %+v", c.Entry)
	}
	mac, _ := net.ParseMAC(macB)
	if s.ByBridgeMAC(20, mac) != c.Entry || s.ByBridgeMAC(21, mac) != nil || s.ByBridgeMAC(20, tapL.MAC) != nil {
		t.Error("ByBridgeMAC does not find the bridge port by MAC")
	}

	// A full listing after an overrun replaces everything known.
	links.ch <- LinkUpdate{Kind: LinksListed, Links: []Link{br, port}}
	nextChange(t, changes, Deactivated, "tap0")
	noChange(t, changes)
}

func TestStoreMissingDir(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "nope"), Options{Links: newFakeLinks()})
	err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("Run on a missing directory: %v", err)
	}
}

func TestStoreDirRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := NewStore(dir, Options{Links: newFakeLinks()})
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	<-s.Ready()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "was removed or moved") {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not notice its directory went away")
	}
}

func TestIgnored(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"tap0", false}, {"one-12-0", false}, {"vnet3", false},
		{".tap0", true}, {".tap0.tmp", true}, {"tap0~", true}, {"tap0.swp", true},
		{"tap0.tmp", true}, {"tap0.dpkg-new", true}, {"#tap0#", true}, {"4913", true}, {"", true},
	} {
		if got := Ignored(tt.name); got != tt.want {
			t.Errorf("Ignored(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeInotify(t *testing.T) {
	rec := func(mask uint32, name string) []byte {
		n := len(name)
		if n > 0 {
			n = (n + 16) &^ 15 // NUL-padded, as the kernel does
		}
		b := make([]byte, 16+n)
		b[4], b[5], b[6], b[7] = byte(mask), byte(mask>>8), byte(mask>>16), byte(mask>>24)
		b[12] = byte(n)
		copy(b[16:], name)
		return b
	}
	var buf []byte
	buf = append(buf, rec(0x8, "tap0")...)               // IN_CLOSE_WRITE
	buf = append(buf, rec(0x80, "tap1")...)              // IN_MOVED_TO
	buf = append(buf, rec(0x200, "tap2")...)             // IN_DELETE
	buf = append(buf, rec(0x40, "tap3")...)              // IN_MOVED_FROM
	buf = append(buf, rec(0x40000080, "sub")...)         // IN_MOVED_TO|IN_ISDIR
	buf = append(buf, rec(0x4000, "")...)                // IN_Q_OVERFLOW
	buf = append(buf, rec(0x8, "tap-long-name")[:20]...) // truncated record: ignored
	evs, gone := decodeInotify(buf)
	want := []fileEvent{{fileChanged, "tap0"}, {fileChanged, "tap1"}, {fileRemoved, "tap2"}, {fileRemoved, "tap3"}, {fileOverflow, ""}}
	if gone || len(evs) != len(want) {
		t.Fatalf("decodeInotify = %v, gone %v", evs, gone)
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d = %v, want %v", i, evs[i], want[i])
		}
	}
	if _, gone := decodeInotify(rec(0x400, "")); !gone { // IN_DELETE_SELF
		t.Error("IN_DELETE_SELF not reported as gone")
	}
}

// TestStoreLateChanges: a reader that asks for changes after Ready first
// gets every active entry, then what follows.
func TestStoreLateChanges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	s := NewStore(dir, Options{Links: newFakeLinks(tapL)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-s.Ready()
	changes := s.Changes()
	c := nextChange(t, changes, Activated, "tap0")
	if c.Entry != s.ByName("tap0") {
		t.Error("replayed entry is not the active one")
	}
	if err := os.Remove(filepath.Join(dir, "tap0")); err != nil {
		t.Fatal(err)
	}
	nextChange(t, changes, Deactivated, "tap0")
	if s.Changes() != changes {
		t.Error("Changes returned a different channel")
	}
	noChange(t, changes) // a second call replays nothing
}

// A file served with warnings is active, and each warning is logged once
// when that version loads, naming the file, line and key: not again when
// the same content is rewritten or the folder rescanned, and anew for a
// version with other content.
func TestStoreLogsWarnings(t *testing.T) {
	dir := t.TempDir()
	text := bindingText(macA, "export FOO\nHOSTNAME=web_01\n")
	writeFile(t, dir, "tap0", text)
	log := &syncBuffer{}
	s, changes := startStoreLog(t, dir, newFakeLinks(tapL), slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})))
	nextChanges(t, changes, "activated tap0")
	if e := s.ByName("tap0"); e == nil || e.Binding.Hostname != "web_01" {
		t.Fatalf("tap0 not served as web_01: %+v", e)
	}
	path := filepath.Join(dir, "tap0")
	want := `level=WARN msg="binding file served with a warning" iface=tap0 file=` + path + ` line=5 why="\"export FOO\" is not KEY=VALUE, ignored"
level=WARN msg="binding file served with a warning" iface=tap0 file=` + path + ` line=6 key=HOSTNAME why="set again (also on line 2), the last one wins"
level=WARN msg="binding file served with a warning" iface=tap0 file=` + path + ` line=6 key=HOSTNAME why="\"web_01\" is not a DNS name: sent as option 12 as written, but no domain is derived from it"
`
	warnings := func() string {
		var out []string
		for _, l := range strings.SplitAfter(log.String(), "\n") {
			if strings.HasPrefix(l, "level=WARN") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "")
	}
	if got := warnings(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}

	writeFile(t, dir, "tap0", text)
	s.Rescan()
	noChange(t, changes)
	if got := warnings(); got != want {
		t.Errorf("log after the same content again:\n%s\nwant only:\n%s", got, want)
	}

	writeFile(t, dir, "tap0", bindingText(macA, "MTU=0\n"))
	nextChanges(t, changes, "updated tap0")
	want += `level=WARN msg="binding file served with a warning" iface=tap0 file=` + path + ` line=5 key=MTU why="\"0\" is not an MTU (68-65535), taken as unset as the original did"
`
	if got := warnings(); got != want {
		t.Errorf("log after new content:\n%s\nwant:\n%s", got, want)
	}
}

// Notify tells a second reader that the entries changed, whatever that
// reader does with it, and never on a rewrite that changes nothing.
func TestStoreNotify(t *testing.T) {
	dir := t.TempDir()
	links := newFakeLinks(Link{Index: 7, Name: "tap7", Kind: "tuntap"})
	s := NewStore(dir, Options{Links: links})
	n := s.Notify()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	<-s.Ready()
	notified := func(want bool) {
		t.Helper()
		select {
		case <-n:
			if !want {
				t.Error("notified of nothing")
			}
		case <-time.After(300 * time.Millisecond):
			if want {
				t.Error("not notified")
			}
		}
	}
	text := bindingText("aa:00:00:00:00:07", "DELEGATED_PREFIX6=2001:db8:7::/48\n")
	writeFile(t, dir, "tap7", text)
	notified(true)
	writeFile(t, dir, "tap7", text)
	notified(false)
	writeFile(t, dir, "tap7", bindingText("aa:00:00:00:00:07", ""))
	notified(true)
	if e := s.ByIndex(7); e == nil || e.Binding.DelegatedPrefixes6 != nil {
		t.Errorf("entry %+v", e)
	}
}
