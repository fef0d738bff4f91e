package results

import (
	"reflect"
	"strings"
	"testing"
)

// A run as `go tool test2json -t` reports it: a parent with a passed and a
// skipped subtest, a failed test, and a test cut off by the suite's crash.
const sampleRun = `{"Action":"start"}
{"Action":"run","Test":"TestKernelAttach"}
{"Action":"output","Test":"TestKernelAttach","Output":"=== RUN   TestKernelAttach\n"}
{"Action":"run","Test":"TestKernelAttach/steering=tc,attach=auto"}
{"Action":"output","Test":"TestKernelAttach/steering=tc,attach=auto","Output":"    kernel_test.go:76: attach method: cls_bpf (attach = auto, kernel 6.1.0-50-amd64)\n"}
{"Action":"pass","Test":"TestKernelAttach/steering=tc,attach=auto"}
{"Action":"run","Test":"TestKernelAttach/steering=tc,attach=tcx"}
{"Action":"output","Test":"TestKernelAttach/steering=tc,attach=tcx","Output":"    kernel_test.go:55: TCX needs Linux 6.6 or later; this kernel is 6.1.0-50-amd64\n"}
{"Action":"output","Test":"TestKernelAttach/steering=tc,attach=tcx","Output":"--- SKIP: TestKernelAttach/steering=tc,attach=tcx (0.00s)\n"}
{"Action":"skip","Test":"TestKernelAttach/steering=tc,attach=tcx"}
{"Action":"pass","Test":"TestKernelAttach"}
not json: the binary's stray line
{"Action":"run","Test":"TestUdhcpc"}
{"Action":"run","Test":"TestUdhcpc/tc"}
{"Action":"output","Test":"TestUdhcpc/tc","Output":"    dhcp4_test.go:30: udhcpc: no lease\n"}
{"Action":"fail","Test":"TestUdhcpc/tc"}
{"Action":"fail","Test":"TestUdhcpc"}
{"Action":"run","Test":"TestRdisc6"}
{"Action":"output","Output":"panic: test timed out after 14m0s\n"}
{"Action":"fail"}
`

func TestSummarize(t *testing.T) {
	r, err := Summarize(strings.NewReader(sampleRun))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{"passed": r.Passed, "failed": r.Failed, "skipped": r.Skipped, "unfinished": r.Unfinished}
	want := map[string][]string{
		"passed":     {"TestKernelAttach/steering=tc,attach=auto"},
		"failed":     {"TestUdhcpc/tc"},
		"skipped":    {"TestKernelAttach/steering=tc,attach=tcx"},
		"unfinished": {"TestRdisc6"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summarize = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(r.PackageFailed, []string{""}) {
		t.Errorf("failed packages %q, want the lone binary's", r.PackageFailed)
	}
	if got, want := r.Reason("TestKernelAttach/steering=tc,attach=tcx"), "TCX needs Linux 6.6 or later; this kernel is 6.1.0-50-amd64"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if got := r.FailureLog("TestUdhcpc/tc"); got != "    dhcp4_test.go:30: udhcpc: no lease\n" {
		t.Errorf("failure log %q", got)
	}
	if !strings.Contains(r.Output[""], "panic: test timed out") {
		t.Errorf("package output %q lacks the panic", r.Output[""])
	}
}

// go test -json over two packages: the same test name in each, a
// package whose build failed, and one with no test files.
const sampleJSON = `{"Action":"start","Package":"example.com/m/a"}
{"Action":"run","Package":"example.com/m/a","Test":"TestX"}
{"Action":"run","Package":"example.com/m/a","Test":"TestX/one"}
{"Action":"pass","Package":"example.com/m/a","Test":"TestX/one"}
{"Action":"run","Package":"example.com/m/a","Test":"TestX-2"}
{"Action":"pass","Package":"example.com/m/a","Test":"TestX-2"}
{"Action":"pass","Package":"example.com/m/a","Test":"TestX"}
{"Action":"output","Package":"example.com/m/a","Output":"ok  \texample.com/m/a\t0.01s\n"}
{"Action":"pass","Package":"example.com/m/a"}
{"Action":"run","Package":"example.com/m/b","Test":"TestX"}
{"Action":"output","Package":"example.com/m/b","Test":"TestX","Output":"    b_test.go:9: needs 2 CPUs\n"}
{"Action":"skip","Package":"example.com/m/b","Test":"TestX"}
{"Action":"pass","Package":"example.com/m/b"}
{"ImportPath":"example.com/m/c [example.com/m/c.test]","Action":"build-output","Output":"c_test.go:3:1: syntax error\n"}
{"ImportPath":"example.com/m/c [example.com/m/c.test]","Action":"build-fail"}
{"Action":"output","Package":"example.com/m/c","Output":"FAIL\texample.com/m/c [build failed]\n"}
{"Action":"fail","Package":"example.com/m/c"}
{"Action":"skip","Package":"example.com/m/d"}
`

func TestSummarizePackages(t *testing.T) {
	r, err := Summarize(strings.NewReader(sampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{"passed": r.Passed, "failed": r.Failed, "skipped": r.Skipped, "unfinished": r.Unfinished, "packages failed": r.PackageFailed}
	want := map[string][]string{
		"passed":          {"example.com/m/a TestX/one", "example.com/m/a TestX-2"},
		"skipped":         {"example.com/m/b TestX"},
		"packages failed": {"example.com/m/c"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"failed", "unfinished"} {
		if len(got[k]) > 0 {
			t.Errorf("%s = %q, want none", k, got[k])
		}
	}
	if got := r.Reason("example.com/m/b TestX"); got != "needs 2 CPUs" {
		t.Errorf("reason %q", got)
	}
	if got := r.Output["example.com/m/c"]; got != "FAIL\texample.com/m/c [build failed]\n" {
		t.Errorf("package output %q", got)
	}
}
