package binding

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The directory is watched with inotify directly rather than through
// fsnotify: the tools that write binding files (Ganeti's hooks, OpenNebula's
// driver) truncate and rewrite in place, and the only reliable moment to read
// such a file is close-after-write, which fsnotify v1.10 does not expose.
// Settling on "writes went quiet for N ms" would both add latency and still
// guess wrong for a slow writer. IN_MOVED_TO covers temp-file + rename.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

type fileOp int

const (
	fileChanged  fileOp = iota + 1 // written and closed, or renamed in: read it again
	fileRemoved                    // deleted or renamed away
	fileOverflow                   // the kernel dropped events: read the whole directory
)

type fileEvent struct {
	op   fileOp
	name string
}

// watcher delivers the events of one directory.
type watcher struct {
	f   *os.File
	dir string
}

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// A non-blocking descriptor in os.File goes through the runtime poller,
	// so Close unblocks a pending Read.
	return &watcher{f: os.NewFile(uintptr(fd), "inotify:"+dir), dir: dir}, nil
}

func (w *watcher) Close() error { return w.f.Close() }

// run sends events until ctx is done or the directory goes away.
func (w *watcher) run(ctx context.Context, out chan<- fileEvent) error {
	stop := context.AfterFunc(ctx, func() { w.f.Close() })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read inotify events for %s: %w", w.dir, err)
		}
		evs, gone := decodeInotify(buf[:n])
		for _, ev := range evs {
			select {
			case out <- ev:
			case <-ctx.Done():
				return nil
			}
		}
		if gone {
			return fmt.Errorf("watched directory %s was removed or moved", w.dir)
		}
	}
}

// decodeInotify turns a read's worth of inotify records into events, and
// reports whether the watched directory itself went away.
func decodeInotify(b []byte) (evs []fileEvent, gone bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(raw.Len)
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		mask := raw.Mask
		b = b[end:]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			evs = append(evs, fileEvent{op: fileOverflow})
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
			gone = true
		case mask&unix.IN_ISDIR != 0:
		case mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0:
			evs = append(evs, fileEvent{op: fileChanged, name: string(name)})
		case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
			evs = append(evs, fileEvent{op: fileRemoved, name: string(name)})
		}
	}
	return evs, gone
}
