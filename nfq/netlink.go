package nfq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// The nfnetlink_queue protocol (include/uapi/linux/netfilter/nfnetlink_queue.h),
// spoken directly: decoding into a reused Packet and encoding verdicts into a
// reused buffer cost no allocation per packet, which a general netlink
// library's per-message attribute slices do.

const (
	nfnlSubsysQueue = 3

	nfqnlMsgPacket       = 0
	nfqnlMsgVerdict      = 1
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr    = 1
	nfqaVerdictHdr   = 2
	nfqaMark         = 3
	nfqaIfindexIndev = 5
	nfqaIfindexPhys  = 7
	nfqaHwaddr       = 9
	nfqaPayload      = 10

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind  = 1
	nfqnlCopyPacket  = 2
	nfqaCfgFFailOpen = 1

	nlmsgError = 2
	nlmsgDone  = 3

	nlmFRequest = 0x1
	nlmFAck     = 0x4

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

	nlmsgHdrLen = 16
	nfgenHdrLen = 4
	nlaHdrLen   = 4
)

// Netfilter verdicts (include/uapi/linux/netfilter.h).
const (
	nfDrop   = 0
	nfAccept = 1
	nfRepeat = 4
)

func align4(n int) int { return (n + 3) &^ 3 }

// queuedPacket is one NFQNL_MSG_PACKET: the handler's Packet plus what the
// verdict needs. Its slices alias the receive buffer.
type queuedPacket struct {
	Packet
	Mark    uint32
	HasMark bool
}

var errShortMessage = errors.New("netlink message cut short")

// decodePacket reads the attributes of one NFQNL_MSG_PACKET (b starts after
// the nfgenmsg header) into p, which is reset first; nothing is allocated.
func decodePacket(b []byte, p *queuedPacket) error {
	*p = queuedPacket{}
	var haveID bool
	for len(b) >= nlaHdrLen {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if l < nlaHdrLen || l > len(b) {
			return fmt.Errorf("attribute %d of length %d in %d bytes: %w", typ, l, len(b), errShortMessage)
		}
		v := b[nlaHdrLen:l]
		switch typ {
		case nfqaPacketHdr:
			if len(v) >= 4 {
				p.ID, haveID = binary.BigEndian.Uint32(v), true
			}
		case nfqaMark:
			if len(v) >= 4 {
				p.Mark, p.HasMark = binary.BigEndian.Uint32(v), true
			}
		case nfqaIfindexIndev:
			if len(v) >= 4 {
				p.InDev = binary.BigEndian.Uint32(v)
			}
		case nfqaIfindexPhys:
			if len(v) >= 4 {
				p.PhysInDev = binary.BigEndian.Uint32(v)
			}
		case nfqaHwaddr:
			// struct nfqnl_msg_packet_hw: be16 length, 2 pad, 8 address bytes.
			if len(v) >= 12 && binary.BigEndian.Uint16(v) >= 6 {
				p.HwAddr = v[4:10:10]
			}
		case nfqaPayload:
			p.Payload = v
		}
		if a := align4(l); a < len(b) {
			b = b[a:]
		} else {
			break
		}
	}
	if !haveID {
		return errors.New("queued packet without a packet header")
	}
	return nil
}

// nlmsg is one netlink message in a received datagram.
type nlmsg struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	Body  []byte // after the netlink header
}

// nextMessage splits the first netlink message off b; ok is false at the end.
func nextMessage(b []byte) (m nlmsg, rest []byte, err error) {
	if len(b) < nlmsgHdrLen {
		return nlmsg{}, nil, errShortMessage
	}
	l := int(binary.NativeEndian.Uint32(b))
	if l < nlmsgHdrLen || l > len(b) {
		return nlmsg{}, nil, fmt.Errorf("message of length %d in %d bytes: %w", l, len(b), errShortMessage)
	}
	m = nlmsg{
		Type:  binary.NativeEndian.Uint16(b[4:]),
		Flags: binary.NativeEndian.Uint16(b[6:]),
		Seq:   binary.NativeEndian.Uint32(b[8:]),
		Body:  b[nlmsgHdrLen:l],
	}
	if a := align4(l); a < len(b) {
		rest = b[a:]
	}
	return m, rest, nil
}

// errorCode is the errno of an NLMSG_ERROR body; 0 is an acknowledgement.
func errorCode(body []byte) syscall.Errno {
	if len(body) < 4 {
		return syscall.EPROTO
	}
	return syscall.Errno(-int32(binary.NativeEndian.Uint32(body)))
}

// msgWriter appends netlink messages to a reused buffer.
type msgWriter struct{ b []byte }

// begin starts a message to the queue subsystem and returns its offset.
func (w *msgWriter) begin(msgType uint8, flags uint16, seq uint32, queue uint16) int {
	off := len(w.b)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0) // length, set by end
	w.b = binary.NativeEndian.AppendUint16(w.b, nfnlSubsysQueue<<8|uint16(msgType))
	w.b = binary.NativeEndian.AppendUint16(w.b, nlmFRequest|flags)
	w.b = binary.NativeEndian.AppendUint32(w.b, seq)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0) // port id: the kernel's is 0
	// nfgenmsg: family AF_UNSPEC, version 0, res_id = queue number (big endian).
	w.b = append(w.b, 0, 0)
	w.b = binary.BigEndian.AppendUint16(w.b, queue)
	return off
}

func (w *msgWriter) attr(typ uint16, v ...byte) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(nlaHdrLen+len(v)))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, v...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *msgWriter) attr32(typ uint16, v uint32) {
	w.b = binary.NativeEndian.AppendUint16(w.b, nlaHdrLen+4)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = binary.BigEndian.AppendUint32(w.b, v)
}

func (w *msgWriter) end(off int) {
	binary.NativeEndian.PutUint32(w.b[off:], uint32(len(w.b)-off))
}

// configMessage binds queue in one message: bind, copy the whole packet up
// to copyRange bytes, the queue length, and fail-open (the kernel accepts
// what it cannot queue, so a slow daemon never blackholes a VM). One
// message means no packet is queued to us before the copy mode is set.
func configMessage(seq uint32, queue uint16, copyRange, maxLen uint32) []byte {
	var w msgWriter
	off := w.begin(nfqnlMsgConfig, nlmFAck, seq, queue)
	w.attr(nfqaCfgCmd, nfqnlCfgCmdBind, 0, 0, 0) // command, pad, be16 pf (unused since Linux 3.8)
	params := binary.BigEndian.AppendUint32(nil, copyRange)
	w.attr(nfqaCfgParams, append(params, nfqnlCopyPacket)...)
	w.attr32(nfqaCfgQueueMax, maxLen)
	w.attr32(nfqaCfgMask, nfqaCfgFFailOpen)
	w.attr32(nfqaCfgFlags, nfqaCfgFFailOpen)
	w.end(off)
	return w.b
}

// verdicts collects the verdicts of one batch of packets, in packet order,
// into as few messages as the kernel allows: a run of packets with the same
// verdict and no mark becomes one NFQNL_MSG_VERDICT_BATCH, which applies to
// every packet of the queue up to its id. Packets are taken in id order and
// every one gets its verdict in the same batch, so no older packet is left
// for a batch verdict to catch by mistake. A verdict that sets a mark
// (NF_REPEAT with our bits cleared) is a message of its own.
type verdicts struct {
	w     msgWriter
	queue uint16

	runVerdict uint32
	runLast    uint32
	runLen     int
}

func (v *verdicts) reset(queue uint16) {
	v.w.b = v.w.b[:0]
	v.queue = queue
	v.runLen = 0
}

// add gives packet id the verdict.
func (v *verdicts) add(id, verdict uint32) {
	if v.runLen > 0 && v.runVerdict != verdict {
		v.flushRun()
	}
	v.runVerdict, v.runLast = verdict, id
	v.runLen++
}

// addMark gives packet id the verdict and sets its mark.
func (v *verdicts) addMark(id, verdict, mark uint32) {
	v.flushRun()
	off := v.w.begin(nfqnlMsgVerdict, 0, 0, v.queue)
	v.verdictHdr(verdict, id)
	v.w.attr32(nfqaMark, mark)
	v.w.end(off)
}

func (v *verdicts) flushRun() {
	if v.runLen == 0 {
		return
	}
	typ := uint8(nfqnlMsgVerdict)
	if v.runLen > 1 {
		typ = nfqnlMsgVerdictBatch
	}
	off := v.w.begin(typ, 0, 0, v.queue)
	v.verdictHdr(v.runVerdict, v.runLast)
	v.w.end(off)
	v.runLen = 0
}

func (v *verdicts) verdictHdr(verdict, id uint32) {
	v.w.b = binary.NativeEndian.AppendUint16(v.w.b, nlaHdrLen+8)
	v.w.b = binary.NativeEndian.AppendUint16(v.w.b, nfqaVerdictHdr)
	v.w.b = binary.BigEndian.AppendUint32(v.w.b, verdict)
	v.w.b = binary.BigEndian.AppendUint32(v.w.b, id)
}

// bytes ends the batch and returns its messages, empty when there are none.
// No message asks for an acknowledgement: the kernel reports only failures,
// which the reader then finds among the packets it reads.
func (v *verdicts) bytes() []byte {
	v.flushRun()
	return v.w.b
}
