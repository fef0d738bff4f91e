// Command deps checks that the programs the tests run are installed
// (lab.Packages lists them), and with -install installs the Debian packages
// of those that are missing: `make test-deps`, which `make test` and `make
// demo` run first. It exits non-zero, naming every program still missing
// and its package, when it cannot install them.
//
//	go run ./test/deps [-install] [program...]
//
// Without programs it checks every one in lab.Packages.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

func main() {
	install := flag.Bool("install", false, "install the missing programs' packages with apt-get (root)")
	flag.Parse()
	if err := run(*install, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "test-deps:", err)
		os.Exit(1)
	}
}

func run(install bool, programs []string) error {
	if len(programs) == 0 {
		for p := range lab.Packages {
			programs = append(programs, p)
		}
	}
	for _, p := range programs {
		if lab.Packages[p] == "" {
			return fmt.Errorf("%s is not in lab.Packages: add it with its Debian package", p)
		}
	}
	missing, pkgs := lab.Missing(programs...)
	if len(missing) == 0 {
		return nil
	}
	if !install {
		return notInstalled(missing)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%v; installing them needs root: apt-get install %s", notInstalled(missing), strings.Join(pkgs, " "))
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%v, and there is no apt-get to install them", notInstalled(missing))
	}
	fmt.Printf("test-deps: installing %s (for %s)\n", strings.Join(pkgs, " "), strings.Join(missing, ", "))
	if slices.Contains(pkgs, "ferm") {
		// The tests want ferm's compiler only: it must never load a
		// firewall on the machine.
		if err := runIn(strings.NewReader("ferm ferm/enable boolean false\n"), "debconf-set-selections"); err != nil {
			return err
		}
	}
	// Wait for another apt to finish rather than fail, and retry a mirror
	// that does not answer at once.
	apt := []string{"apt-get", "-o", "DPkg::Lock::Timeout=600", "-o", "Acquire::Retries=3", "-q"}
	var err error
	for try := 1; try <= 3; try++ {
		if err = runIn(nil, append(apt, "update")...); err == nil {
			break
		}
		time.Sleep(time.Duration(try*10) * time.Second)
	}
	if err != nil {
		return err
	}
	if err := runIn(nil, append(apt, append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)...); err != nil {
		return err
	}
	if still, _ := lab.Missing(programs...); len(still) > 0 {
		return fmt.Errorf("after apt-get install: %v", notInstalled(still))
	}
	return nil
}

func notInstalled(programs []string) error {
	var l []string
	for _, p := range programs {
		l = append(l, p+" ("+lab.Packages[p]+")")
	}
	return fmt.Errorf("not installed: %s", strings.Join(l, ", "))
}

func runIn(stdin *strings.Reader, args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return nil
}
