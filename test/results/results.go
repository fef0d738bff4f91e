package main

import (
	"bufio"
	"encoding/json"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go tool test2json`.
type event struct {
	Action string
	Test   string
	Output string
}

// Result is one run of the e2e suite, counted by leaf test (a test with no
// subtests of its own).
type Result struct {
	Passed, Failed, Skipped []string
	Unfinished              []string          // started, never ended: the run crashed or timed out
	Output                  map[string]string // each test's own output
	Attach                  string            // "tcx" or "cls_bpf", as TestAttachMethod logged it
	PackageFailed           bool
}

var attachRE = regexp.MustCompile(`attach method: (\S+) \(attach = auto`)

// summarize reads test2json events.
func summarize(r io.Reader) (*Result, error) {
	res := &Result{Output: map[string]string{}}
	final := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // not an event: the binary's own stray output
		}
		if e.Test == "" {
			if e.Action == "fail" {
				res.PackageFailed = true
			}
			if e.Action == "output" {
				res.Output[""] += e.Output
			}
			continue
		}
		switch e.Action {
		case "run":
			if _, ok := final[e.Test]; !ok {
				order = append(order, e.Test)
				final[e.Test] = ""
			}
		case "output":
			res.Output[e.Test] += e.Output
			if m := attachRE.FindStringSubmatch(e.Output); m != nil && res.Attach == "" {
				res.Attach = m[1]
			}
		case "pass", "fail", "skip":
			final[e.Test] = e.Action
		}
	}
	for _, t := range order {
		if hasSubtests(t, order) {
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

func hasSubtests(t string, all []string) bool {
	for _, o := range all {
		if strings.HasPrefix(o, t+"/") {
			return true
		}
	}
	return false
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
	parts := strings.Split(test, "/")
	for i := range parts {
		b.WriteString(r.Output[strings.Join(parts[:i+1], "/")])
	}
	return b.String()
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

var missingToolRE = regexp.MustCompile(`^lab: (\S+) is not installed$`)

// missingTool reports whether a skip's reason is lab.RequireTools finding
// a program missing, and which.
func missingTool(reason string) (string, bool) {
	m := missingToolRE.FindStringSubmatch(reason)
	if m == nil {
		return "", false
	}
	return m[1], true
}
