package throttle

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	clock := time.Unix(1000, 0)
	l := Log[string]{Interval: time.Second, now: func() time.Time { return clock }}
	if n, due := l.Due("tap10"); !due || n != 0 {
		t.Fatalf("first: due %v suppressed %d, want due, 0", due, n)
	}
	for range 3 {
		clock = clock.Add(100 * time.Millisecond)
		if _, due := l.Due("tap10"); due {
			t.Fatal("due again within the interval")
		}
	}
	if _, due := l.Due("tap11"); !due {
		t.Fatal("another key was held back by tap10's")
	}
	clock = clock.Add(700 * time.Millisecond) // a second after the first
	if n, due := l.Due("tap10"); !due || n != 3 {
		t.Fatalf("after the interval: due %v suppressed %d, want due, 3", due, n)
	}
	if n, due := l.Due("tap10"); due || n != 0 {
		t.Fatalf("at once again: due %v suppressed %d, want held back", due, n)
	}
}

func TestDefaultIntervalAndForgetting(t *testing.T) {
	clock := time.Unix(1000, 0)
	var l Log[int]
	l.now = func() time.Time { return clock }
	l.Due(0)
	clock = clock.Add(DefaultInterval - time.Nanosecond)
	if _, due := l.Due(0); due {
		t.Fatal("due before DefaultInterval")
	}
	for k := 1; k < maxKeys; k++ {
		l.Due(k)
	}
	clock = clock.Add(DefaultInterval)
	l.Due(maxKeys) // the table is full: the quiet keys go
	if len(l.last) != 1 {
		t.Fatalf("%d keys kept, want only the newest", len(l.last))
	}
}

func TestWarn(t *testing.T) {
	clock := time.Unix(1000, 0)
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	l := Log[string]{now: func() time.Time { return clock }}
	for range 3 {
		l.Warn(log, "send", "cannot send reply", "iface", "tap10")
	}
	clock = clock.Add(DefaultInterval)
	l.Warn(log, "send", "cannot send reply", "iface", "tap10")
	want := "level=WARN msg=\"cannot send reply\" iface=tap10\n" +
		"level=WARN msg=\"cannot send reply\" iface=tap10 suppressed=2\n"
	if got := out.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, strings.TrimSpace(want))
	}
}
