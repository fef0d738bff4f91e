package nfq

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sender writes reply frames out of a given interface. One AF_PACKET socket
// serves every TAP: the frame is addressed by ifindex, so no socket is opened
// per TAP and a TAP that comes and goes needs nothing from the sender.
type Sender struct {
	fd int
}

// OpenSender opens the socket. Protocol 0 makes it send-only: the kernel
// queues no received frames on it. It is non-blocking so that a TAP whose VM
// does not read can never stall a queue reader.
func OpenSender() (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	return &Sender{fd: fd}, nil
}

// Send writes one Ethernet frame (header included) out of ifindex.
func (s *Sender) Send(ifindex int, frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("send on ifindex %d: frame of %d bytes", ifindex, len(frame))
	}
	sa := unix.SockaddrLinklayer{
		Ifindex:  ifindex,
		Protocol: htons(binary.BigEndian.Uint16(frame[12:14])),
		Halen:    6,
	}
	copy(sa.Addr[:], frame[0:6])
	if err := unix.Sendto(s.fd, frame, 0, &sa); err != nil {
		return fmt.Errorf("send on ifindex %d: %w", ifindex, err)
	}
	return nil
}

// replySlot bounds a reply frame in a batch; the responder's are at most
// one Ethernet MTU.
const replySlot = 2048

// replyBatch holds the replies to one batch of queued packets, copied out
// of the responder's buffer, until they leave in one sendmmsg.
type replyBatch struct {
	frames [batchSize][replySlot]byte
	addrs  [batchSize]unix.RawSockaddrLinklayer
	iovs   [batchSize]unix.Iovec
	msgs   [batchSize]mmsghdr
	n      int
}

// add copies frame, to go out of ifindex; false when it does not fit.
func (b *replyBatch) add(ifindex int, frame []byte) bool {
	if b.n == batchSize || len(frame) < 14 || len(frame) > replySlot {
		return false
	}
	i := b.n
	copy(b.frames[i][:], frame)
	a := &b.addrs[i]
	*a = unix.RawSockaddrLinklayer{
		Family:   unix.AF_PACKET,
		Protocol: htons(binary.BigEndian.Uint16(frame[12:14])),
		Ifindex:  int32(ifindex),
		Halen:    6,
	}
	copy(a.Addr[:], frame[0:6])
	b.iovs[i].Base = &b.frames[i][0]
	b.iovs[i].SetLen(len(frame))
	b.msgs[i] = mmsghdr{}
	b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(a))
	b.msgs[i].hdr.Namelen = unix.SizeofSockaddrLinklayer
	b.msgs[i].hdr.Iov = &b.iovs[i]
	b.msgs[i].hdr.SetIovlen(1)
	b.n++
	return true
}

// sendBatch sends the batch's frames with as few sendmmsg calls as
// possible: a frame the kernel refuses is reported to failed with its
// index and skipped, and the rest still go. The batch is emptied.
func (s *Sender) sendBatch(b *replyBatch, failed func(i int, err error)) {
	for i := 0; i < b.n; {
		n, err := sendmmsg(s.fd, b.msgs[i:b.n], 0)
		if err != nil {
			failed(i, fmt.Errorf("send on ifindex %d: %w", b.addrs[i].Ifindex, err))
			i++
			continue
		}
		i += max(n, 1) // n is at least 1 without an error; never spin
	}
	b.n = 0
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
