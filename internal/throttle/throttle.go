// Package throttle limits how often one kind of problem is logged: a
// flooding VM or a broken TAP must not turn the log into a flood too, and
// the count of what was held back is logged with the next line.
package throttle

import (
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is how often one kind of problem is logged at most.
const DefaultInterval = 10 * time.Second

// maxKeys bounds the memory of keys that name TAPs, which come and go.
const maxKeys = 4096

// Log throttles log lines by key: one per Interval, the rest counted. The
// zero value logs each key at most once per DefaultInterval. It is safe
// for concurrent use.
type Log[K comparable] struct {
	Interval time.Duration
	now      func() time.Time // time.Now; tests move the clock

	mu   sync.Mutex
	last map[K]state
}

type state struct {
	at         time.Time
	suppressed int
}

// Due reports whether a line of key may be logged now, and how many were
// held back since the last one. Callers on the packet path ask first and
// build the line's fields only when it is due, so that a flood costs no
// allocation per packet.
func (l *Log[K]) Due(key K) (suppressed int, due bool) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	every := l.Interval
	if every == 0 {
		every = DefaultInterval
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = make(map[K]state)
	}
	st := l.last[key]
	if !st.at.IsZero() && now.Sub(st.at) < every {
		st.suppressed++
		l.last[key] = st
		return 0, false
	}
	if len(l.last) >= maxKeys {
		for k, v := range l.last {
			if now.Sub(v.at) >= every {
				delete(l.last, k)
			}
		}
	}
	l.last[key] = state{at: now}
	return st.suppressed, true
}

// Warn logs msg at warn level when Due allows it, with the count of those
// held back since as "suppressed".
func (l *Log[K]) Warn(log *slog.Logger, key K, msg string, args ...any) {
	suppressed, due := l.Due(key)
	if !due {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log.Warn(msg, args...)
}
