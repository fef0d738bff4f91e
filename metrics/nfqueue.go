package metrics

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ProcNFQueue is where the kernel lists the NFQUEUE queues bound in the
// reader's network namespace.
const ProcNFQueue = "/proc/net/netfilter/nfnetlink_queue"

// QueueStats is one line of ProcNFQueue.
type QueueStats struct {
	Queue       uint16
	Waiting     uint64 // queue_total: packets queued, not yet given a verdict
	QueueFull   uint64 // queue_dropped: the queue was at its maximum length
	SocketDrops uint64 // user_dropped: the reader's netlink socket buffer was full
}

// ParseNFQueue reads ProcNFQueue's format: per bound queue, "queue_number
// peer_portid queue_total copy_mode copy_range queue_dropped user_dropped
// id_sequence 1".
func ParseNFQueue(r io.Reader) ([]QueueStats, error) {
	var out []QueueStats
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 7 {
			return nil, fmt.Errorf("%s line %d: %d fields, want at least 7", ProcNFQueue, n, len(f))
		}
		var v [7]uint64
		for i, s := range f[:7] {
			x, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s line %d field %d: %q is not a number", ProcNFQueue, n, i+1, s)
			}
			v[i] = x
		}
		if v[0] > 0xffff {
			return nil, fmt.Errorf("%s line %d: queue %d out of range", ProcNFQueue, n, v[0])
		}
		out = append(out, QueueStats{Queue: uint16(v[0]), Waiting: v[2], QueueFull: v[5], SocketDrops: v[6]})
	}
	return out, sc.Err()
}

// NFQueueFile keeps ProcNFQueue open. The kernel makes it readable by root
// only (0440) and checks that at open, so the daemon opens it before it
// drops root and rereads it from the start at each scrape.
type NFQueueFile struct {
	mu sync.Mutex
	f  *os.File
}

// OpenNFQueue opens path (ProcNFQueue, or another file in its format).
func OpenNFQueue(path string) (*NFQueueFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &NFQueueFile{f: f}, nil
}

// Read returns the queues listed now.
func (q *NFQueueFile) Read() ([]QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := q.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", q.f.Name(), err)
	}
	return ParseNFQueue(q.f)
}

// Close closes the file.
func (q *NFQueueFile) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.f.Close()
}
