package nfq

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// delegationLog records what the reader reports, with copies of the
// prefixes (they are valid only during the call).
type delegationLog []string

func (d *delegationLog) Delegated(e *binding.Entry, dl responder.Delegation) {
	for _, p := range dl.Prefixes {
		*d = append(*d, e.Binding.TAP+" "+dl.Op.String()+" "+p.String()+" via "+dl.NextHop.String())
	}
}

// rebindPD is a DHCPv6 Rebind with one IA_PD (IAID 1, holding prefix),
// from the VM's link-local address, from the IPv6 header on.
func rebindPD(t *testing.T, prefix netip.Prefix) []byte {
	t.Helper()
	src := net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, vmMAC[0] ^ 2, vmMAC[1], vmMAC[2], 0xff, 0xfe, vmMAC[3], vmMAC[4], vmMAC[5]}
	ia := binary.BigEndian.AppendUint32(nil, 1)
	ia = append(ia, make([]byte, 8)...)
	ia = append(ia, 0, 26, 0, 25)
	ia = append(ia, make([]byte, 8)...)
	ia = append(append(ia, byte(prefix.Bits())), prefix.Addr().AsSlice()...)
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: src, DstIP: net.ParseIP("ff02::1:2")}
	udp := &layers.UDP{SrcPort: 546, DstPort: 547}
	udp.SetNetworkLayerForChecksum(ip)
	d := &layers.DHCPv6{MsgType: layers.DHCPv6MsgTypeRebind, TransactionID: []byte{1, 2, 3}, Options: layers.DHCPv6Options{
		layers.NewDHCPv6Option(layers.DHCPv6OptClientID, []byte{0, 3, 0, 1, 0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}),
		layers.NewDHCPv6Option(layers.DHCPv6OptIAPD, ia)}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, d); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func queuedV6(id, indev uint32, payload []byte) nlmsg {
	return nlmsg{Type: nfnlSubsysQueue<<8 | nfqnlMsgPacket, Body: cat(make([]byte, nfgenHdrLen),
		nla(nfqaPacketHdr, append(be32(id), 0x86, 0xdd, 0)...),
		nla(nfqaIfindexIndev, be32(indev)...),
		nla(nfqaHwaddr, cat([]byte{0, 6, 0, 0}, vmMAC, []byte{0, 0})...),
		nla(nfqaPayload, payload...))}
}

// Two VMs whose clients send the same DUID and IAID, each rebinding the
// other's prefix: each is given, and reported as taking, its own
// binding's prefix only, chosen by the TAP the request came in on.
func TestReaderReportsDelegations(t *testing.T) {
	pa, pb := netip.MustParsePrefix("2001:db8:a::/48"), netip.MustParsePrefix("2001:db8:b::/48")
	withPD := func(index int, tap string, p netip.Prefix) *binding.Entry {
		e := entry6(index, 0)
		b := *e.Binding
		b.TAP, b.DelegatedPrefixes6 = tap, []netip.Prefix{p}
		e.Binding, e.TAP.Name = &b, tap
		return e
	}
	var got delegationLog
	r := &Reader{
		cfg:     ReaderConfig{Name: "dhcpv6", Queue: 45, Delegations: &got},
		handler: NewHandler(fakeLookup{10: withPD(10, "tap10", pa), 11: withPD(11, "tap11", pb)}, &responder.Settings{}),
		stats:   &Stats{},
		log:     slog.New(slog.DiscardHandler),
		replies: new(replyBatch),
	}
	r.verdicts.reset(45)
	r.message(queuedV6(1, 10, rebindPD(t, pb)))
	r.message(queuedV6(2, 11, rebindPD(t, pa)))
	r.message(queuedV6(3, 12, rebindPD(t, pa))) // no binding: nothing
	want := delegationLog{"tap10 delegated 2001:db8:a::/48 via fe80::a86b:39ff:fe22:3344", "tap11 delegated 2001:db8:b::/48 via fe80::a86b:39ff:fe22:3344"}
	if !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
	if r.replies.n != 2 {
		t.Errorf("%d replies", r.replies.n)
	}
}
