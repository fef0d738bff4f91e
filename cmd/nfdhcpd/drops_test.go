package main

import (
	"bytes"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/metrics"
)

func TestQueueDrops(t *testing.T) {
	ours := map[uint16]string{42: "dhcp", 43: "rs"}
	first := []metrics.QueueStats{{Queue: 42, QueueFull: 5, SocketDrops: 1}, {Queue: 99, QueueFull: 1000}}
	delta, next := queueDrops(nil, first, ours)
	if len(delta) != 0 || !maps.Equal(next, map[uint16]uint64{42: 6}) {
		t.Fatalf("first look: delta %v next %v; want none and 42:6", delta, next)
	}
	second := []metrics.QueueStats{{Queue: 42, QueueFull: 9, SocketDrops: 4}, {Queue: 43, QueueFull: 2}, {Queue: 99, QueueFull: 5000}}
	delta, next = queueDrops(next, second, ours)
	if !maps.Equal(delta, map[uint16]uint64{42: 7, 43: 2}) || !maps.Equal(next, map[uint16]uint64{42: 13, 43: 2}) {
		t.Fatalf("second look: delta %v next %v", delta, next)
	}
	delta, _ = queueDrops(next, second, ours)
	if len(delta) != 0 {
		t.Fatalf("unchanged counters: delta %v", delta)
	}
}

func TestLimitDrops(t *testing.T) {
	delta, next := limitDrops(nil, map[int]loader.TapLimit{3: {Passed: 9, Limited: 100}})
	if len(delta) != 0 || !maps.Equal(next, map[int]uint64{3: 100}) {
		t.Fatalf("first look: delta %v next %v", delta, next)
	}
	// 3 rose by 50; 4 is new; 5 is new but dropped nothing; 6 is gone.
	next[6] = 7
	delta, next = limitDrops(next, map[int]loader.TapLimit{3: {Limited: 150}, 4: {Limited: 20}, 5: {Passed: 3}})
	if !maps.Equal(delta, map[int]uint64{3: 50, 4: 20}) || !maps.Equal(next, map[int]uint64{3: 150, 4: 20, 5: 0}) {
		t.Fatalf("second look: delta %v next %v", delta, next)
	}
	// 3's bucket was re-created (TAP re-made with the same ifindex).
	delta, _ = limitDrops(next, map[int]loader.TapLimit{3: {Limited: 10}, 4: {Limited: 20}})
	if !maps.Equal(delta, map[int]uint64{3: 10}) {
		t.Fatalf("re-created bucket: delta %v", delta)
	}
}

// One line per look, however many packets: never a line per packet.
func TestDropWatchLogsOncePerLook(t *testing.T) {
	var buf bytes.Buffer
	limited := map[int]loader.TapLimit{3: {Limited: 0}, 4: {Limited: 0}}
	queue := []metrics.QueueStats{{Queue: 42}}
	w := &dropWatch{kinds: map[uint16]string{42: "dhcp"}, log: slog.New(slog.NewTextHandler(&buf, nil)),
		queues: func() ([]metrics.QueueStats, error) { return queue, nil },
		limits: func() (map[int]loader.TapLimit, error) { return limited, nil },
		name:   func(i int) string { return map[int]string{3: "tap3", 4: "tap4"}[i] }}
	w.look(false)
	limited = map[int]loader.TapLimit{3: {Limited: 100000}, 4: {Limited: 7}}
	queue = []metrics.QueueStats{{Queue: 42, QueueFull: 5000, SocketDrops: 12}}
	w.look(true)
	w.look(true) // nothing new: nothing logged
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`msg="NFQUEUE dropped packets: queue or socket buffer full" queue=42 kind=dhcp dropped=5012`,
		`msg="rate limit dropped packets in the kernel" taps=2 dropped=100007 most=tap3 most_dropped=100000`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], want)
		}
	}
}
