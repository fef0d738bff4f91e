package main

// Kernels are the Debian kernels `make vmtest` boots: the generic -amd64
// flavour of each suite's current kernel (linux-image-amd64). To add one,
// add a line here; its suite must be signed by a key in the host's
// debian-archive-keyring. Series is what `uname -r` must start with, so a
// suite whose kernel moves on (a new ABI, a point release) is still
// checked to be the series it stands for.
var Kernels = []Kernel{
	{Name: "5.10", Suite: "bullseye", Series: "5.10."},
	{Name: "6.1", Suite: "bookworm", Series: "6.1."},
	{Name: "6.12", Suite: "trixie", Series: "6.12."},
}

// Kernel is one kernel to boot.
type Kernel struct {
	Name   string // short name: job names, -kernels
	Suite  string // Debian suite whose linux-image-amd64 is fetched
	Series string // prefix of the release the VM must report
}

// Mirror is where kernel packages come from.
const Mirror = "http://deb.debian.org/debian"

// Keyring verifies the suites' Release files.
const Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Excluded are e2e tests that make vmtest does not run, each with why:
// printed on every run, never counted as passed. Pattern is go test's
// -skip syntax.
var Excluded = []struct{ Pattern, Why string }{
	{"TestFaultKill9UnderLoad/iptables", "iptables steering has no per-TAP limit: under emulation the flooding VM's " +
		"DISCOVERs, each answered and logged, starve the other VMs for over 20 s after the restart " +
		"(tc steering's in-kernel limit passes; on the host's CPU both pass)"},
}
