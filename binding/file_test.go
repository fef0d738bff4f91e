package binding

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within runs fn and fails the test if it has not returned after 2s: a
// FIFO's open blocks until a writer comes, and the test must say so rather
// than hang.
func within[T any](t *testing.T, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(2 * time.Second):
		t.Fatalf("%s did not return within 2s", what)
	}
	panic("unreachable")
}

// special makes a directory entry of each kind that is not a regular file.
// The device is /dev/null's (1,3), made only where mknod is allowed.
var special = []struct {
	name, want string
	make       func(t *testing.T, path, good string) bool
}{
	{"fifo", "a FIFO", func(t *testing.T, path, _ string) bool { return unix.Mkfifo(path, 0o644) == nil }},
	{"symlink to a good binding", "a symbolic link", func(t *testing.T, path, good string) bool { return os.Symlink(good, path) == nil }},
	{"dangling symlink", "a symbolic link", func(t *testing.T, path, _ string) bool { return os.Symlink("/nonexistent", path) == nil }},
	{"symlink to a FIFO", "a symbolic link", func(t *testing.T, path, _ string) bool {
		return unix.Mkfifo(path+"-fifo", 0o644) == nil && os.Symlink(path+"-fifo", path) == nil
	}},
	{"directory", "a directory", func(t *testing.T, path, _ string) bool { return os.Mkdir(path, 0o755) == nil }},
	{"socket", "a socket", func(t *testing.T, path, _ string) bool {
		l, err := net.Listen("unix", path)
		if err != nil {
			return false
		}
		t.Cleanup(func() { l.Close() })
		return true
	}},
	{"device", "a device", func(t *testing.T, path, _ string) bool {
		return unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) == nil
	}},
}

func TestReadFileNotRegular(t *testing.T) {
	for _, tt := range special {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			good := filepath.Join(dir, "good")
			writeFile(t, dir, "good", bindingText(macA, ""))
			path := filepath.Join(dir, "tap0")
			if !tt.make(t, path, good) {
				t.Skipf("cannot make a %s here", tt.want)
			}
			type result struct {
				b   *Binding
				err error
			}
			r := within(t, "ReadFile", func() result { b, err := ReadFile(path); return result{b, err} })
			if r.b != nil || !errors.Is(r.err, ErrNotRegular) {
				t.Fatalf("ReadFile = %v, %v; want ErrNotRegular", r.b, r.err)
			}
			if want := path + ": " + tt.want + ", not a regular file"; r.err.Error() != want {
				t.Errorf("error %q, want %q", r.err, want)
			}
		})
	}
}

// openRegular is what stands between the store and a FIFO or a link that
// took a name's place after ReadFile's Lstat: it must neither wait for a
// writer nor follow the link.
func TestOpenRegularNeverWaitsNorFollows(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	writeFile(t, dir, "good", bindingText(macA, ""))
	if err := os.Symlink(filepath.Join(dir, "good"), link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "a FIFO", link: "a symbolic link"} {
		err := within(t, "openRegular("+path+")", func() error {
			f, _, err := openRegular(path)
			if f != nil {
				f.Close()
			}
			return err
		})
		if want := path + ": " + want + ", not a regular file"; err == nil || err.Error() != want {
			t.Errorf("openRegular(%s) = %v, want %q", path, err, want)
		}
	}
}

func TestReadFileSize(t *testing.T) {
	dir := t.TempDir()
	text := bindingText(macA, "")
	pad := func(n int) string { return text + "#" + strings.Repeat("x", n-len(text)-2) + "\n" }
	writeFile(t, dir, "tap0", pad(maxFileSize))
	if b, err := ReadFile(filepath.Join(dir, "tap0")); err != nil || b.MAC.String() != macA {
		t.Errorf("a file of exactly %d bytes: %v, %v", maxFileSize, b, err)
	}
	writeFile(t, dir, "tap1", pad(maxFileSize+1))
	b, err := ReadFile(filepath.Join(dir, "tap1"))
	var be *Error
	if b != nil || !errors.As(err, &be) || err.Error() != filepath.Join(dir, "tap1")+": larger than 65536 bytes" {
		t.Errorf("a file of %d bytes: %v, %v", maxFileSize+1, b, err)
	}
}

// TestStoreNotRegular: FIFOs, links, sockets and devices in the folder at
// start, and a FIFO made later, never stop the store. Each is listed with
// its error and serves nothing; bindings written afterwards are followed.
func TestStoreNotRegular(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	good := filepath.Join(dir, "tap0")
	var links []Link
	want := map[string]string{}
	for i, tt := range special {
		name := "sp" + string(rune('a'+i))
		if tt.make(t, filepath.Join(dir, name), good) && tt.want != "a directory" {
			want[name] = "DIR/" + name + ": " + tt.want + ", not a regular file"
		}
		if _, err := os.Lstat(filepath.Join(dir, name+"-fifo")); err == nil {
			want[name+"-fifo"] = "DIR/" + name + "-fifo: a FIFO, not a regular file"
		}
		links = append(links, Link{Index: 30 + i, Name: name, MAC: net.HardwareAddr{0xfe, 0, 0, 0, 1, byte(i)}, Kind: "tuntap"})
	}
	tap1 := Link{Index: 8, Name: "tap1", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 8}, Kind: "tuntap"}
	s, changes := startStore(t, dir, newFakeLinks(append(links, tapL, tap1)...))
	nextChange(t, changes, Activated, "tap0")
	noChange(t, changes)
	checkStatus := func() {
		t.Helper()
		got := map[string]string{}
		for _, st := range s.Status() {
			if st.TAP == "tap0" || st.TAP == "tap1" {
				continue
			}
			if st.Active || st.Binding != nil || !errors.Is(st.Err, ErrNotRegular) {
				t.Errorf("%s: active %v, binding %v, err %v; want rejected as not regular", st.TAP, st.Active, st.Binding, st.Err)
				continue
			}
			got[st.TAP] = strings.ReplaceAll(st.Err.Error(), dir, "DIR")
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %q, want %q", name, got[name], w)
			}
			delete(got, name)
		}
		for name, g := range got {
			t.Errorf("%s listed: %s", name, g)
		}
	}
	checkStatus()

	// A FIFO made while running, then a full read (SIGHUP): the store
	// still follows what comes after.
	if err := unix.Mkfifo(filepath.Join(dir, "late"), 0o644); err != nil {
		t.Fatal(err)
	}
	want["late"] = "DIR/late: a FIFO, not a regular file"
	s.Rescan()
	waitFor(t, "the rescan to list the late FIFO", func() bool {
		for _, st := range s.Status() {
			if st.TAP == "late" {
				return true
			}
		}
		return false
	})
	writeFile(t, dir, "tap1", bindingText(macB, ""))
	nextChange(t, changes, Activated, "tap1")
	checkStatus()

	// A good binding replaced by a link is no longer one.
	if err := os.Symlink(filepath.Join(dir, "tap1"), filepath.Join(dir, ".tap0.new")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".tap0.new"), good); err != nil {
		t.Fatal(err)
	}
	nextChange(t, changes, Deactivated, "tap0")
	for _, st := range s.Status() {
		if st.TAP == "tap0" && (st.Binding != nil || st.Err == nil || strings.ReplaceAll(st.Err.Error(), dir, "DIR") != "DIR/tap0: a symbolic link, not a regular file") {
			t.Errorf("tap0 after its file became a link: %+v", st)
		}
	}
}

// TestStoreFIFOAfterStart: a FIFO that appears while the store runs, then a
// full read (SIGHUP, an overflow), must not stop it following the folder.
func TestStoreFIFOAfterStart(t *testing.T) {
	dir := t.TempDir()
	tap1 := Link{Index: 8, Name: "tap1", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 8}, Kind: "tuntap"}
	s, changes := startStore(t, dir, newFakeLinks(tapL, tap1))
	writeFile(t, dir, "tap0", bindingText(macA, ""))
	nextChange(t, changes, Activated, "tap0")
	if err := unix.Mkfifo(filepath.Join(dir, "late"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Rescan()
	writeFile(t, dir, "tap1", bindingText(macB, ""))
	nextChange(t, changes, Activated, "tap1")
	os.Remove(filepath.Join(dir, "tap0"))
	nextChange(t, changes, Deactivated, "tap0")
}
