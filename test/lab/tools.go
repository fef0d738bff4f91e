package lab

import (
	"debug/elf"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Packages maps every program the project's tests run to the Debian package
// that installs it: the labs' clients and reference server, the rules and
// packaging tools, and what the real-guest tests boot and copy into their
// guests. `make test` installs what is missing from it (test/deps) before
// any test runs; a test never skips for want of one.
var Packages = map[string]string{
	"ip": "iproute2", "tc": "iproute2",
	"iptables": "iptables", "ip6tables": "iptables",
	"iptables-restore": "iptables", "ip6tables-restore": "iptables",
	"iptables-save": "iptables", "ip6tables-save": "iptables",
	"nft":      "nftables",
	"bpftool":  "bpftool",
	"udhcpc":   "udhcpc",
	"dhclient": "isc-dhcp-client",
	"dhcpcd":   "dhcpcd-base",
	"rdisc6":   "ndisc6", "ndisc6": "ndisc6",
	"dnsmasq":  "dnsmasq-base",
	"modprobe": "kmod", "depmod": "kmod", "insmod": "kmod", "lsmod": "kmod",
	"sysctl":  "procps",
	"setpriv": "util-linux", "prlimit": "util-linux",
	"timeout":         "coreutils",
	"ferm":            "ferm",
	"logrotate":       "logrotate",
	"shellcheck":      "shellcheck",
	"scdoc":           "scdoc",
	"groff":           "groff-base",
	"systemd-analyze": "systemd",
	NetworkdPath:      "systemd",
	"dpkg-deb":        "dpkg",
	// The real-guest tests (test/guest): qemu, the guest's static
	// busybox, and what builds its initramfs.
	"qemu-system-x86_64": "qemu-system-x86",
	"busybox":            "busybox-static",
	"cpio":               "cpio",
	"xz":                 "xz-utils",
}

// NetworkdPath is systemd-networkd, which is not in PATH: the real-guest
// tests run it in a guest.
const NetworkdPath = "/lib/systemd/systemd-networkd"

// Missing returns the programs among names that are not installed, with
// the packages that install them, sorted by program. A dynamically linked
// busybox counts as missing: a guest needs the static one.
func Missing(names ...string) (programs, packages []string) {
	pkgs := map[string]bool{}
	sort.Strings(names)
	for _, n := range names {
		if installed(n) {
			continue
		}
		programs = append(programs, n)
		if p := Packages[n]; p != "" && !pkgs[p] {
			pkgs[p] = true
			packages = append(packages, p)
		}
	}
	return programs, packages
}

func installed(name string) bool {
	p, err := exec.LookPath(name)
	if err != nil {
		return false
	}
	if name == "busybox" {
		return static(p)
	}
	return true
}

// RequireTools fails the test, naming the package to install, when one of
// the programs is missing: a test that cannot run its client has tested
// nothing, and must not pass as a skip would let it.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if Packages[n] == "" {
			// make test-deps could not install it on a fresh machine.
			t.Fatalf("lab: %s has no package in lab.Packages: add it", n)
		}
	}
	if programs, _ := Missing(names...); len(programs) > 0 {
		t.Fatal(notInstalled(programs[0]))
	}
}

// notInstalled is the message of a missing program: "lab: X is not
// installed" (SkipForbidden and make vmtest recognise it) and the package.
func notInstalled(program string) string {
	msg := "lab: " + program + " is not installed"
	if p := Packages[program]; p != "" {
		msg += " (Debian package " + p + "; `make test-deps` installs every test's programs)"
	}
	return msg
}

// static reports whether the ELF program at p has no interpreter: the
// guests and make vmtest's VMs copy busybox alone, without libraries.
// Read from the file, as ldd is not in the VMs that run the labs.
func static(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// MissingProgram finds the message of RequireTools in a test's output and
// returns the program it names.
func MissingProgram(output string) (string, bool) {
	m := missingRE.FindStringSubmatch(output)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var missingRE = regexp.MustCompile(`lab: (\S+) is not installed`)

// NeedsRoot is why a lab skips when not run as root.
const NeedsRoot = "lab: needs root (network namespaces, NFQUEUE)"

// SkipForbidden reports whether a test skipped for a reason `make test`
// does not accept: a program not installed (make test installs them
// first), or no root (make test requires it). Skips for what the machine
// or kernel cannot do (one CPU, no TCX before Linux 6.6) or for what a run
// did not ask for (a steering mode left out, make soak's harness) are
// accepted, and listed with their reasons.
func SkipForbidden(reason string) bool {
	return strings.Contains(reason, " is not installed") || strings.Contains(reason, "needs root")
}
