package nfq

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr: x/sys/unix has the message header but not the
// batch calls. Go pads it to the alignment of Msghdr, as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// recvmmsg and sendmmsg take many datagrams per system call. They block
// through Syscall6 so that the runtime knows the thread is in the kernel.
func recvmmsg(fd int, msgs []mmsghdr, flags int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])),
		uintptr(len(msgs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func sendmmsg(fd int, msgs []mmsghdr, flags int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])),
		uintptr(len(msgs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
