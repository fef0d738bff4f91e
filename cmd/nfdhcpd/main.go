// Command nfdhcpd answers the DHCPv4, DHCPv6, Router Solicitation and
// Neighbor Solicitation packets of virtual machines on their TAP interfaces,
// from one binding file per TAP.
package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/nfdhcpd/nfdhcpd/check"
	"github.com/nfdhcpd/nfdhcpd/config"
	"io"
	"os"
	"runtime/debug"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags holds the command line.
type flags struct {
	Config     string
	Foreground bool
	Debug      bool
	Test       bool
	Strict     bool // with Test: warnings are errors
	Version    bool
	JSON       bool
	// StartTimeout bounds a detached start (see detach).
	StartTimeout time.Duration
	// StopTimeout bounds a stop (see serve).
	StopTimeout time.Duration
}

const usageText = `Usage: nfdhcpd [options]

nfdhcpd answers the DHCPv4, DHCPv6, Router Solicitation and Neighbor
Solicitation packets of virtual machines on their TAP interfaces, from one
binding file per TAP in the configuration's datapath.

Options:
  -c, --config FILE  configuration file (default %s)
  -f, --foreground   stay in the foreground and log to stderr instead of logdir
  -d, --debug        log debug messages (every packet, every binding change)
  -t, --test         check the configuration and every binding file in datapath,
                     print one line per binding, and exit: 0 when all are valid
                     (warnings allowed), 1 after printing every error (file,
                     line, key, why)
      --strict       with -t: every warning is an error (exit 1), for CI
      --json         print -t's report, and the binding table SIGUSR1 logs,
                     as JSON for scripts instead of aligned columns
      --start-timeout DURATION
                     without -f: how long to wait for the detached daemon
                     to be ready before stopping it and failing (default %s)
      --stop-timeout DURATION
                     how long a stop (SIGTERM, SIGINT, also during start-up)
                     may take: requests in hand finish and the netfilter
                     rules are removed; what is not done by then is left,
                     and the daemon exits (default %s)
      --version      print the version and exit
  -h, --help         print this help and exit
`

// parseFlags reads the command line. Every option has a short and a long
// name; the standard flag package accepts both with one or two dashes.
func parseFlags(args []string, stdout, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("nfdhcpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, usageText, config.DefaultPath, DefaultStartTimeout, DefaultStopTimeout) }
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.Usage = func() { fmt.Fprintf(stdout, usageText, config.DefaultPath, DefaultStartTimeout, DefaultStopTimeout) } // asked for: not an error
		}
	}
	fs.StringVar(&f.Config, "c", config.DefaultPath, "")
	fs.StringVar(&f.Config, "config", config.DefaultPath, "")
	fs.BoolVar(&f.Foreground, "f", false, "")
	fs.BoolVar(&f.Foreground, "foreground", false, "")
	fs.BoolVar(&f.Debug, "d", false, "")
	fs.BoolVar(&f.Debug, "debug", false, "")
	fs.BoolVar(&f.Test, "t", false, "")
	fs.BoolVar(&f.Test, "test", false, "")
	fs.BoolVar(&f.Strict, "strict", false, "")
	fs.BoolVar(&f.Version, "version", false, "")
	fs.BoolVar(&f.JSON, "json", false, "")
	fs.DurationVar(&f.StartTimeout, "start-timeout", DefaultStartTimeout, "")
	fs.DurationVar(&f.StopTimeout, "stop-timeout", DefaultStopTimeout, "")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.StartTimeout <= 0 {
		fmt.Fprintf(stderr, "nfdhcpd: --start-timeout %v: must be more than 0\n", f.StartTimeout)
		return f, errors.New("bad --start-timeout")
	}
	if f.StopTimeout <= 0 {
		fmt.Fprintf(stderr, "nfdhcpd: --stop-timeout %v: must be more than 0\n", f.StopTimeout)
		return f, errors.New("bad --stop-timeout")
	}
	if f.Strict && !f.Test {
		fmt.Fprintln(stderr, "nfdhcpd: --strict: only with -t")
		return f, errors.New("--strict without -t")
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nfdhcpd: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return f, errors.New("unexpected argument")
	}
	return f, nil
}

// run is main without the exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if opts.Version {
		fmt.Fprintln(stdout, "nfdhcpd", buildVersion())
		return 0
	}
	if opts.Test {
		return check.Run(opts.Config, stdout, stderr, check.Options{JSON: opts.JSON, Strict: opts.Strict})
	}
	cfg, err := config.Load(opts.Config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := runDaemon(cfg, opts); err != nil {
		fmt.Fprintf(stderr, "nfdhcpd: %v\n", err)
		return 1
	}
	return 0
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
