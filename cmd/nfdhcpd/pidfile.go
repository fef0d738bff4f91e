package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidFile is the daemon's pidfile, locked with flock while the daemon runs:
// a second instance finds the lock taken and refuses to start, while a stale
// file left by a crash (no lock on it) is simply taken over.
type pidFile struct {
	path  string
	f     *os.File
	stale string // what a previous daemon left in the file, if anything
}

func lockPidFile(path string) (*pidFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pidfile %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		other, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("pidfile %s: another nfdhcpd (pid %s) is running", path, strings.TrimSpace(string(other)))
		}
		return nil, fmt.Errorf("pidfile %s: lock: %w", path, err)
	}
	old, _ := os.ReadFile(path)
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfile %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return &pidFile{path: path, f: f, stale: strings.TrimSpace(string(old))}, nil
}

// Remove deletes the file and releases the lock.
func (p *pidFile) Remove() error {
	err := os.Remove(p.path)
	p.f.Close()
	return err
}
