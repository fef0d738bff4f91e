package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// pidDir opens a fresh folder for a pidfile named nfdhcpd.pid.
func pidDir(t *testing.T) (*os.File, string) {
	t.Helper()
	dir := t.TempDir()
	f, _, err := openDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, filepath.Join(dir, "nfdhcpd.pid")
}

func TestPidFile(t *testing.T) {
	dir, path := pidDir(t)
	// A stale file from a crashed daemon holds no lock: it is taken over.
	os.WriteFile(path, []byte("99999\n"), 0o644)
	p, err := lockPidFile(dir, "nfdhcpd.pid")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pidfile holds %q", b)
	}
	if !p.stale || p.stalePid != 99999 {
		t.Errorf("stale = %v, pid %d; want the crashed daemon's 99999", p.stale, p.stalePid)
	}
	_, err = lockPidFile(dir, "nfdhcpd.pid")
	want := "pidfile " + path + ": another nfdhcpd (pid " + strconv.Itoa(os.Getpid()) + ") is running"
	if err == nil || err.Error() != want {
		t.Fatalf("second lock: %v, want %q", err, want)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("pidfile left after Remove: %v", err)
	}
	// Fresh: nothing stale to report.
	p, err = lockPidFile(dir, "nfdhcpd.pid")
	if err != nil || p.stale || p.replaced != "" {
		t.Fatalf("fresh pidfile: %v, stale %v, replaced %q", err, p.stale, p.replaced)
	}
	p.Remove()
}

// Whatever is at the pidfile's name, in a folder the daemon's user owns,
// is never followed, written or shown: a link, a FIFO or a hard link is
// removed (its target untouched) and a fresh file made; a file held by a
// running daemon is refused with its pid only.
func TestPidFileNotFollowed(t *testing.T) {
	const secret = "root:x:0:0:root:/root:/bin/bash\n"
	for _, tt := range []struct {
		name     string
		plant    func(path, victim string) error
		replaced string // what lockPidFile reports it removed
		stale    bool
	}{
		{"symlink", func(p, v string) error { return os.Symlink(v, p) }, "a symbolic link", false},
		{"dangling symlink", func(p, v string) error { return os.Symlink(v+".nope", p) }, "a symbolic link", false},
		{"fifo", func(p, _ string) error { return unix.Mkfifo(p, 0o644) }, "a FIFO", false},
		{"hard link", func(p, v string) error { return os.Link(v, p) }, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := pidDir(t)
			victim := filepath.Join(t.TempDir(), "passwd")
			os.WriteFile(victim, []byte(secret), 0o600)
			if err := tt.plant(path, victim); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(victim)
			p, err := lockPidFile(dir, "nfdhcpd.pid")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Remove()
			if p.replaced != tt.replaced || p.stale != tt.stale || p.stalePid != 0 {
				t.Errorf("replaced %q stale %v pid %d; want %q %v 0", p.replaced, p.stale, p.stalePid, tt.replaced, tt.stale)
			}
			fi, err := os.Lstat(path)
			if err != nil || !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Fatalf("pidfile is not a fresh regular file: %v %v", fi, err)
			}
			if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
				t.Errorf("pidfile holds %q", b)
			}
			after, _ := os.Stat(victim)
			if b, _ := os.ReadFile(victim); string(b) != secret || after.Mode() != before.Mode() {
				t.Errorf("the link's target changed: %q, mode %v", b, after.Mode())
			}
		})
	}
}

// A running daemon's pidfile that holds no pid is refused without showing
// what it holds.
func TestPidFileHeldShowsOnlyAPid(t *testing.T) {
	dir, path := pidDir(t)
	os.WriteFile(path, []byte("root:x:0:0:secret\n"), 0o644)
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := unix.Flock(int(held.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	_, err = lockPidFile(dir, "nfdhcpd.pid")
	want := "pidfile " + path + ": another nfdhcpd is running (its pidfile holds no pid)"
	if err == nil || err.Error() != want {
		t.Fatalf("lock: %v, want %q", err, want)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "secret") {
		t.Errorf("the held file was changed: %q", b)
	}
}

func TestPidFileFolder(t *testing.T) {
	dir, path := pidDir(t)
	os.Mkdir(path, 0o755)
	if _, err := lockPidFile(dir, "nfdhcpd.pid"); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("a folder at the name: %v", err)
	}
	if _, _, err := openDir(filepath.Join(path, "x", "y"), false); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("pidfile under a missing folder: %v", err)
	}
}
