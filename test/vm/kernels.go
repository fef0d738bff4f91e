package main

// Excluded are e2e tests that make vmtest does not run, each with why:
// printed on every run, never counted as passed. Pattern is go test's
// -skip syntax.
var Excluded = []struct{ Pattern, Why string }{
	{"TestFaultKill9UnderLoad/iptables", "iptables steering has no per-TAP limit: under emulation the flooding VM's " +
		"DISCOVERs, each answered and logged, starve the other VMs for over 20 s after the restart " +
		"(tc steering's in-kernel limit passes; on the host's CPU both pass)"},
}
