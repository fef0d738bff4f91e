package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nfdhcpd/nfdhcpd/test/results"
)

// event is a line of `go test -json`: results.Event, plus the import path
// that build events carry instead of a package.
type event struct {
	results.Event
	ImportPath string
}

// filter copies the events from in to saved and prints them to out: every
// output line when verbose, else what go test prints without -v (package
// lines, build errors, and a failed test's output). It fails when a test,
// a package or a build failed.
func filter(in io.Reader, saved, out io.Writer, verbose bool) error {
	buffered := map[string]string{} // a test's output, until it ends
	var failed []string             // packages
	fail := func(pkg string) {
		if pkg = short(pkg); !slices.Contains(failed, pkg) {
			failed = append(failed, pkg)
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(saved, "%s\n", line)
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event: go's own message (a missing module, a vet
			// error), printed as it came.
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		id := results.ID(e.Package, e.Test)
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			pkg, _, _ := strings.Cut(e.ImportPath, " ")
			fail(pkg)
		case "output":
			switch {
			case verbose || e.Test == "":
				fmt.Fprint(out, e.Output)
			default:
				buffered[id] += e.Output
			}
		case "fail":
			fail(e.Package)
			fmt.Fprint(out, buffered[id])
			delete(buffered, id)
		case "pass", "skip":
			delete(buffered, id)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("FAIL in %s (above)", strings.Join(failed, ", "))
	}
	return nil
}

// short names a package by its path in the module.
func short(id string) string {
	return strings.TrimPrefix(id, "github.com/nfdhcpd/nfdhcpd/")
}
