package lab

import (
	"os/exec"
	"reflect"
	"testing"
)

func TestMissing(t *testing.T) {
	Packages["nfdhcpd-test-absent"] = "nfdhcpd-test-pkg"
	defer delete(Packages, "nfdhcpd-test-absent")
	programs, packages := Missing("sh", "nfdhcpd-test-absent", "nfdhcpd-test-unlisted")
	if want := []string{"nfdhcpd-test-absent", "nfdhcpd-test-unlisted"}; !reflect.DeepEqual(programs, want) {
		t.Errorf("programs %v, want %v", programs, want)
	}
	if want := []string{"nfdhcpd-test-pkg"}; !reflect.DeepEqual(packages, want) {
		t.Errorf("packages %v, want %v", packages, want)
	}
}

func TestNotInstalledRoundTrip(t *testing.T) {
	msg := notInstalled("dhcpcd")
	if want := "lab: dhcpcd is not installed (Debian package dhcpcd-base; `make test-deps` installs every test's programs)"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	if p, ok := MissingProgram("    dhcp4_test.go:80: " + msg + "\n"); !ok || p != "dhcpcd" {
		t.Errorf("MissingProgram = %q, %v", p, ok)
	}
	if !SkipForbidden(msg) {
		t.Errorf("SkipForbidden(%q) = false", msg)
	}
}

func TestSkipForbidden(t *testing.T) {
	for reason, want := range map[string]bool{
		NeedsRoot:                            true,
		"needs root: dpkg --root and chroot": true,
		"scdoc is not installed (.ci/run installs it)":                true,
		"lab: setpriv is not installed":                               true,
		"needs 2 CPUs to reach both queues":                           false,
		"TCX needs Linux 6.6 or later; this kernel is 6.1.0-50-amd64": false,
		"tc steering is not among the selected modes":                 false,
		"soak: run by `make soak` (NFDHCPD_SOAK=1)":                   false,
	} {
		if got := SkipForbidden(reason); got != want {
			t.Errorf("SkipForbidden(%q) = %v, want %v", reason, got, want)
		}
	}
}

func TestStatic(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{{"sh", false}, {"busybox", true}} {
		p, err := exec.LookPath(c.name)
		if err != nil {
			t.Fatalf("%s: %v (make test-deps installs it)", c.name, err)
		}
		if got := static(p); got != c.want {
			t.Errorf("static(%s) = %v, want %v", p, got, c.want)
		}
	}
}
