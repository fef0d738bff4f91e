package responder

import (
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"slices"
)

// v4opt is one option the reply may carry, its payload in v4scratch.data.
type v4opt struct {
	code     uint8
	extra    bool // from Lease.Options or Settings.Options
	off, end uint16
}

// maxList4 bounds the payload of a list option (6, 119) in the scratch:
// the options field at its largest. More can never be sent, and would
// crowd other options out of the scratch.
const maxList4 = frameCap - ethLen - ip4Len - udpLen - dhcpHeader - 4

// v4scratch holds the candidate options of one reply, reused across calls
// so that building them allocates nothing. It has room for both lists at
// their longest and a full message's worth of other options.
type v4scratch struct {
	data  [4096]byte
	n     int
	opts  [64]v4opt
	nopts int
	sent  [4]uint64 // bitmap of codes already placed
	// dns and search are how many entries the lists of options 6 and 119
	// had before encoding (0 once an extra option replaces them), names
	// how many names option 119's payload holds; dropped counts options
	// that found no room in the scratch.
	dns, search, names, dropped int
}

func (s *v4scratch) reset() {
	s.n, s.nopts = 0, 0
	s.sent = [4]uint64{}
	s.dns, s.search, s.names, s.dropped = 0, 0, 0, 0
}

func (s *v4scratch) markSent(c uint8)     { s.sent[c>>6] |= 1 << (c & 63) }
func (s *v4scratch) wasSent(c uint8) bool { return s.sent[c>>6]&(1<<(c&63)) != 0 }

// buf returns the free scratch space as an empty slice with a hard cap,
// so appends past it fail the caller's length check instead of reallocating.
func (s *v4scratch) buf() []byte { return s.data[s.n:s.n:len(s.data)] }

// add records b (which must come from buf) as the payload of code. An
// extra option replaces a built-in one of the same code; the first extra
// of a code wins over later ones (Lease.Options come before Settings').
func (s *v4scratch) add(code uint8, b []byte, extra bool) {
	for i := range s.opts[:s.nopts] {
		o := &s.opts[i]
		if o.code != code {
			continue
		}
		if o.extra || !extra {
			return
		}
		o.extra, o.off, o.end = true, uint16(s.n), uint16(s.n+len(b))
		s.n += len(b)
		switch code {
		case optDNS:
			s.dns = 0
		case optDomainSearch:
			s.search = 0
		}
		return
	}
	if s.nopts == len(s.opts) {
		s.dropped++
		return
	}
	s.opts[s.nopts] = v4opt{code: code, extra: extra, off: uint16(s.n), end: uint16(s.n + len(b))}
	s.nopts++
	s.n += len(b)
}

func (s *v4scratch) addAddrs(code uint8, as []netip.Addr) {
	b := s.buf()
	for _, a := range as {
		if a.Is4() && len(b)+4 <= min(cap(b), maxList4) {
			v := a.As4()
			b = append(b, v[:]...)
		}
	}
	if len(b) > 0 {
		s.add(code, b, false)
	}
}

func (s *v4scratch) addBytes(code uint8, v []byte, extra bool) {
	b := s.buf()
	if len(v) > cap(b) {
		s.dropped++
		return
	}
	s.add(code, append(b, v...), extra)
}

func (s *v4scratch) addString(code uint8, v string) {
	b := s.buf()
	if len(v) > cap(b) {
		return
	}
	s.add(code, append(b, v...), false)
}

// reservedExtra are codes an extra option may not set: framing and
// per-message options the responder owns.
func reservedExtra(c uint8) bool {
	switch c {
	case optPad, optEnd, optRequestedIP, optLeaseTime, optOverload, optMessageType,
		optServerID, optParamRequest, optMaxSize, optRenewal, optRebinding, optClientID:
		return true
	}
	return false
}

// timer4 is one of the lease's timers (options 51, 58, 59) and its value.
type timer4 struct {
	code uint8
	v    uint32
}

// timers4 are the lease time, T1 and T2.
func (r *Responder) timers4() [3]timer4 {
	lease, t1, t2 := leaseTimers(&r.s)
	return [3]timer4{{optLeaseTime, lease}, {optRenewal, t1}, {optRebinding, t2}}
}

// timerLen is the encoded size of each timer option.
const timerLen = 2 + 4

// pxe4 is where a PXE client boots from: the binding's next server and
// boot file, else the configuration's.
func (r *Responder) pxe4(l *Lease) (netip.Addr, string) {
	ns, file := l.NextServer, l.BootFile
	if !ns.Is4() {
		ns = r.s.NextServer
	}
	if file == "" {
		file = r.s.BootFile
	}
	return ns, file
}

// candidates4 fills r.v4 with every option the binding supports, in the
// order they go out when the client's parameter request list does not
// order them. With timers, the lease timers the client asked for are among
// them, so that they go out in its order (RFC 2132 §9.8); build4 writes
// the others first.
func (r *Responder) candidates4(q *dhcp4Request, l *Lease, timers bool) {
	s := &r.v4
	s.reset()
	if timers {
		for _, t := range r.timers4() {
			if slices.Contains(q.prl, t.code) {
				s.addBytes(t.code, binary.BigEndian.AppendUint32(s.buf(), t.v), false)
			}
		}
	}
	if l.Subnet.Addr().Is4() {
		var m [4]byte
		binary.BigEndian.PutUint32(m[:], ^(uint32(1)<<(32-l.Subnet.Bits()) - 1))
		s.addBytes(optSubnetMask, m[:], false)
	}
	router := !l.Private && l.Gateway.Is4()
	if router {
		s.addAddrs(optRouter, []netip.Addr{l.Gateway})
	}
	if l.Subnet.Addr().Is4() {
		a := l.Subnet.Masked().Addr().As4()
		host := uint32(1)<<(32-l.Subnet.Bits()) - 1 // 32-bit shift by 32 is 0 in Go
		binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])|host)
		s.addBytes(optBroadcast, a[:], false)
	}
	ns := l.Nameservers
	if len(ns) == 0 {
		ns = r.s.Nameservers
	}
	s.dns = len(ns)
	s.addAddrs(optDNS, ns)
	if l.Hostname != "" {
		s.addString(optHostname, l.Hostname)
	}
	dom := l.Domain
	if dom == "" {
		dom = r.s.Domain
	}
	if dom != "" {
		s.addString(optDomain, dom)
	}
	if l.MTU >= 68 {
		s.addBytes(optMTU, binary.BigEndian.AppendUint16(s.buf(), l.MTU), false)
	}
	if len(l.DomainSearch) > 0 {
		s.search = len(l.DomainSearch)
		b := s.buf()
		for _, d := range l.DomainSearch {
			var ok bool
			if b, ok = appendName(b, d, min(cap(b), maxList4)); ok {
				s.names++
			}
		}
		if len(b) > 0 {
			s.add(optDomainSearch, b, false)
		}
	}
	// RFC 3442: a client that gets option 121 ignores option 3, so it
	// carries the default route; sent only to clients that ask for it.
	if router && slices.Contains(q.prl, optClasslessRts) {
		gw := l.Gateway.As4()
		s.addBytes(optClasslessRts, []byte{0, gw[0], gw[1], gw[2], gw[3]}, false)
	}
	// PXE firmware reads siaddr and file (build4); options 66 and 67 say
	// the same to clients that ask for them (RFC 2132 §9.4, §9.5).
	next, file := r.pxe4(l)
	if b := s.buf(); next.Is4() && cap(b) >= len("255.255.255.255") && slices.Contains(q.prl, optTFTPServer) {
		s.add(optTFTPServer, next.AppendTo(b), false)
	}
	if file != "" && slices.Contains(q.prl, optBootFile) {
		s.addString(optBootFile, file)
	}
	for _, o := range l.Options {
		if !reservedExtra(o.Code) {
			s.addBytes(o.Code, o.Data, true)
		}
	}
	for _, o := range r.s.Options {
		if !reservedExtra(o.Code) {
			s.addBytes(o.Code, o.Data, true)
		}
	}
}

// region is one of the three places DHCPv4 options may live (RFC 2131
// §4.1 option overload): the options field, then file, then sname.
type region struct{ cur, end int }

// optWriter places whole options into the first region with room.
type optWriter struct {
	b    []byte
	regs [3]region
}

func encodedLen(n int) int {
	if n == 0 {
		return 2
	}
	return n + 2*((n+254)/255)
}

// put writes code with payload v, split into 255-byte instances per RFC
// 3396, and reports whether it fit.
func (w *optWriter) put(code uint8, v []byte) bool {
	need := encodedLen(len(v))
	for i := range w.regs {
		g := &w.regs[i]
		if g.end-g.cur < need {
			continue
		}
		for first := true; first || len(v) > 0; first = false {
			n := min(len(v), 255)
			w.b[g.cur], w.b[g.cur+1] = code, byte(n)
			copy(w.b[g.cur+2:], v[:n])
			g.cur += 2 + n
			v = v[n:]
		}
		return true
	}
	return false
}

// room is the most any one region still takes.
func (w *optWriter) room() int {
	n := 0
	for _, g := range w.regs {
		n = max(n, g.end-g.cur)
	}
	return n
}

// isList reports whether o is one of the lists cut to fit (DNS servers,
// search domains) rather than left out whole; an extra option of the same
// code is an operator's payload and is never cut.
func (o v4opt) isList() bool {
	return !o.extra && (o.code == optDNS || o.code == optDomainSearch)
}

// cutList returns the longest prefix of whole entries of list o's payload
// v whose encoding fits room.
func cutList(o v4opt, v []byte, room int) []byte {
	if o.code == optDomainSearch {
		n, _ := wholeNames(v, room)
		return v[:n]
	}
	k := len(v) / 4
	for k > 0 && encodedLen(4*k) > room {
		k--
	}
	return v[:4*k]
}

// entries is how many addresses or names v, list o's payload or a cut of
// it, holds.
func (s *v4scratch) entries(o v4opt, v []byte) int {
	switch {
	case o.code == optDNS:
		return len(v) / 4
	case len(v) == int(o.end-o.off):
		return s.names // counted as they were encoded
	}
	_, names := wholeNames(v, math.MaxInt)
	return names
}

// nakMessage tells the client's log why (RFC 2131 §4.3.2 option 56).
var nakMessage = []byte("requested address is not assigned to this client")

// build4 writes a DHCPv4 reply of type mt to q into r.buf and returns the
// frame, within the client's maximum message size, the link MTU and the
// buffer, and what it had no room for.
func (r *Responder) build4(q *dhcp4Request, l *Lease, mt uint8) ([]byte, LeftOut) {
	limit := dhcpMinMax
	if q.maxSize > 576 {
		limit = int(q.maxSize) - ip4Len - udpLen
	}
	limit = min(limit, ipLimit(l, minMTU4)-ip4Len-udpLen)

	const dOff = ethLen + ip4Len + udpLen
	d := r.buf[dOff : dOff+limit]
	yi := bootp4(d, q, l, mt)
	w := optWriter{b: d, regs: [3]region{
		{dhcpHeader, limit - 1 - 3}, // room for option 52 and end
		{fileOff, fileOff + fileLen - 1},
		{snameOff, snameOff + snameLen - 1},
	}}
	if mt != dhcpNak {
		ns, file := r.pxe4(l)
		if ns.Is4() {
			a := ns.As4()
			copy(d[siaddrOff:siaddrOff+4], a[:])
		}
		if file != "" {
			// PXE firmware reads the file field as a name; it is never
			// also used for options (RFC 2131 §4.1 overload).
			copy(d[fileOff:fileOff+fileLen-1], file)
			w.regs[1].end = fileOff
		}
	}
	sid := r.serverID4(l)
	var tmp [4]byte
	var left LeftOut
	w.put(optMessageType, []byte{mt})
	a := sid.As4()
	w.put(optServerID, a[:])
	if q.clientID != nil {
		w.put(optClientID, q.clientID) // RFC 6842
	}
	if mt == dhcpNak {
		w.put(optMessage, nakMessage)
	} else {
		timers := mt == dhcpOffer || q.msgType == dhcpRequest
		if timers {
			// Those the client did not ask for go first; place4 puts
			// the others in its order.
			for _, t := range r.timers4() {
				if !slices.Contains(q.prl, t.code) {
					w.put(t.code, binary.BigEndian.AppendUint32(tmp[:0], t.v))
				}
			}
		}
		left = r.place4(&w, q, l, timers)
	}
	n := max(w.finish(), dhcpMinReply)

	dstIP, dstMAC := dest4(q, mt, yi)
	putEthernet(r.buf[:], dstMAC, l.TAPMAC, etherV4)
	putIPv4UDP(r.buf[ethLen:], sid, dstIP, portDHCPServer, portDHCPClient, n)
	return r.buf[:dOff+n], left
}

// serverID4 is the server identifier and IPv4 source of replies.
func (r *Responder) serverID4(l *Lease) netip.Addr {
	if !r.s.ServerOnLink && r.s.ServerIP.Is4() {
		return r.s.ServerIP
	}
	if l.Gateway.Is4() {
		return l.Gateway
	}
	if l.Subnet.Addr().Is4() {
		return l.Subnet.Masked().Addr().Next()
	}
	if r.s.ServerIP.Is4() {
		return r.s.ServerIP
	}
	return netip.IPv4Unspecified()
}

// bootp4 clears d and writes the BOOTP fields of a reply of type mt to q
// (RFC 2131 table 3), up to the magic cookie, and returns yiaddr.
func bootp4(d []byte, q *dhcp4Request, l *Lease, mt uint8) netip.Addr {
	clear(d)
	d[0], d[1], d[2] = 2, 1, 6 // BOOTREPLY, Ethernet
	binary.BigEndian.PutUint32(d[4:8], q.xid)
	binary.BigEndian.PutUint16(d[10:12], q.flags)
	yi := netip.IPv4Unspecified()
	if mt != dhcpNak {
		if q.msgType != dhcpDiscover {
			ci := q.ciaddr.As4()
			copy(d[12:16], ci[:]) // an ACK echoes ciaddr
		}
		if q.msgType != dhcpInform {
			yi = l.IP
			a := yi.As4()
			copy(d[16:20], a[:])
		}
	}
	copy(d[28:44], q.chaddr)
	copy(d[bootpFixed:dhcpHeader], magicCookie[:])
	return yi
}

// finish ends the options: each of file and sname that took options gets
// its end, the main area option 52 saying which (RFC 2131 §4.1 overload)
// and its own end. It returns the message's length.
func (w *optWriter) finish() int {
	d := w.b
	var overload byte
	if w.regs[1].cur != fileOff {
		overload |= 1
		d[w.regs[1].cur] = optEnd
	}
	if w.regs[2].cur != snameOff {
		overload |= 2
		d[w.regs[2].cur] = optEnd
	}
	end := w.regs[0].cur
	if overload != 0 {
		d[end], d[end+1], d[end+2] = optOverload, 1, overload
		end += 3
	}
	d[end] = optEnd
	return end + 1
}

// dest4 is where a reply of type mt to q goes (RFC 2131 §4.1): NAKs are
// broadcast; a client with an address (renewing, informing) gets unicast
// there; one that cannot take unicast before it is configured sets the
// broadcast flag; the rest get unicast to yiaddr.
func dest4(q *dhcp4Request, mt uint8, yi netip.Addr) (netip.Addr, net.HardwareAddr) {
	switch {
	case mt == dhcpNak || q.ciaddr == netip.IPv4Unspecified() && (q.flags&flagBcast != 0 || q.msgType == dhcpInform):
		return netip.AddrFrom4([4]byte{255, 255, 255, 255}), broadcastMAC
	case q.ciaddr != netip.IPv4Unspecified():
		return q.ciaddr, net.HardwareAddr(q.mac)
	}
	return yi, net.HardwareAddr(q.mac)
}

// place4 writes the binding's options: those the client asked for first,
// in its order, then the rest. An option that fits no region is left out
// whole, except the lists of DNS servers and search domains: once every
// other option is placed, each gets the longest run of whole entries that
// fits the room left.
func (r *Responder) place4(w *optWriter, q *dhcp4Request, l *Lease, timers bool) LeftOut {
	r.candidates4(q, l, timers)
	s := &r.v4
	left := LeftOut{Nameservers: s.dns, Domains: s.search}
	var lists [2]v4opt // the lists that fit nowhere whole, in placement order
	nlists := 0
	// The lease timers among the candidates are never left out: their room
	// in the options field is kept from every option placed before them,
	// and handed back as each is placed.
	for _, o := range s.opts[:s.nopts] {
		if isTimer(o.code) {
			w.regs[0].end -= timerLen
		}
	}
	put := func(o v4opt) {
		s.markSent(o.code)
		if isTimer(o.code) {
			w.regs[0].end += timerLen
		}
		v := s.data[o.off:o.end]
		switch {
		case w.put(o.code, v):
			if o.isList() {
				left.placed(o.code, s.entries(o, v))
			}
		case o.isList():
			lists[nlists] = o
			nlists++
		default:
			s.dropped++
		}
	}
	for _, c := range q.prl {
		for _, o := range s.opts[:s.nopts] {
			if o.code == c && !s.wasSent(c) {
				put(o)
			}
		}
	}
	for _, o := range s.opts[:s.nopts] {
		if !s.wasSent(o.code) {
			put(o)
		}
	}
	for _, o := range lists[:nlists] {
		v := cutList(o, s.data[o.off:o.end], w.room())
		if len(v) > 0 {
			w.put(o.code, v)
			left.placed(o.code, s.entries(o, v))
		}
	}
	left.Options = s.dropped
	return left
}

func isTimer(c uint8) bool { return c == optLeaseTime || c == optRenewal || c == optRebinding }

// placed takes n entries of list option code off what was left out.
func (o *LeftOut) placed(code uint8, n int) {
	if code == optDNS {
		o.Nameservers -= n
	} else {
		o.Domains -= n
	}
}
