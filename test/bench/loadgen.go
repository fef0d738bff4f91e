package bench

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Load is one measurement: every TAP plays requests of Kind, Window of them
// outstanding at a time, for Duration after Warmup.
type Load struct {
	Kind     Kind
	Window   int
	Warmup   time.Duration
	Duration time.Duration
	Timeout  time.Duration // a request unanswered this long is lost, and replaced
	Workers  int           // generator threads, each with its share of the TAPs
	CPUs     []int         // when set, worker i runs on CPUs[i%len(CPUs)] only
	// Usage, when set, reads the CPU time spent so far: Run reads it as
	// the measured window opens and closes, for the CPU per reply.
	Usage func() (Usage, error)
}

// Result is what one Load measured.
type Result struct {
	Server  string  `json:"server"`
	Kind    string  `json:"kind"`
	TAPs    int     `json:"taps"`
	Window  int     `json:"window"`
	Replies uint64  `json:"replies"`
	Rate    float64 `json:"replies_per_s"`
	P50us   float64 `json:"p50_us"`
	P99us   float64 `json:"p99_us"`
	Lost    uint64  `json:"lost"`
	Wrong   uint64  `json:"wrong"`
	Late    uint64  `json:"late"` // answers to requests already counted lost
	Why     string  `json:"first_wrong,omitempty"`
	// CPU per reply over the measured window (Load.Usage): the
	// generator's, whose writes run the kernel's receive path (and the
	// whole answer, when the kernel answers); the server process's; and
	// the classifier's time per run (tc steering), part of the generator's.
	GeneratorCPUus float64 `json:"generator_cpu_us_per_reply,omitempty"`
	ServerCPUus    float64 `json:"server_cpu_us_per_reply,omitempty"`
	ClassifierNs   float64 `json:"classifier_ns_per_run,omitempty"`
}

// TAP is one VM's end of a TAP: a non-blocking descriptor of /dev/net/tun.
type TAP struct {
	VM VM
	FD int
}

const histBuckets = 100_000 // 1 µs each: up to 100 ms

type tapState struct {
	tap     TAP
	frame   []byte
	pending pendingRing
	next    uint32 // next transaction id
}

type workerResult struct {
	hist                       []uint32
	replies, lost, wrong, late uint64
	why                        string
	err                        error
}

// Run plays l on taps and returns what it measured.
func Run(taps []TAP, l Load) (Result, error) {
	if l.Workers < 1 {
		l.Workers = 1
	}
	if l.Workers > len(taps) {
		l.Workers = len(taps)
	}
	epoch := time.Now()
	measureFrom := int64(l.Warmup)
	end := int64(l.Warmup + l.Duration)
	results := make([]workerResult, l.Workers)
	var wg sync.WaitGroup
	for w := 0; w < l.Workers; w++ {
		var mine []*tapState
		for i := w; i < len(taps); i += l.Workers {
			f, err := requestFrame(taps[i].VM, l.Kind)
			if err != nil {
				return Result{}, err
			}
			mine = append(mine, &tapState{tap: taps[i], frame: f, pending: newPendingRing(l.Window), next: 1})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if len(l.CPUs) > 0 {
				var set unix.CPUSet
				set.Set(l.CPUs[w%len(l.CPUs)])
				unix.SchedSetaffinity(0, &set)
			}
			results[w] = work(mine, l, epoch, measureFrom, end)
		}()
	}
	var from, to Usage
	var uerr error
	if l.Usage != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(epoch.Add(l.Warmup)))
			if from, uerr = l.Usage(); uerr == nil {
				time.Sleep(time.Until(epoch.Add(l.Warmup + l.Duration)))
				to, uerr = l.Usage()
			}
		}()
	}
	wg.Wait()
	if uerr != nil {
		return Result{}, fmt.Errorf("CPU usage: %w", uerr)
	}
	total := workerResult{hist: make([]uint32, histBuckets+1)}
	for _, r := range results {
		if r.err != nil {
			return Result{}, r.err
		}
		for i, c := range r.hist {
			total.hist[i] += c
		}
		total.replies += r.replies
		total.lost += r.lost
		total.wrong += r.wrong
		total.late += r.late
		if total.why == "" {
			total.why = r.why
		}
	}
	r := Result{
		Kind: l.Kind.String(), TAPs: len(taps), Window: l.Window,
		Replies: total.replies, Rate: float64(total.replies) / l.Duration.Seconds(),
		P50us: quantile(total.hist, total.replies, 0.50), P99us: quantile(total.hist, total.replies, 0.99),
		Lost: total.lost, Wrong: total.wrong, Late: total.late, Why: total.why,
	}
	if l.Usage != nil {
		r.perReply(from, to)
	}
	return r, nil
}

func quantile(hist []uint32, n uint64, q float64) float64 {
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n-1)) + 1
	var seen uint64
	for i, c := range hist {
		seen += uint64(c)
		if seen >= want {
			return float64(i) + 0.5
		}
	}
	return float64(len(hist))
}

// work is one generator thread: it keeps every TAP's window full, reads
// replies as epoll reports them, and times each against its request.
func work(taps []*tapState, l Load, epoch time.Time, measureFrom, end int64) (res workerResult) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res.hist = make([]uint32, histBuckets+1)
	now := func() int64 { return int64(time.Since(epoch)) }
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		res.err = fmt.Errorf("epoll: %w", err)
		return res
	}
	defer unix.Close(ep)
	for i, t := range taps {
		drain(t.tap.FD)
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, t.tap.FD, &ev); err != nil {
			res.err = fmt.Errorf("epoll add %s: %w", t.tap.VM.TAP, err)
			return res
		}
	}
	send := func(t *tapState) error {
		xid := t.next & 0xffffff
		t.next++
		if xid == 0 {
			xid, t.next = 1, 2
		}
		setXID(t.frame, l.Kind, xid)
		t.pending.Push(xid, now())
		for {
			_, err := unix.Write(t.tap.FD, t.frame)
			if err == unix.EINTR {
				continue
			}
			if err != nil && err != unix.EAGAIN {
				return fmt.Errorf("write to %s: %w", t.tap.VM.TAP, err)
			}
			return nil // EAGAIN: counted lost at timeout, as a dropped frame would be
		}
	}
	for _, t := range taps {
		for t.pending.Len() < l.Window {
			if res.err = send(t); res.err != nil {
				return res
			}
		}
	}
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, 65536)
	timeout := int64(l.Timeout)
	lastSweep := now()
	for now() < end {
		n, err := unix.EpollWait(ep, events, 2)
		if err != nil && !errors.Is(err, unix.EINTR) {
			res.err = fmt.Errorf("epoll wait: %w", err)
			return res
		}
		for _, ev := range events[:max(n, 0)] {
			if res.err = res.readReplies(taps[ev.Fd], l.Kind, buf, now, measureFrom, end, send); res.err != nil {
				return res
			}
		}
		if at := now(); at-lastSweep > int64(time.Millisecond) {
			lastSweep = at
			for _, t := range taps {
				for {
					sent, ok := t.pending.Expire(at - timeout)
					if !ok {
						break
					}
					if sent >= measureFrom {
						res.lost++
					}
					if at < end {
						if res.err = send(t); res.err != nil {
							return res
						}
					}
				}
			}
		}
	}
	settle(ep, taps, events, buf, l.Timeout)
	return res
}

// settle waits, up to timeout, for the answers still on their way, so that
// they do not reach the next measurement as strays.
// readReplies reads every frame waiting on t, matches each reply to its
// request, counts it when both fall in the measured window, and sends the
// next request in its place.
func (res *workerResult) readReplies(t *tapState, k Kind, buf []byte, now func() int64, measureFrom, end int64, send func(*tapState) error) error {
	for {
		m, err := unix.Read(t.tap.FD, buf)
		if err != nil {
			return nil // EAGAIN: all read
		}
		at := now()
		v, xid, why := check(buf[:m], t.tap.VM, k)
		if v == Unrelated {
			continue
		}
		sent, ok := t.pending.Answer(xid, hasXID(k))
		if !ok {
			res.late++
			continue
		}
		if sent >= measureFrom && at < end {
			if v == Wrong {
				res.wrong++
				if res.why == "" {
					res.why = t.tap.VM.TAP + ": " + why
				}
			} else {
				res.replies++
				us := (at - sent) / 1000
				res.hist[min(us, histBuckets)]++
			}
		}
		if at < end {
			if err := send(t); err != nil {
				return err
			}
		}
	}
}

func settle(ep int, taps []*tapState, events []unix.EpollEvent, buf []byte, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, _ := unix.EpollWait(ep, events, 5)
		if n <= 0 {
			return // quiet for 5 ms
		}
		for _, ev := range events[:n] {
			for {
				if _, err := unix.Read(taps[ev.Fd].tap.FD, buf); err != nil {
					break
				}
			}
		}
	}
}

// drain reads and forgets whatever a TAP holds from before.
func drain(fd int) {
	buf := make([]byte, 65536)
	for {
		if _, err := unix.Read(fd, buf); err != nil {
			return
		}
	}
}

// Probe sends k from tap every 20 ms until a good answer comes, and
// returns how long that took: a server is ready, or a binding is served.
func Probe(tap TAP, k Kind, timeout time.Duration) (time.Duration, error) {
	return ProbeEvery(tap, k, 20*time.Millisecond, timeout)
}

// ProbeEvery is Probe sending every interval.
func ProbeEvery(tap TAP, k Kind, interval, timeout time.Duration) (time.Duration, error) {
	f, err := requestFrame(tap.VM, k)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	buf := make([]byte, 65536)
	fds := []unix.PollFd{{Fd: int32(tap.FD), Events: unix.POLLIN}}
	for xid := uint32(0x7000000); time.Since(start) < timeout; xid++ {
		setXID(f, k, xid&0xffffff)
		if _, err := unix.Write(tap.FD, f); err != nil && err != unix.EAGAIN {
			return 0, fmt.Errorf("write to %s: %w", tap.VM.TAP, err)
		}
		for sent := time.Now(); time.Since(sent) < interval; {
			unix.Poll(fds, 1)
			for {
				n, err := unix.Read(tap.FD, buf)
				if err != nil {
					break
				}
				if v, got, why := check(buf[:n], tap.VM, k); v == Wrong {
					return 0, fmt.Errorf("%s: wrong %s answer: %s", tap.VM.TAP, k, why)
				} else if v == Good && (!hasXID(k) || got == xid&0xffffff) {
					return time.Since(start), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s answer within %v", tap.VM.TAP, k, timeout)
}
