package bench

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// The generator's frames, answered by the daemon's own responder, are
// judged Good; a reply changed where the check looks is judged Wrong. So
// the harness neither rejects right answers nor counts wrong ones.
func TestFramesAgainstResponder(t *testing.T) {
	vm := vmAt(300)
	b, err := binding.Parse(vm.TAP, strings.NewReader(vm.Binding()))
	if err != nil {
		t.Fatalf("binding of %s: %v\n%s", vm.TAP, err, vm.Binding())
	}
	settings := &responder.Settings{ServerIP: netip.MustParseAddr("192.0.2.1"), LeaseLifetime: 3600, LeaseRenewal: 600,
		Mode: responder.ModeSLAACDHCPv6, Nameservers6: []netip.Addr{netip.MustParseAddr("2001:db8::53")}}
	tapMAC := net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x2c}
	e := &binding.Entry{Binding: b, TAP: binding.Link{Index: 7, Name: vm.TAP, MAC: tapMAC}}
	e.InDev = e.TAP
	lease := nfq.NewLease(e, settings)
	r := responder.New(*settings)
	tests := []struct {
		kind    Kind
		corrupt int // offset in the reply to flip for the Wrong case; 0: none
	}{
		{Discover, 14 + 20 + 8 + 16 + 3}, // yiaddr's last byte
		{Request, 14 + 20 + 8 + 16 + 3},
		{RS, -1},               // the prefix option, found below
		{NS, 14 + 40 + 8 + 15}, // target's last byte
		{InfoReq, 14 + 40 + 8}, // message type
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			f, err := requestFrame(vm, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			setXID(f, tt.kind, 0x00abcdef)
			res := r.Respond(f[14:], net.HardwareAddr(f[6:12]), lease)
			if res.Frame == nil {
				t.Fatalf("responder did not answer: %v %s", res.Outcome, res.Reason)
			}
			reply := append([]byte(nil), res.Frame...)
			v, xid, why := check(reply, vm, tt.kind)
			if v != Good {
				t.Fatalf("check: %v (%s), want Good", v, why)
			}
			if hasXID(tt.kind) && xid != 0x00abcdef {
				t.Fatalf("xid %#x, want 0xabcdef", xid)
			}
			if v, _, _ := check(reply, vmAt(301), tt.kind); v != Wrong {
				t.Fatalf("another VM's check of this reply: %v, want Wrong", v)
			}
			off := tt.corrupt
			if off < 0 {
				off = strings.Index(string(reply), string(vm.Prefix.Addr().AsSlice())) + 5
			}
			reply[off] ^= 0x40
			if v, _, _ := check(reply, vm, tt.kind); v != Wrong {
				t.Fatalf("check of a corrupted reply: %v, want Wrong", v)
			}
		})
	}
}

func TestUDP6Checksum(t *testing.T) {
	f, err := requestFrame(vmAt(1), InfoReq)
	if err != nil {
		t.Fatal(err)
	}
	want := uint16(f[udp6SumOff])<<8 | uint16(f[udp6SumOff+1]) // gopacket's
	f[udp6SumOff], f[udp6SumOff+1] = 0, 0
	if got := udp6Checksum(f); got != want {
		t.Fatalf("checksum %#04x, want gopacket's %#04x", got, want)
	}
}
