package nfq

import (
	"encoding/binary"
	"fmt"

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

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
