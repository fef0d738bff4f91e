package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The daemon's log and pid folders belong to its user, who can plant links
// in them. Started as root, the daemon must not follow one: root would
// then create, chown, truncate or read whatever the link names. Every path
// it opens as root is resolved here one component at a time, relative to
// the folder above it, with O_NOFOLLOW.

// maxLinks bounds the symbolic links followed in one path, as the kernel's
// ELOOP does.
const maxLinks = 40

// openDir opens the folder path for use with the *at system calls (an
// O_PATH descriptor). Each component is opened relative to the one before
// with O_NOFOLLOW. A symbolic link on the way is followed only when root
// owns it (such as Debian's /var/run -> /run), or whoever runs this: an
// unprivileged user cannot make one of root's, so a link planted in a
// folder a user controls is refused when root resolves the path. With
// create, missing folders are made, mode 0755, owned by whoever runs this;
// created reports whether the last one was.
func openDir(path string, create bool) (dir *os.File, created bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, false, err
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open /: %w", err)
	}
	defer func() {
		if err != nil && fd >= 0 {
			unix.Close(fd)
		}
	}()
	todo := components(abs)
	walked := "/"
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		created = false
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			merr := unix.Mkdirat(fd, name, 0o755)
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				return nil, false, fmt.Errorf("create %s: %w", filepath.Join(walked, name), merr)
			}
			created = merr == nil
			next, err = unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			// A symbolic link, or not a folder at all.
			target, err := rootLink(fd, name)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", filepath.Join(walked, name), err)
			}
			if links++; links > maxLinks {
				return nil, false, fmt.Errorf("%s: %w", abs, unix.ELOOP)
			}
			todo = append(components(target), todo...)
			if filepath.IsAbs(target) {
				unix.Close(fd)
				if fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
					return nil, false, fmt.Errorf("open /: %w", err)
				}
				walked = "/"
			}
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("open %s: %w", filepath.Join(walked, name), err)
		}
		unix.Close(fd)
		fd = next
		walked = filepath.Join(walked, name)
	}
	dir = os.NewFile(uintptr(fd), abs)
	fd = -1
	return dir, created, nil
}

// components splits a path into its names; "." is dropped, ".." kept
// (resolved by the kernel against the folder opened so far).
func components(path string) []string {
	var out []string
	for _, c := range strings.Split(path, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// rootLink returns where the symbolic link name in dirfd points, when root
// or the caller owns the link; any other owner, or something that is
// neither a folder nor a link, is an error. The link is opened once and both its owner and
// its target read from that descriptor, so it cannot be swapped between.
func rootLink(dirfd int, name string) (string, error) {
	lfd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(lfd)
	var st unix.Stat_t
	if err := unix.Fstat(lfd, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", fmt.Errorf("not a folder (%s)", fileType(st.Mode))
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("a symbolic link owned by uid %d: refusing to follow it as uid %d", st.Uid, os.Geteuid())
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(lfd, "", buf)
	if err != nil {
		return "", fmt.Errorf("read link: %w", err)
	}
	return string(buf[:n]), nil
}

// fileType names a stat mode's file type, for errors.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a folder"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return fmt.Sprintf("file type %#o", mode&unix.S_IFMT)
}

// handOver gives the folder dir to acct, so that after dropping root the
// daemon can still create and remove its files there, when the folder is
// the daemon's own: just created, or holding nothing but files whose names
// start with one of ours (the log and its rotations, the pidfile). A
// folder shared with others (logdir = /var/log) is left as it is: handing
// it over would let the user plant links for every other root process
// using it. It reports whether dir is now acct's.
func handOver(dir *os.File, created bool, ours []string, acct account) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return false, fmt.Errorf("%s: %w", dir.Name(), err)
	}
	if int(st.Uid) == acct.uid && int(st.Gid) == acct.gid {
		return true, nil
	}
	if !created {
		names, err := listDir(dir)
		if err != nil {
			return false, err
		}
		for _, n := range names {
			if !slices.ContainsFunc(ours, func(o string) bool { return strings.HasPrefix(n, o) }) {
				return false, nil
			}
		}
	}
	if err := unix.Fchownat(int(dir.Fd()), "", acct.uid, acct.gid, unix.AT_EMPTY_PATH); err != nil {
		return false, fmt.Errorf("hand %s to user %s: %w", dir.Name(), acct.name, err)
	}
	return true, nil
}

// listDir lists the names in the folder dir (an O_PATH descriptor).
func listDir(dir *os.File) ([]string, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.Name(), err)
	}
	f := os.NewFile(uintptr(fd), dir.Name())
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.Name(), err)
	}
	return names, nil
}

// openRegular opens name in dir with flags plus O_NOFOLLOW and O_NONBLOCK
// (a FIFO must not hang the start) and accepts only a regular file with a
// single link: a hard link planted to another file would make the daemon
// write into, or hand over, that file.
func openRegular(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	where := filepath.Join(dir.Name(), name)
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: refusing to follow it", where)
	}
	if errors.Is(err, unix.ENXIO) {
		return nil, fmt.Errorf("%s is a FIFO or socket, not a regular file", where)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	f := os.NewFile(uintptr(fd), where)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s is %s, not a regular file", where, fileType(st.Mode))
	}
	if st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%s has %d hard links: refusing to write to it", where, st.Nlink)
	}
	// Regular files ignore O_NONBLOCK; clear it all the same.
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return f, nil
}

// chownAt gives the folder dir (an O_PATH descriptor) and everything under
// it to acct, never following a link: entries are changed with
// AT_SYMLINK_NOFOLLOW, and folders entered with O_NOFOLLOW relative to
// the folder above.
func chownAt(dir *os.File, acct account) error {
	dirfd := int(dir.Fd())
	if err := unix.Fchownat(dirfd, "", acct.uid, acct.gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("hand %s to user %s: %w", dir.Name(), acct.name, err)
	}
	names, err := listDir(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		sub, err := unix.Openat(dirfd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			f := os.NewFile(uintptr(sub), filepath.Join(dir.Name(), n))
			err = chownAt(f, acct)
			f.Close()
			if err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, unix.ENOENT) {
			continue // gone meanwhile
		}
		if !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("open %s: %w", filepath.Join(dir.Name(), n), err)
		}
		err = unix.Fchownat(dirfd, n, acct.uid, acct.gid, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("hand %s to user %s: %w", filepath.Join(dir.Name(), n), acct.name, err)
		}
	}
	return nil
}
