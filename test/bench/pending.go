package bench

// pending is one request written to a TAP and not yet answered or expired.
type pending struct {
	key  uint32 // transaction id
	at   int64  // ns since the run's epoch
	done bool
}

// pendingRing is one TAP's outstanding requests, oldest first. Replies can
// come out of order, so an answered request may sit behind an older one
// until that one is answered or expires.
type pendingRing struct {
	buf  []pending
	head int
	n    int
}

func newPendingRing(capacity int) pendingRing {
	return pendingRing{buf: make([]pending, max(capacity, 1))}
}

// Len is the number of entries still held, answered ones behind the head
// included.
func (r *pendingRing) Len() int { return r.n }

// Push appends a request, growing the ring when every slot is held.
func (r *pendingRing) Push(key uint32, at int64) {
	if r.n == len(r.buf) {
		grown := make([]pending, 2*len(r.buf))
		for j := range r.n {
			grown[j] = r.buf[(r.head+j)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = pending{key: key, at: at}
	r.n++
}

// Answer marks done the oldest open request with key (any open request
// when byKey is false: the reply carries no transaction id) and returns
// when it was sent; ok is false when none is open.
func (r *pendingRing) Answer(key uint32, byKey bool) (at int64, ok bool) {
	for j := range r.n {
		p := &r.buf[(r.head+j)%len(r.buf)]
		if !p.done && (!byKey || p.key == key) {
			p.done = true
			at = p.at
			r.popDone()
			return at, true
		}
	}
	return 0, false
}

// Expire drops the oldest request when it was sent before cutoff and
// returns when it was sent; ok is false when the oldest is younger.
func (r *pendingRing) Expire(cutoff int64) (at int64, ok bool) {
	if r.n == 0 || r.buf[r.head].at >= cutoff {
		return 0, false
	}
	at = r.buf[r.head].at
	r.buf[r.head].done = true
	r.popDone()
	return at, true
}

func (r *pendingRing) popDone() {
	for r.n > 0 && r.buf[r.head].done {
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
}
