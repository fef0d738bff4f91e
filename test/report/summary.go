package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
	"github.com/nfdhcpd/nfdhcpd/test/results"
)

// stage is one saved run of go test -json: make unit, e2e or guest.
type stage struct {
	name string // the file's name without .json
	res  *results.Result
}

func summarizeFiles(w io.Writer, files []string) error {
	var stages []stage
	var missing []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		in, err := os.Open(f)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		res, err := results.Summarize(in)
		in.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		stages = append(stages, stage{name: name, res: res})
	}
	lines, problems := summary(stages, missing)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// summary is the end of make test: a line per skipped or failed test, then
// one line with the counts and why tests skipped (by reason, with how many
// each). problems are why make test fails: a failed test or package, a
// stage that did not run or ran nothing, a skip make test does not accept.
func summary(stages []stage, missing []string) (lines, problems []string) {
	var passed, failed, skipped int
	reasons := map[string]int{}
	var perStage []string
	for _, s := range missing {
		problems = append(problems, "make "+s+" did not run")
	}
	for _, s := range stages {
		r := s.res
		for _, t := range results.Sorted(r.Skipped) {
			reason := r.Reason(t)
			reasons[reason]++
			if lab.SkipForbidden(reason) {
				lines = append(lines, fmt.Sprintf("skipped  %s: %s  <- not accepted: make test must run it", short(t), reason))
				problems = append(problems, short(t)+" skipped: "+reason)
			} else {
				lines = append(lines, fmt.Sprintf("skipped  %s: %s", short(t), reason))
			}
		}
		bad := append(results.Sorted(r.Failed), results.Sorted(r.Unfinished)...)
		for _, t := range bad {
			lines = append(lines, "FAILED   "+short(t))
			problems = append(problems, short(t)+" failed")
		}
		for _, p := range r.PackageFailed {
			if !hasTestIn(bad, p) {
				lines = append(lines, "FAILED   "+short(p)+" (outside any test: a build, a panic, a timeout)")
				problems = append(problems, short(p)+" failed")
			}
		}
		if len(r.Passed) == 0 {
			problems = append(problems, "make "+s.name+" passed no test")
		}
		passed += len(r.Passed)
		failed += len(bad)
		skipped += len(r.Skipped)
		perStage = append(perStage, fmt.Sprintf("%s %d/%d/%d in %s", s.name, len(r.Passed), len(bad), len(r.Skipped),
			r.End.Sub(r.Start).Round(time.Second)))
	}
	last := fmt.Sprintf("make test: %d passed, %d failed, %d skipped", passed, failed, skipped)
	if skipped > 0 {
		var why []string
		for reason, n := range reasons {
			why = append(why, fmt.Sprintf("%d× %s", n, reason))
		}
		sort.Strings(why)
		last += " (" + strings.Join(why, "; ") + ")"
	}
	if len(perStage) > 0 {
		last += " [passed/failed/skipped: " + strings.Join(perStage, ", ") + "]"
	}
	return append(lines, last), problems
}

// hasTestIn reports whether one of the test IDs belongs to package pkg.
func hasTestIn(ids []string, pkg string) bool {
	for _, id := range ids {
		if strings.HasPrefix(id, pkg+" ") {
			return true
		}
	}
	return false
}
