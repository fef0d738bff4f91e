package main

import (
	"testing"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

func TestRun(t *testing.T) {
	lab.Packages["nfdhcpd-test-absent"] = "nfdhcpd-test-pkg"
	defer delete(lab.Packages, "nfdhcpd-test-absent")
	for _, c := range []struct {
		programs []string
		want     string
	}{
		{[]string{"sysctl"}, ""},
		{[]string{"sysctl", "nfdhcpd-test-absent"}, "not installed: nfdhcpd-test-absent (nfdhcpd-test-pkg)"},
		{[]string{"nfdhcpd-test-unlisted"}, "nfdhcpd-test-unlisted is not in lab.Packages: add it with its Debian package"},
	} {
		err := run(false, c.programs)
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("run(%v) = %q, want %q", c.programs, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("run(%v) = nil, want %q", c.programs, c.want)
		}
	}
}
