package main

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
	r, err := summarize(strings.NewReader(sampleRun))
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
	if r.Attach != "cls_bpf" {
		t.Errorf("attach %q, want cls_bpf", r.Attach)
	}
	if !r.PackageFailed {
		t.Error("the package's failure was not seen")
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

func TestMissingTool(t *testing.T) {
	for reason, want := range map[string]string{
		"lab: setpriv is not installed":                               "setpriv",
		"lab: needs root (network namespaces, NFQUEUE)":               "",
		"TCX needs Linux 6.6 or later; this kernel is 6.1.0-50-amd64": "",
	} {
		got, ok := missingTool(reason)
		if got != want || ok != (want != "") {
			t.Errorf("missingTool(%q) = %q, %v; want %q", reason, got, ok, want)
		}
	}
}
