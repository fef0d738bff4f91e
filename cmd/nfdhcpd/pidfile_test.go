package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nfdhcpd.pid")
	// A stale file from a crashed daemon holds no lock: it is taken over.
	os.WriteFile(path, []byte("99999\n"), 0o644)
	p, err := lockPidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pidfile holds %q", b)
	}
	if p.stale != "99999" {
		t.Errorf("stale = %q, want the crashed daemon's 99999", p.stale)
	}
	_, err = lockPidFile(path)
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
	if _, err := lockPidFile(filepath.Join(path, "x")); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("pidfile under a missing folder: %v", err)
	}
}
