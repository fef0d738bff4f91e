package vmimage

import (
	"fmt"
	"strings"
)

// Kernels are the Debian kernels the guests boot: the generic -amd64
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
	Series string // prefix of the release the guest must report
}

// Mirror is where kernel packages come from.
const Mirror = "http://deb.debian.org/debian"

// Keyring verifies the suites' Release files.
const Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Pick returns the Kernels named (by name or suite) in a comma-separated
// list; an empty list is all of them.
func Pick(names string) ([]Kernel, error) {
	if names == "" {
		return Kernels, nil
	}
	var ks []Kernel
	for _, n := range strings.Split(names, ",") {
		found := false
		for _, k := range Kernels {
			if k.Name == n || k.Suite == n {
				ks, found = append(ks, k), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no kernel %q in Kernels", n)
		}
	}
	return ks, nil
}
