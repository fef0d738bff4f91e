package lab

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// OpenTAP creates a real TAP named name in the host namespace and opens it
// through /dev/net/tun, playing the VM: what is written to the file arrives as
// the TAP's ingress on the host, what the host sends out of the TAP is read
// back. The file is non-blocking, so read deadlines work.
func (l *Lab) OpenTAP(name string) *os.File {
	l.t.Helper()
	f, err := openTAPIn(l.HostNS, name)
	if err != nil {
		l.t.Fatalf("open TAP %s: %v", name, err)
	}
	l.t.Cleanup(func() { f.Close() })
	l.Host("sysctl", "-qw", "net.ipv6.conf."+name+".accept_dad=0")
	l.Host("ip", "link", "set", name, "up")
	return f
}

func openTAPIn(ns, name string) (f *os.File, err error) {
	err = InNamespace(ns, func() error {
		f, err = OpenTAPHere(name)
		return err
	})
	return f, err
}

// InNamespace runs fn on a thread moved into network namespace ns, then
// moves the thread back. What fn opens (a TAP, a socket) belongs to ns and
// stays there.
func InNamespace(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() {
		// A thread that cannot go back stays locked: Go ends it with its
		// goroutine rather than run other code in the wrong namespace.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// OpenTAPHere opens (creating if needed) the TAP name in the calling thread's
// namespace.
func OpenTAPHere(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	return os.NewFile(uintptr(fd), "tap:"+name), nil
}

// AddTAP creates a persistent TAP in the host namespace, up, for a process
// that opens it by name (qemu's `-netdev tap,ifname=NAME,script=no`); the
// TAP has no carrier until that process attaches.
func (l *Lab) AddTAP(name string) {
	l.t.Helper()
	l.Host("ip", "tuntap", "add", "dev", name, "mode", "tap")
	l.Host("sysctl", "-qw", "net.ipv6.conf."+name+".accept_dad=0")
	l.Host("ip", "link", "set", name, "up")
}
