package main

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// logFileName is the log's name in logdir.
const logFileName = "nfdhcpd.log"

// logFile is the daemon's log in logdir; Reopen (on SIGHUP) follows a
// rename by logrotate, so nothing is written to a rotated file.
//
// The folder is opened once; the file is opened relative to it and never
// through a link (see openRegular), and given to the daemon's user by its
// descriptor, not by its path.
type logFile struct {
	mu    sync.Mutex
	dir   *os.File // logdir, O_PATH
	owner account  // who must be able to reopen it after the drop
	f     *os.File
}

func openLogFile(dir *os.File, owner account) (*logFile, error) {
	l := &logFile{dir: dir, owner: owner}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the file afresh and closes the previous one.
func (l *logFile) Reopen() error {
	f, err := openRegular(l.dir, logFileName, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o640)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if os.Geteuid() == 0 && l.owner.uid != 0 {
		if err := f.Chown(l.owner.uid, l.owner.gid); err != nil {
			f.Close()
			return fmt.Errorf("log: hand %s to user %s: %w", f.Name(), l.owner.name, err)
		}
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
