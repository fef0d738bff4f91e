package binding

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is wrapped by ReadFile's error for a directory entry that
// is not a regular file: a FIFO, socket, device, directory or symbolic link.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile parses the binding file at path; its errors and warnings name
// the path.
//
// Only a regular file is read, and never through a symbolic link. Opening a
// FIFO waits for a writer, which would stop the store (and a start) for
// good; opening a device can act on it; and a link could make the daemon,
// root until it drops privileges, read any file on the host into its log.
// Lstat turns such entries away without opening them; O_NONBLOCK and
// O_NOFOLLOW cover one that takes the name's place in between (open then
// returns at once, or fails with ELOOP), and fstat checks what was opened.
func ReadFile(path string) (*Binding, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi.Mode()); err != nil {
		return nil, err
	}
	f, fi, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > maxFileSize {
		// Refused before reading: Parse stops at the same bound anyway.
		return nil, &Error{File: path, Err: errTooLarge}
	}
	b, err := Parse(filepath.Base(path), f)
	if err != nil {
		return nil, withPath(err, path)
	}
	for _, w := range b.Warnings {
		w.File = path
	}
	return b, nil
}

// openRegular opens path for reading if it is a regular file, without
// waiting for a FIFO's writer and without following a symbolic link.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, nil, regular(path, fs.ModeSymlink)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = regular(path, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// regular returns nil for a regular file, else an error naming what the
// entry at path is.
func regular(path string, m fs.FileMode) error {
	var what string
	switch t := m.Type(); {
	case t == 0:
		return nil
	case t&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	case t&fs.ModeDir != 0:
		what = "a directory"
	case t&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "a special file"
	}
	return fmt.Errorf("%s: %s, %w", path, what, ErrNotRegular)
}

// withPath rewrites the File of every *Error in a joined error to path.
func withPath(err error, path string) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if be, ok := e.(*Error); ok {
			be.File = path
		}
	}
	return err
}
