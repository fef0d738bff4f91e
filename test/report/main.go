// Command report reads `go test -json` for make's test targets.
//
// As a filter (make unit, make e2e, make guest) it saves the events to a
// file, prints them as go test would (every line with -v, else the package
// lines and the output of failed tests), and exits non-zero when a test or
// a build failed:
//
//	go test -json ./... | go run ./test/report -save build/unit.json [-v] [-log build/unit.log]
//
// With -summary (the end of make test) it reads the saved files and prints
// why each skipped test skipped, then one line: passed, failed, skipped. It
// exits non-zero when a test failed, a stage did not run, or a test skipped
// for a reason make test does not accept (lab.SkipForbidden: a program not
// installed, no root):
//
//	go run ./test/report -summary build/unit.json build/e2e.json build/guest.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	save := flag.String("save", "", "filter: write the events to this file")
	logPath := flag.String("log", "", "filter: also write the printed output to this file")
	verbose := flag.Bool("v", false, "filter: print every test's output, as go test -v")
	summary := flag.Bool("summary", false, "read saved event files (the arguments) and print make test's summary")
	flag.Parse()
	var err error
	if *summary {
		err = summarizeFiles(os.Stdout, flag.Args())
	} else {
		err = filterStdin(*save, *logPath, *verbose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func filterStdin(save, logPath string, verbose bool) error {
	var saved io.Writer = io.Discard
	if save != "" {
		f, err := os.Create(save)
		if err != nil {
			return err
		}
		defer f.Close()
		saved = f
	}
	var out io.Writer = os.Stdout
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out = io.MultiWriter(os.Stdout, f)
	}
	return filter(os.Stdin, saved, out, verbose)
}
