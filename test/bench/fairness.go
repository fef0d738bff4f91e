package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// FairTAP is one VM's TAP as the fairness harness drives it: a
// non-blocking file, so that reads take deadlines.
type FairTAP struct {
	VM   VM
	File *os.File
}

// Fairness is one fairness scenario: Clients each complete a full DORA
// (DISCOVER, OFFER, REQUEST, ACK) every Interval, while Flooder (when set)
// writes DISCOVERs open-loop at FloodRate.
type Fairness struct {
	Clients   []FairTAP
	Flooder   *FairTAP
	FloodRate int           // DISCOVERs per second
	Interval  time.Duration // between one client's DORAs
	Timeout   time.Duration // for a whole DORA
	Duration  time.Duration
}

// FairResult is what the clients saw.
type FairResult struct {
	Server     string  `json:"server"`
	Flood      bool    `json:"flood"`
	FloodSent  int64   `json:"flood_sent"`
	FloodRate  float64 `json:"flood_rate"` // achieved, per second
	Attempts   int     `json:"attempts"`
	Served     int     `json:"served"`
	Rate       float64 `json:"success_rate"` // Served / Attempts
	P50ms      float64 `json:"p50_ms"`       // of the served DORAs
	P99ms      float64 `json:"p99_ms"`
	Wrong      int     `json:"wrong"`
	FirstWrong string  `json:"first_wrong,omitempty"`
}

// RunFairness runs one scenario and reports the clients' DORAs.
func RunFairness(f Fairness) (FairResult, error) {
	frames := make([][2][]byte, len(f.Clients))
	for i, c := range f.Clients {
		for j, k := range []Kind{Discover, Request} {
			fr, err := requestFrame(c.VM, k)
			if err != nil {
				return FairResult{}, err
			}
			frames[i][j] = fr
		}
	}
	stop := make(chan struct{})
	var sent atomic.Int64
	var floodErr error
	var floodWG sync.WaitGroup
	if f.Flooder != nil {
		frame, err := requestFrame(f.Flooder.VM, Discover)
		if err != nil {
			return FairResult{}, err
		}
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			floodErr = floodOpenLoop(f.Flooder.File, frame, f.FloodRate, stop, &sent)
		}()
	}

	type outcome struct {
		took  time.Duration
		ok    bool
		wrong string
	}
	results := make([][]outcome, len(f.Clients))
	begin := time.Now()
	var wg sync.WaitGroup
	for i, c := range f.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			// Spread the clients over the interval, as independent VMs are.
			next := begin.Add(f.Interval * time.Duration(i) / time.Duration(len(f.Clients)))
			for n := uint32(0); ; n++ {
				time.Sleep(time.Until(next))
				if time.Since(begin) >= f.Duration {
					return
				}
				next = next.Add(f.Interval)
				xid := uint32(i)<<20 | n<<1
				start := time.Now()
				deadline := start.Add(f.Timeout)
				o := outcome{ok: true}
				for step, k := range []Kind{Discover, Request} {
					fr := frames[i][step]
					setXID(fr, k, xid+uint32(step))
					if _, err := c.File.Write(fr); err != nil {
						o.ok = false
						break
					}
					if w := await(c, k, xid+uint32(step), deadline, buf); w != "" {
						o.ok = false
						if w != "timeout" {
							o.wrong = w
						}
						break
					}
				}
				o.took = time.Since(start)
				results[i] = append(results[i], o)
				if !o.ok && time.Now().After(next) {
					next = time.Now() // a timed-out DORA does not queue up others
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	floodWG.Wait()
	elapsed := time.Since(begin)
	if floodErr != nil {
		return FairResult{}, floodErr
	}

	r := FairResult{Flood: f.Flooder != nil, FloodSent: sent.Load(), FloodRate: float64(sent.Load()) / elapsed.Seconds()}
	var took []time.Duration
	for _, rs := range results {
		for _, o := range rs {
			r.Attempts++
			if o.ok {
				r.Served++
				took = append(took, o.took)
			}
			if o.wrong != "" {
				r.Wrong++
				if r.FirstWrong == "" {
					r.FirstWrong = o.wrong
				}
			}
		}
	}
	if r.Attempts > 0 {
		r.Rate = float64(r.Served) / float64(r.Attempts)
	}
	if len(took) > 0 {
		slices.Sort(took)
		q := func(p float64) float64 {
			return float64(took[min(len(took)-1, int(p*float64(len(took))))]) / 1e6
		}
		r.P50ms, r.P99ms = q(0.50), q(0.99)
	}
	return r, nil
}

// await reads c's TAP until the reply of kind k with xid arrives (""), the
// deadline passes ("timeout"), or a wrong reply comes (why).
func await(c FairTAP, k Kind, xid uint32, deadline time.Time, buf []byte) string {
	c.File.SetReadDeadline(deadline)
	for {
		n, err := c.File.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "timeout"
		}
		if err != nil {
			return err.Error()
		}
		v, got, why := check(buf[:n], c.VM, k)
		if got != xid {
			continue // an earlier, timed-out exchange's late reply
		}
		switch v {
		case Good:
			return ""
		case Wrong:
			return why
		}
	}
}

// floodOpenLoop writes frame at rate per second, in 1 ms slices, whatever
// comes back, until stop. A full TAP (EAGAIN) loses the frame, as a
// flooding VM's would be.
func floodOpenLoop(f *os.File, frame []byte, rate int, stop <-chan struct{}, sent *atomic.Int64) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	begin := time.Now()
	var due int64
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		due = int64(time.Since(begin).Seconds() * float64(rate))
		for sent.Load() < due {
			var werr error
			rc.Write(func(fd uintptr) bool {
				_, werr = writeFD(int(fd), frame)
				return true // never wait for writability: open loop
			})
			if werr != nil && !isAgain(werr) {
				return fmt.Errorf("flood: %w", werr)
			}
			sent.Add(1)
		}
		time.Sleep(time.Millisecond)
	}
}
