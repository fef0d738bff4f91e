package soak

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// nsWorker runs functions on one OS thread kept in the lab's host
// namespace, so that TAPs are made there without a process per cycle.
type nsWorker struct {
	do     chan func()
	exited chan struct{}
	link   *netlink.Handle
}

func newNSWorker(name string) (*nsWorker, error) {
	w := &nsWorker{do: make(chan func()), exited: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(w.exited)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if w.link, err = netlink.NewHandleAt(target); err == nil {
			err = netns.Set(target)
		}
		errc <- err
		if err != nil {
			return
		}
		for f := range w.do {
			f()
		}
		// Back home before the thread is reused: the lab's cleanup kills
		// every process whose main thread is in its namespace, and this
		// thread may be the main one.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return w, <-errc
}

func (w *nsWorker) run(f func()) {
	done := make(chan struct{})
	w.do <- func() { f(); close(done) }
	<-done
}

// close ends the worker and waits until its thread has left the lab.
func (w *nsWorker) close() {
	close(w.do)
	<-w.exited
	if w.link != nil {
		w.link.Close()
	}
}

// openTAP creates the TAP name in the lab, up, and opens it as the VM.
func (w *nsWorker) openTAP(name string) (f *os.File, err error) {
	w.run(func() {
		f, err = lab.OpenTAPHere(name)
		if err != nil {
			return
		}
		var lnk netlink.Link
		if lnk, err = w.link.LinkByName(name); err == nil {
			err = w.link.LinkSetUp(lnk)
		}
		if err != nil {
			f.Close()
		}
	})
	return f, err
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// discover is a DHCPDISCOVER from mac.
func discover(mac net.HardwareAddr, xid uint32) []byte {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	dhcp := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet,
		HardwareLen: 6, Xid: xid, ClientHWAddr: mac, Flags: 0x8000,
		Options: layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)})}}
	return serialize(eth, ip, udp, dhcp)
}

// lease sends DISCOVERs every 20 ms until an OFFER for ip comes back,
// as a client retries while its TAP is being steered.
func lease(f *os.File, mac net.HardwareAddr, ip net.IP, xid uint32, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	buf := make([]byte, 2048)
	for ; time.Since(start) < timeout; xid++ {
		if _, err := f.Write(discover(mac, xid)); err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		for {
			n, err := f.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("read: %w", err)
			}
			p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.NoCopy)
			if d, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); ok && d.Xid == xid && d.Operation == layers.DHCPOpReply {
				if !d.YourClientIP.Equal(ip) {
					return 0, fmt.Errorf("offer of %v, want %v", d.YourClientIP, ip)
				}
				return time.Since(start), nil
			}
		}
	}
	return 0, fmt.Errorf("no offer within %v", timeout)
}
