package lab

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// RA is a Router Advertisement a VM received.
type RA struct {
	At       time.Time // when the test read it
	From     netip.Addr
	Lifetime uint16           // router lifetime, seconds
	SLLA     net.HardwareAddr // the source link-layer address option; nil when absent
}

// icmp6Socket opens a raw ICMPv6 socket in the VM's namespace, bound to
// eth0, that passes only ICMPv6 type typ, with reads timing out after
// 100 ms so that a reader can stop.
func (vm *VM) icmp6Socket(typ uint8) (int, error) {
	var fd int
	err := InNamespace(vm.NS, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("ICMPv6 socket in %s: %w", vm.NS, err)
	}
	var f unix.ICMPv6Filter
	for i := range f.Data {
		f.Data[i] = 0xffffffff // a set bit blocks its type
	}
	f.Data[typ>>5] &^= 1 << (typ & 31)
	for _, err := range []error{
		unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &f),
		unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "eth0"),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000}),
	} {
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("ICMPv6 socket in %s: %w", vm.NS, err)
		}
	}
	return fd, nil
}

// WatchRA reports every RA the VM's eth0 receives from now until the test
// ends, as the kernel hands it to a raw socket (the same moment it
// processes it).
func (vm *VM) WatchRA() <-chan RA {
	t := vm.lab.t
	t.Helper()
	fd, err := vm.icmp6Socket(134)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan RA, 64)
	var stop atomic.Bool
	done := make(chan struct{})
	t.Cleanup(func() { stop.Store(true); <-done; unix.Close(fd) })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for !stop.Load() {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < 16 {
				continue // a timeout: look at stop again
			}
			sa, ok := from.(*unix.SockaddrInet6)
			if !ok {
				continue
			}
			ra := RA{At: time.Now(), From: netip.AddrFrom16(sa.Addr), Lifetime: binary.BigEndian.Uint16(buf[6:8])}
			for o := buf[16:n]; len(o) >= 8 && o[1] > 0 && len(o) >= int(o[1])*8; o = o[int(o[1])*8:] {
				if o[0] == 1 && o[1] == 1 { // source link-layer address, Ethernet
					ra.SLLA = net.HardwareAddr(append([]byte(nil), o[2:8]...))
				}
			}
			select {
			case out <- ra:
			default: // nobody reads that many
			}
		}
	}()
	return out
}

// Ping6 sends one ICMPv6 echo request from the VM to dst, by the VM's own
// routes, and waits up to timeout for the reply.
func (vm *VM) Ping6(dst netip.Addr, timeout time.Duration) error {
	fd, err := vm.icmp6Socket(129)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// The kernel fills in the ICMPv6 checksum of a raw socket's messages.
	id := uint16(time.Now().UnixNano())
	req := []byte{128, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'n', 'f', 'd', 'h'}
	to := &unix.SockaddrInet6{Addr: dst.As16()}
	if err := unix.Sendto(fd, req, 0, to); err != nil {
		return fmt.Errorf("ping %s: %w", dst, err)
	}
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 8 {
			continue
		}
		if sa, ok := from.(*unix.SockaddrInet6); ok && netip.AddrFrom16(sa.Addr) == dst &&
			binary.BigEndian.Uint16(buf[4:6]) == id {
			return nil
		}
	}
	return fmt.Errorf("ping %s: no echo reply within %v", dst, timeout)
}
