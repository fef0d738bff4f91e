package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidFile is the daemon's pidfile, locked with flock while the daemon runs:
// a second instance finds the lock taken and refuses to start, while a stale
// file left by a crash (no lock on it) is simply taken over.
//
// The folder may be the daemon user's, and whatever is at the name may be
// a link that user planted: the file is never followed, read beyond a pid,
// truncated or written. A stale one is removed and the pidfile created
// afresh (O_EXCL).
type pidFile struct {
	dir  *os.File // the folder, O_PATH
	name string
	f    *os.File
	// What a previous daemon left, for the log: a stale file and its pid
	// (0 when it held none), or what was found instead of a file.
	stale    bool
	stalePid int
	replaced string
}

// pidTries bounds the retries when another instance starting at the same
// moment changes the file under us.
const pidTries = 5

// lockPidFile creates and locks name in dir, holding this process's pid.
func lockPidFile(dir *os.File, name string) (*pidFile, error) {
	p := &pidFile{dir: dir, name: name}
	for range pidTries {
		done, err := p.try()
		if err != nil {
			return nil, fmt.Errorf("pidfile %s: %w", p.path(), err)
		}
		if done {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pidfile %s: changed under us %d times: another nfdhcpd is starting", p.path(), pidTries)
}

func (p *pidFile) path() string { return filepath.Join(p.dir.Name(), p.name) }

// try clears a stale file at the name, then creates and locks a new one.
// It returns false when another process changed the file meanwhile.
func (p *pidFile) try() (bool, error) {
	dirfd := int(p.dir.Fd())
	fd, err := unix.Openat(dirfd, p.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENXIO):
		// A symbolic link, a FIFO or a socket: removing the name leaves
		// whatever it names untouched.
		if err := p.replace(dirfd); err != nil {
			return false, err
		}
	case err != nil:
		return false, err
	default:
		cleared, err := p.clearStale(fd)
		unix.Close(fd) // releases the stale file's lock, if we took it
		if err != nil || !cleared {
			return false, err
		}
	}
	fd, err = unix.Openat(dirfd, p.name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.EEXIST) {
		return false, nil // another instance made it first: look again
	}
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(fd), p.path())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		// Another instance took our fresh file for a stale one.
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("lock: %w", err)
	}
	// Locked: from now on no one else can take it for stale. Before the
	// lock one may have, and removed it.
	if !p.names(fd) {
		f.Close()
		return false, nil
	}
	if _, err := f.WriteString(strconv.Itoa(os.Getpid()) + "\n"); err != nil {
		f.Close()
		unix.Unlinkat(dirfd, p.name, 0)
		return false, err
	}
	p.f = f
	return true, nil
}

// clearStale handles a regular file at the name, open as fd: held by a
// running daemon, it is an error naming that daemon's pid; stale, it is
// removed. It returns false when the name changed meanwhile.
func (p *pidFile) clearStale(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return false, errors.New("is a folder")
		}
		return true, p.replace(int(p.dir.Fd()))
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid := readPid(fd); pid > 0 {
				return false, fmt.Errorf("another nfdhcpd (pid %d) is running", pid)
			}
			return false, errors.New("another nfdhcpd is running (its pidfile holds no pid)")
		}
		return false, fmt.Errorf("lock: %w", err)
	}
	if !p.names(fd) {
		return false, nil
	}
	p.stale, p.stalePid = true, readPid(fd)
	if err := unix.Unlinkat(int(p.dir.Fd()), p.name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("remove the stale pidfile: %w", err)
	}
	return true, nil
}

// replace removes what is at the name and is not a regular file.
func (p *pidFile) replace(dirfd int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if err := unix.Unlinkat(dirfd, p.name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s found there: %w", fileType(st.Mode), err)
	}
	p.replaced = fileType(st.Mode)
	return nil
}

// names reports whether the name still refers to the file open as fd.
func (p *pidFile) names(fd int) bool {
	var open, named unix.Stat_t
	if unix.Fstat(fd, &open) != nil || unix.Fstatat(int(p.dir.Fd()), p.name, &named, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return open.Dev == named.Dev && open.Ino == named.Ino
}

// readPid parses the pid at the start of the file open as fd; 0 when
// there is none. Nothing else of the file is ever shown.
func readPid(fd int) int {
	var buf [16]byte
	n, _ := unix.Pread(fd, buf[:], 0)
	line, _, _ := strings.Cut(string(buf[:max(n, 0)]), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Remove deletes the file, when the name is still ours, and releases the
// lock. It runs after the privilege drop: the folder must be the user's.
func (p *pidFile) Remove() error {
	var err error
	if p.names(int(p.f.Fd())) {
		err = unix.Unlinkat(int(p.dir.Fd()), p.name, 0)
		if err != nil {
			err = fmt.Errorf("remove %s: %w", p.path(), err)
		}
	}
	p.f.Close()
	return err
}
