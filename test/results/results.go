// Package results reads the events of `go test -json` (or of a test binary
// through `go tool test2json`) and counts them by leaf test: what `make
// test` and `make vmtest` print at their end.
package results

import (
	"bufio"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"
)

// Event is one line of `go test -json`.
type Event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Output  string
}

// Result is one or more runs of test binaries, counted by leaf test (a
// test with no subtests of its own). Tests are named by ID.
type Result struct {
	Passed, Failed, Skipped []string
	Unfinished              []string          // started, never ended: the run crashed or timed out
	Output                  map[string]string // each test's own output; a package's under its own ID
	// PackageFailed lists the packages ("" for a lone binary's run) that
	// reported a failure: a failing test, a panic outside any test, a
	// build that failed.
	PackageFailed []string
	// Start and End are the first and last events' times (go test -json
	// has them; a lone binary's test2json -t stream too).
	Start, End time.Time
}

// ID names a test: the test alone in a lone binary's run, else its
// package, a blank and the test; a package's own output has the package's
// name.
func ID(pkg, test string) string {
	switch {
	case pkg == "":
		return test
	case test == "":
		return pkg
	}
	return pkg + " " + test
}

// Summarize reads test2json events; lines that are not events are the
// binary's stray output and are left out.
func Summarize(r io.Reader) (*Result, error) {
	res := &Result{Output: map[string]string{}}
	final := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		if !e.Time.IsZero() {
			if res.Start.IsZero() {
				res.Start = e.Time
			}
			res.End = e.Time
		}
		id := ID(e.Package, e.Test)
		if e.Test == "" {
			if e.Action == "fail" {
				res.PackageFailed = append(res.PackageFailed, e.Package)
			}
			if e.Action == "output" {
				res.Output[id] += e.Output
			}
			continue
		}
		switch e.Action {
		case "run":
			if _, ok := final[id]; !ok {
				order = append(order, id)
				final[id] = ""
			}
		case "output":
			res.Output[id] += e.Output
		case "pass", "fail", "skip":
			final[id] = e.Action
		}
	}
	parent := map[string]bool{}
	for _, t := range order {
		for i := range len(t) {
			if t[i] == '/' {
				parent[t[:i]] = true
			}
		}
	}
	for _, t := range order {
		if parent[t] {
			continue
		}
		switch final[t] {
		case "pass":
			res.Passed = append(res.Passed, t)
		case "fail":
			res.Failed = append(res.Failed, t)
		case "skip":
			res.Skipped = append(res.Skipped, t)
		default:
			res.Unfinished = append(res.Unfinished, t)
		}
	}
	return res, sc.Err()
}

// Reason is the last line a skipped test logged (t.Skip's message),
// without its file:line.
func (r *Result) Reason(test string) string {
	var last string
	for _, l := range strings.Split(r.Output[test], "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		last = l
	}
	if _, msg, ok := strings.Cut(last, ".go:"); ok {
		if _, m, ok := strings.Cut(msg, ": "); ok {
			return m
		}
	}
	return last
}

// FailureLog is the output of a failed test and of its parents.
func (r *Result) FailureLog(test string) string {
	var b strings.Builder
	prefix := ""
	if pkg, t, ok := strings.Cut(test, " "); ok {
		prefix, test = pkg+" ", t
	}
	parts := strings.Split(test, "/")
	for i := range parts {
		b.WriteString(r.Output[prefix+strings.Join(parts[:i+1], "/")])
	}
	return b.String()
}

// Sorted is a sorted copy of s.
func Sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
