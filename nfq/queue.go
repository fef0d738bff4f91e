package nfq

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receive sizing: a batch is up to batchSize datagrams taken by one
// recvmmsg, each one NFQNL_MSG_PACKET of at most slotSize bytes. The kernel
// copies at most copyRange bytes of a packet, so a message always fits its
// slot; DHCP, RS, NS and DHCPv6 requests are far smaller.
const (
	batchSize = 64
	slotSize  = 4096
	copyRange = slotSize - 512 // room for the netlink header and attributes
	// rcvBuf lets a burst of a few thousand queued packets wait in the
	// socket while the reader works; beyond it the kernel fails open.
	rcvBuf = 8 << 20
	// pollInterval bounds how long a blocked read takes to see shutdown.
	pollInterval = 100 * time.Millisecond
)

// queueConn is one NETLINK_NETFILTER socket bound to one queue.
type queueConn struct {
	fd    int
	queue uint16

	bufs  []byte // batchSize slots of slotSize bytes
	iovs  [batchSize]unix.Iovec
	msgs  [batchSize]mmsghdr
	lens  [batchSize]int
	count int
}

// openQueue opens the socket and binds queue with the copy mode, queue
// length and fail-open flag in one configuration message.
func openQueue(queue uint16, maxLen uint32) (*queueConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	q := &queueConn{fd: fd, queue: queue, bufs: make([]byte, batchSize*slotSize)}
	if err := q.setup(maxLen); err != nil {
		unix.Close(fd)
		return nil, err
	}
	for i := range q.msgs {
		q.iovs[i].Base = &q.bufs[i*slotSize]
		q.iovs[i].SetLen(slotSize)
		q.msgs[i].hdr.Iov = &q.iovs[i]
		q.msgs[i].hdr.SetIovlen(1)
	}
	return q, nil
}

func (q *queueConn) setup(maxLen uint32) error {
	if err := unix.Bind(q.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink socket: %w", err)
	}
	// SO_RCVBUFFORCE passes rmem_max as root; the plain option is the
	// fallback when the daemon already runs without CAP_NET_ADMIN.
	if err := unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		if err := unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf); err != nil {
			return fmt.Errorf("set SO_RCVBUF: %w", err)
		}
	}
	// An overrun is the kernel's to fail open; it is not an error of ours.
	if err := unix.SetsockoptInt(q.fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return fmt.Errorf("set NETLINK_NO_ENOBUFS: %w", err)
	}
	tv := unix.NsecToTimeval(pollInterval.Nanoseconds())
	if err := unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set SO_RCVTIMEO: %w", err)
	}
	const seq = 1
	if err := q.send(configMessage(seq, q.queue, copyRange, maxLen)); err != nil {
		return fmt.Errorf("bind queue: %w", err)
	}
	buf := make([]byte, 8192)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bind queue: read acknowledgement: %w", err)
		}
		for b := buf[:n]; len(b) > 0; {
			m, rest, err := nextMessage(b)
			if err != nil {
				return fmt.Errorf("bind queue: %w", err)
			}
			b = rest
			if m.Type == nlmsgError && m.Seq == seq {
				if e := errorCode(m.Body); e != 0 {
					return fmt.Errorf("bind queue: %w", e)
				}
				return nil
			}
		}
	}
	return errors.New("bind queue: no acknowledgement from the kernel within 2s")
}

// recv waits up to pollInterval for queued packets and takes every
// datagram that is waiting, up to batchSize, in one recvmmsg. It returns
// how many it took; 0 means the wait timed out.
func (q *queueConn) recv() (int, error) {
	for i := range q.msgs {
		q.msgs[i].n = 0
	}
	n, err := recvmmsg(q.fd, q.msgs[:], unix.MSG_WAITFORONE)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return 0, nil
	case err == unix.ENOBUFS:
		return 0, nil // an overrun, failed open by the kernel
	case err != nil:
		return 0, fmt.Errorf("read queue %d: %w", q.queue, err)
	}
	for i := 0; i < n; i++ {
		q.lens[i] = int(q.msgs[i].n)
	}
	q.count = n
	return n, nil
}

// datagram returns the i-th datagram of the last recv.
func (q *queueConn) datagram(i int) []byte {
	return q.bufs[i*slotSize : i*slotSize+q.lens[i]]
}

// send writes netlink messages to the kernel in one system call.
func (q *queueConn) send(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(q.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (q *queueConn) close() error { return unix.Close(q.fd) }
