package nfq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/responder"
)

// nla is one netlink attribute as the kernel writes it: native-endian
// header, value, padding to four bytes.
func nla(typ uint16, v ...byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodePacket(t *testing.T) {
	hdr := nla(nfqaPacketHdr, 0, 0, 0x01, 0x02, 0x08, 0x00, 0) // id 0x102, proto, hook
	hw := nla(nfqaHwaddr, 0, 6, 0, 0, 0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44, 0, 0)
	payload := []byte{0x45, 0, 0, 20, 1, 2, 3}
	tests := []struct {
		name    string
		in      []byte
		want    queuedPacket
		wantErr bool
	}{
		{"routed, with mark", cat(hdr, nla(nfqaMark, be32(0x04000000)...), nla(nfqaIfindexIndev, be32(10)...), hw, nla(nfqaPayload, payload...)),
			queuedPacket{Packet: Packet{ID: 0x102, InDev: 10, HwAddr: net.HardwareAddr{0xaa, 0x6b, 0x39, 0x22, 0x33, 0x44}, Payload: payload}, Mark: 0x04000000, HasMark: true}, false},
		{"bridged: physindev", cat(hdr, nla(nfqaIfindexIndev, be32(5)...), nla(nfqaIfindexPhys, be32(10)...)),
			queuedPacket{Packet: Packet{ID: 0x102, InDev: 5, PhysInDev: 10}}, false},
		{"net byte order flag on the type", cat(nla(nfqaPacketHdr|0x4000, 0, 0, 0, 7, 0, 0, 0), nla(nfqaIfindexIndev|0x4000, be32(3)...)),
			queuedPacket{Packet: Packet{ID: 7, InDev: 3}}, false},
		{"unknown attributes skipped", cat(hdr, nla(4, 1, 2, 3, 4, 5, 6, 7, 8), nla(99), nla(nfqaIfindexIndev, be32(10)...)),
			queuedPacket{Packet: Packet{ID: 0x102, InDev: 10}}, false},
		{"hardware address shorter than 6 bytes ignored", cat(hdr, nla(nfqaHwaddr, 0, 4, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0)),
			queuedPacket{Packet: Packet{ID: 0x102}}, false},
		{"no packet header", nla(nfqaIfindexIndev, be32(10)...), queuedPacket{Packet: Packet{InDev: 10}}, true},
		{"attribute longer than the message", append(hdr, 0xff, 0, 5, 0), queuedPacket{Packet: Packet{ID: 0x102}}, true},
		{"attribute length below its header", append(hdr, 2, 0, 5, 0), queuedPacket{Packet: Packet{ID: 0x102}}, true},
		{"trailing bytes shorter than a header", append(hdr, 1, 2), queuedPacket{Packet: Packet{ID: 0x102}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := queuedPacket{Packet: Packet{ID: 99, InDev: 99}, Mark: 1, HasMark: true} // reset by decode
			err := decodePacket(tt.in, &p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if p.ID != tt.want.ID || p.InDev != tt.want.InDev || p.PhysInDev != tt.want.PhysInDev ||
				p.Mark != tt.want.Mark || p.HasMark != tt.want.HasMark ||
				!bytes.Equal(p.HwAddr, tt.want.HwAddr) || !bytes.Equal(p.Payload, tt.want.Payload) {
				t.Fatalf("decoded %+v, want %+v", p, tt.want)
			}
		})
	}
}

func TestDecodePacketAllocatesNothing(t *testing.T) {
	in := cat(nla(nfqaPacketHdr, 0, 0, 0, 1, 8, 0, 0), nla(nfqaIfindexIndev, be32(10)...),
		nla(nfqaHwaddr, 0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0), nla(nfqaPayload, make([]byte, 300)...))
	var p queuedPacket
	if n := testing.AllocsPerRun(100, func() { decodePacket(in, &p) }); n != 0 {
		t.Fatalf("%v allocations per packet, want 0", n)
	}
}

// nlmsgHdr is a netlink header as the kernel writes it.
func nlmsgHdr(length uint32, typ, flags uint16, seq uint32) []byte {
	b := binary.NativeEndian.AppendUint32(nil, length)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	return binary.NativeEndian.AppendUint32(b, 0)
}

func TestNextMessage(t *testing.T) {
	errBody := binary.NativeEndian.AppendUint32(nil, uint32(0xffffffff-1)) // -2: ENOENT
	two := cat(nlmsgHdr(20, nlmsgError, 0, 7), errBody, nlmsgHdr(18, 0x300, 0, 8), []byte{1, 2, 0, 0})
	m, rest, err := nextMessage(two)
	if err != nil || m.Type != nlmsgError || m.Seq != 7 || errorCode(m.Body).Error() != "no such file or directory" {
		t.Fatalf("first message %+v, %v", m, err)
	}
	m, rest, err = nextMessage(rest)
	if err != nil || m.Type != 0x300 || m.Seq != 8 || !bytes.Equal(m.Body, []byte{1, 2}) || rest != nil {
		t.Fatalf("second message %+v rest %v, %v: want the 2-byte body and nothing after its padding", m, rest, err)
	}
	for _, bad := range [][]byte{{1, 2, 3}, nlmsgHdr(64, 0x300, 0, 1), nlmsgHdr(8, 0x300, 0, 1)} {
		if _, _, err := nextMessage(bad); !errors.Is(err, errShortMessage) {
			t.Errorf("nextMessage(%x): %v, want errShortMessage", bad, err)
		}
	}
	if e := errorCode(binary.NativeEndian.AppendUint32(nil, 0)); e != 0 {
		t.Errorf("an acknowledgement reads as %v", e)
	}
}

// verdictMsg is one verdict message to queue 42 as the kernel expects it.
func verdictMsg(typ uint16, verdict, id uint32, mark ...uint32) []byte {
	body := cat([]byte{0, 0, 0, 42}, nla(nfqaVerdictHdr, cat(be32(verdict), be32(id))...))
	for _, m := range mark {
		body = append(body, nla(nfqaMark, be32(m)...)...)
	}
	return cat(nlmsgHdr(uint32(16+len(body)), 0x300|typ, nlmFRequest, 0), body)
}

func TestVerdicts(t *testing.T) {
	type add struct {
		id, verdict uint32
		mark        *uint32
	}
	mark := uint32(0x10)
	tests := []struct {
		name string
		adds []add
		want []byte
	}{
		{"none", nil, nil},
		{"one drop is a plain verdict", []add{{5, nfDrop, nil}}, verdictMsg(nfqnlMsgVerdict, nfDrop, 5)},
		{"a run of drops is one batch verdict up to the last id",
			[]add{{5, nfDrop, nil}, {6, nfDrop, nil}, {7, nfDrop, nil}}, verdictMsg(nfqnlMsgVerdictBatch, nfDrop, 7)},
		{"runs split where the verdict changes",
			[]add{{5, nfDrop, nil}, {6, nfDrop, nil}, {7, nfAccept, nil}, {8, nfDrop, nil}},
			cat(verdictMsg(nfqnlMsgVerdictBatch, nfDrop, 6), verdictMsg(nfqnlMsgVerdict, nfAccept, 7), verdictMsg(nfqnlMsgVerdict, nfDrop, 8))},
		{"a marked repeat stands alone and ends the run before it",
			[]add{{5, nfDrop, nil}, {6, nfDrop, nil}, {7, nfRepeat, &mark}, {8, nfDrop, nil}, {9, nfDrop, nil}},
			cat(verdictMsg(nfqnlMsgVerdictBatch, nfDrop, 6), verdictMsg(nfqnlMsgVerdict, nfRepeat, 7, mark), verdictMsg(nfqnlMsgVerdictBatch, nfDrop, 9))},
	}
	var v verdicts
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.reset(42) // reused, as the reader does
			for _, a := range tt.adds {
				if a.mark != nil {
					v.addMark(a.id, a.verdict, *a.mark)
				} else {
					v.add(a.id, a.verdict)
				}
			}
			if got := v.bytes(); !bytes.Equal(got, tt.want) {
				t.Fatalf("messages\n%x\nwant\n%x", got, tt.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() {
		v.reset(42)
		for id := uint32(0); id < batchSize; id++ {
			v.add(id, id%3%2)
		}
		v.bytes()
	}); n != 0 {
		t.Fatalf("%v allocations per batch of verdicts, want 0", n)
	}
}

func TestConfigMessage(t *testing.T) {
	body := cat([]byte{0, 0, 0, 42},
		nla(nfqaCfgCmd, nfqnlCfgCmdBind, 0, 0, 0),
		nla(nfqaCfgParams, 0, 0, 0x0e, 0x00, nfqnlCopyPacket),
		nla(nfqaCfgQueueMax, be32(5000)...),
		nla(nfqaCfgMask, be32(nfqaCfgFFailOpen)...),
		nla(nfqaCfgFlags, be32(nfqaCfgFFailOpen)...))
	want := cat(nlmsgHdr(uint32(16+len(body)), 0x300|nfqnlMsgConfig, nlmFRequest|nlmFAck, 3), body)
	if got := configMessage(3, 42, 0x0e00, 5000); !bytes.Equal(got, want) {
		t.Fatalf("config message\n%x\nwant\n%x", got, want)
	}
}

// FuzzDecodePacket: any bytes decode without panicking, and what is
// decoded lies inside the input.
func FuzzDecodePacket(f *testing.F) {
	f.Add(cat(nla(nfqaPacketHdr, 0, 0, 0, 1, 8, 0, 0), nla(nfqaIfindexIndev, be32(10)...),
		nla(nfqaHwaddr, 0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0), nla(nfqaPayload, 0x45, 0)))
	f.Add([]byte{4, 0, 10, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p queuedPacket
		decodePacket(b, &p)
		if len(p.Payload) > len(b) || len(p.HwAddr) > 6 {
			t.Fatalf("decoded more than the input holds: payload %d, hwaddr %d of %d bytes", len(p.Payload), len(p.HwAddr), len(b))
		}
		for m, rest, err := nextMessage(b); err == nil; m, rest, err = nextMessage(rest) {
			if len(m.Body) > len(b) {
				t.Fatalf("message body of %d bytes in %d", len(m.Body), len(b))
			}
		}
	})
}

// A queued packet the reader cannot decode still gets a verdict once its id
// is known: nothing may wait in the queue until it overflows.
func TestMessageUndecodableStillGetsVerdict(t *testing.T) {
	r := &Reader{
		handler: NewHandler(fakeLookup{}, &responder.Settings{}),
		stats:   &Stats{},
		log:     slog.New(slog.DiscardHandler),
	}
	hdr := nla(nfqaPacketHdr, 0, 0, 1, 2, 8, 0, 0)
	packet := uint16(nfnlSubsysQueue<<8 | nfqnlMsgPacket)
	for _, tt := range []struct {
		name string
		body []byte
		want []byte
	}{
		{"attribute longer than the message", cat(hdr, []byte{0xff, 0, 5, 0}), verdictMsg(nfqnlMsgVerdict, nfAccept, 0x102)},
		{"no packet header: nothing to answer", nla(nfqaIfindexIndev, be32(10)...), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r.verdicts.reset(42)
			r.message(nlmsg{Type: packet, Body: cat(make([]byte, nfgenHdrLen), tt.body)})
			if got := r.verdicts.bytes(); !bytes.Equal(got, tt.want) {
				t.Fatalf("verdicts\n%x\nwant\n%x", got, tt.want)
			}
		})
	}
}
