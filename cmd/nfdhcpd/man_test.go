package main

import (
	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/internal/manpage"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Every option of the usage text has an entry in nfdhcpd(8).
func TestManFlags(t *testing.T) {
	entries, err := manpage.Entries("../../man/nfdhcpd.8.scd")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^\s+(-[a-z], )?(--[a-z-]+)`).FindAllStringSubmatch(usageText, -1)
	if len(flags) < 6 {
		t.Fatalf("found %d options in the usage text", len(flags))
	}
	for _, f := range flags {
		short := strings.TrimSuffix(f[1], ", ")
		for _, name := range []string{short, f[2]} {
			if name != "" && manpage.Find(entries, "OPTIONS", name) == "" {
				t.Errorf("nfdhcpd(8): option %s is not documented", name)
			}
		}
		e := manpage.Find(entries, "OPTIONS", f[2])
		if f[2] != "--version" && f[2] != "--help" && !strings.Contains(e, "Default") {
			t.Errorf("nfdhcpd(8): %s states no default:\n%s", f[2], e)
		}
	}
	if e := manpage.Find(entries, "OPTIONS", "--config"); !strings.Contains(e, config.DefaultPath) {
		t.Errorf("nfdhcpd(8): --config default is not %s:\n%s", config.DefaultPath, e)
	}
}

// The pages build with scdoc and groff reads them without a warning.
func TestManBuild(t *testing.T) {
	for _, tool := range []string{"scdoc", "groff"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	for _, page := range []string{"nfdhcpd.8", "nfdhcpd.conf.5"} {
		src, err := os.Open("../../man/" + page + ".scd")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("scdoc")
		cmd.Stdin = src
		roff, err := cmd.Output()
		src.Close()
		if err != nil {
			t.Fatalf("scdoc %s: %v", page, err)
		}
		g := exec.Command("groff", "-k", "-man", "-Tutf8", "-ww", "-z")
		g.Stdin = strings.NewReader(string(roff))
		if out, err := g.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, out)
		}
	}
}
