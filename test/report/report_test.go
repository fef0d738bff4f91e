package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/test/results"
)

// go test -json over three packages: one passes (with a skip), one fails a
// subtest, one does not build.
const sample = `{"Time":"2026-11-28T10:00:00Z","Action":"start","Package":"github.com/nfdhcpd/nfdhcpd/a"}
{"Time":"2026-11-28T10:00:00Z","Action":"run","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestOK"}
{"Time":"2026-11-28T10:00:00Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Time":"2026-11-28T10:00:00Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Time":"2026-11-28T10:00:00Z","Action":"pass","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestOK"}
{"Time":"2026-11-28T10:00:00Z","Action":"run","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestCPUs"}
{"Time":"2026-11-28T10:00:00Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestCPUs","Output":"    a_test.go:20: needs 2 CPUs to reach both queues\n"}
{"Time":"2026-11-28T10:00:00Z","Action":"skip","Package":"github.com/nfdhcpd/nfdhcpd/a","Test":"TestCPUs"}
{"Time":"2026-11-28T10:00:01Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/a","Output":"ok  \tgithub.com/nfdhcpd/nfdhcpd/a\t0.01s\n"}
{"Time":"2026-11-28T10:00:01Z","Action":"pass","Package":"github.com/nfdhcpd/nfdhcpd/a"}
{"Time":"2026-11-28T10:00:01Z","Action":"run","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc"}
{"Time":"2026-11-28T10:00:01Z","Action":"run","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc/tc"}
{"Time":"2026-11-28T10:00:01Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc/tc","Output":"    b_test.go:9: udhcpc: no lease\n"}
{"Time":"2026-11-28T10:00:01Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc/tc","Output":"--- FAIL: TestUdhcpc/tc (1.00s)\n"}
{"Time":"2026-11-28T10:00:01Z","Action":"fail","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc/tc"}
{"Time":"2026-11-28T10:00:01Z","Action":"fail","Package":"github.com/nfdhcpd/nfdhcpd/b","Test":"TestUdhcpc"}
{"Time":"2026-11-28T10:00:02Z","Action":"output","Package":"github.com/nfdhcpd/nfdhcpd/b","Output":"FAIL\tgithub.com/nfdhcpd/nfdhcpd/b\t1.01s\n"}
{"Time":"2026-11-28T10:00:02Z","Action":"fail","Package":"github.com/nfdhcpd/nfdhcpd/b"}
{"ImportPath":"github.com/nfdhcpd/nfdhcpd/c [github.com/nfdhcpd/nfdhcpd/c.test]","Action":"build-output","Output":"c/c_test.go:3:1: syntax error\n"}
{"ImportPath":"github.com/nfdhcpd/nfdhcpd/c [github.com/nfdhcpd/nfdhcpd/c.test]","Action":"build-fail"}
{"Time":"2026-11-28T10:00:03Z","Action":"fail","Package":"github.com/nfdhcpd/nfdhcpd/c"}
go: a line that is not an event
`

func TestFilter(t *testing.T) {
	for _, c := range []struct {
		verbose bool
		want    string
	}{
		{false, "ok  \tgithub.com/nfdhcpd/nfdhcpd/a\t0.01s\n" +
			"    b_test.go:9: udhcpc: no lease\n--- FAIL: TestUdhcpc/tc (1.00s)\n" +
			"FAIL\tgithub.com/nfdhcpd/nfdhcpd/b\t1.01s\n" +
			"c/c_test.go:3:1: syntax error\n" +
			"go: a line that is not an event\n"},
		{true, "=== RUN   TestOK\n--- PASS: TestOK (0.00s)\n    a_test.go:20: needs 2 CPUs to reach both queues\n" +
			"ok  \tgithub.com/nfdhcpd/nfdhcpd/a\t0.01s\n" +
			"    b_test.go:9: udhcpc: no lease\n--- FAIL: TestUdhcpc/tc (1.00s)\n" +
			"FAIL\tgithub.com/nfdhcpd/nfdhcpd/b\t1.01s\n" +
			"c/c_test.go:3:1: syntax error\n" +
			"go: a line that is not an event\n"},
	} {
		var saved, out strings.Builder
		err := filter(strings.NewReader(sample), &saved, &out, c.verbose)
		if err == nil || err.Error() != "FAIL in b, c (above)" {
			t.Errorf("verbose %v: err %v, want FAIL in b, c", c.verbose, err)
		}
		if saved.String() != sample {
			t.Errorf("verbose %v: saved a different stream:\n%s", c.verbose, saved.String())
		}
		if out.String() != c.want {
			t.Errorf("verbose %v: printed\n%q\nwant\n%q", c.verbose, out.String(), c.want)
		}
	}
	var out strings.Builder
	if err := filter(strings.NewReader(strings.SplitAfter(sample, "\n")[0]), &out, &out, false); err != nil {
		t.Errorf("a passing run: %v", err)
	}
}

func TestSummary(t *testing.T) {
	res, err := results.Summarize(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := results.Summarize(strings.NewReader(strings.Join(strings.SplitAfter(sample, "\n")[:10], "")))
	if err != nil {
		t.Fatal(err)
	}
	root := &results.Result{Passed: []string{"m/x TestA"}, Skipped: []string{"m/x TestLab"},
		Output: map[string]string{"m/x TestLab": "    lab.go:34: lab: needs root (network namespaces, NFQUEUE)\n"}}
	for _, c := range []struct {
		name            string
		stages          []stage
		missing         []string
		lines, problems []string
	}{
		{"all good", []stage{{"unit", ok}}, nil, []string{
			"skipped  a TestCPUs: needs 2 CPUs to reach both queues",
			"make test: 1 passed, 0 failed, 1 skipped (1× needs 2 CPUs to reach both queues) [passed/failed/skipped: unit 1/0/1 in 1s]",
		}, nil},
		{"failures", []stage{{"unit", res}}, []string{"guest"}, []string{
			"skipped  a TestCPUs: needs 2 CPUs to reach both queues",
			"FAILED   b TestUdhcpc/tc",
			"FAILED   c (outside any test: a build, a panic, a timeout)",
			"make test: 1 passed, 1 failed, 1 skipped (1× needs 2 CPUs to reach both queues) [passed/failed/skipped: unit 1/1/1 in 3s]",
		}, []string{"make guest did not run", "b TestUdhcpc/tc failed", "c failed"}},
		{"a skip not accepted", []stage{{"e2e", root}}, nil, []string{
			"skipped  m/x TestLab: lab: needs root (network namespaces, NFQUEUE)  <- not accepted: make test must run it",
			"make test: 1 passed, 0 failed, 1 skipped (1× lab: needs root (network namespaces, NFQUEUE)) [passed/failed/skipped: e2e 1/0/1 in 0s]",
		}, []string{"m/x TestLab skipped: lab: needs root (network namespaces, NFQUEUE)"}},
	} {
		lines, problems := summary(c.stages, c.missing)
		if !reflect.DeepEqual(lines, c.lines) {
			t.Errorf("%s: lines\n%s\nwant\n%s", c.name, strings.Join(lines, "\n"), strings.Join(c.lines, "\n"))
		}
		if !reflect.DeepEqual(problems, c.problems) {
			t.Errorf("%s: problems %q, want %q", c.name, problems, c.problems)
		}
	}
}
