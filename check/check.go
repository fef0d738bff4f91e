// Package check is `nfdhcpd -t`: the configuration and every binding file
// in its datapath checked as the daemon would load them, one row per
// binding, every error (file, line, key, why) and every warning, as aligned
// columns or one JSON report.
package check

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// Options are -t's.
type Options struct {
	JSON bool // one JSON report instead of columns
	// Strict makes every warning an error (--strict), for CI: a file
	// the daemon would serve, but only as the original forgave it, fails.
	Strict bool
	// Link looks a link up by name; nil looks at the host's, as the
	// daemon's binding store sees them.
	Link func(name string) (binding.Link, bool)
}

// Run checks the configuration at path and every binding file in its
// datapath, prints the report and returns the exit status: 0 when nothing
// is wrong (warnings allowed, unless o.Strict), else 1.
func Run(path string, stdout, stderr io.Writer, o Options) int {
	if o.Link == nil {
		o.Link = hostLink
	}
	if o.JSON {
		return runJSON(path, stdout, o.Link, o.Strict)
	}
	return runText(path, stdout, stderr, o.Link, o.Strict)
}

// runText prints the configuration's summary, a line per binding, then the
// warnings and errors on stderr; strict lists the warnings as errors.
func runText(path string, stdout, stderr io.Writer, link linkFunc, strict bool) int {
	var errs []error
	cfg, err := config.Load(path)
	datapath := ""
	var fit *fitCheck
	switch {
	case err == nil:
		datapath = cfg.General.DataPath
		fit = newFitCheck(path, cfg)
		fmt.Fprintf(stdout, "%s: ok: %s\n", path, cfg.Summary())
	default:
		errs = append(errs, err)
		// Still check the bindings when the configuration names their
		// directory, so one run shows every problem.
		if p, perr := config.DataPath(path); perr == nil {
			datapath = p
		}
	}
	var warns []string
	if datapath != "" {
		var berrs []error
		berrs, warns = checkBindings(path, datapath, stdout, link, fit)
		errs = append(errs, berrs...)
	}
	warns = append(fit.config(), warns...)
	if strict {
		for _, w := range warns {
			errs = append(errs, errors.New(w))
		}
		warns = nil
	}
	if len(warns) > 0 {
		fmt.Fprintln(stderr, "warnings:")
		for _, w := range warns {
			fmt.Fprintln(stderr, w)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(stderr, "errors:")
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	return 0
}

// linkFunc looks a link up by name: the host's (hostLink), or a test's.
type linkFunc func(name string) (binding.Link, bool)

// hostLink is the link of this name as the daemon's store would see it.
func hostLink(name string) (binding.Link, bool) {
	l, err := binding.Netlink{}.LinkByName(name)
	return l, err == nil
}

// checkBindings prints one aligned line per binding file in dir and returns
// the problems found and the warnings.
func checkBindings(cfgPath, dir string, out io.Writer, link linkFunc, fit *fitCheck) ([]error, []string) {
	rows, errs, err := scanBindings(dir, link, fit)
	if err != nil {
		return []error{fmt.Errorf("%s: [general] datapath: %w", cfgPath, err)}, nil
	}
	var warns []string
	for _, r := range rows {
		warns = append(warns, r.Warnings...)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	// DELEGATED is shown once a binding delegates a prefix.
	pd := slices.ContainsFunc(rows, func(r Row) bool { return len(r.DelegatedPrefixes6) > 0 })
	head, dash := "TAP\tMAC\tIP\tIPV6 PREFIX\tHOSTNAME\tSTATUS", "-"
	if pd {
		head, dash = "TAP\tMAC\tIP\tIPV6 PREFIX\tDELEGATED\tHOSTNAME\tSTATUS", "-\t-"
	}
	fmt.Fprintln(tw, head)
	bad := 0
	for _, r := range rows {
		if r.Status != "ok" {
			bad++
			fmt.Fprintf(tw, "%s\t-\t-\t%s\t-\t%s\n", binding.QuoteName(r.File), dash, r.Status)
			continue
		}
		status := r.Status
		if r.Waiting != "" {
			status += ", " + r.Waiting + " yet"
		}
		prefix6 := orDash(r.IPv6Prefix != "", r.IPv6Prefix)
		if pd {
			prefix6 += "\t" + orDash(len(r.DelegatedPrefixes6) > 0, strings.Join(r.DelegatedPrefixes6, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.TAP, r.MAC, orDash(r.IP != "", r.IP),
			prefix6, r.Hostname, status)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d binding files: %d ok, %d invalid\n", len(rows), len(rows)-bad, bad)
	return errs, warns
}

// Row is one binding file as -t sees it.
type Row struct {
	File       string `json:"file"`
	TAP        string `json:"tap,omitempty"`
	MAC        string `json:"mac,omitempty"`
	IP         string `json:"ip,omitempty"`
	IPv6Prefix string `json:"ipv6_prefix,omitempty"`
	// DelegatedPrefixes6 is DELEGATED_PREFIX6.
	DelegatedPrefixes6 []string `json:"delegated_prefixes6,omitempty"`
	Hostname           string   `json:"hostname,omitempty"`
	Status             string   `json:"status"`            // ok, invalid, empty, refused (its TAP is not a VM port)
	Waiting            string   `json:"waiting,omitempty"` // a link it names does not exist (yet)
	Error              string   `json:"error,omitempty"`
	// Warnings are what the original daemon forgave in the file (each
	// with its path, line and key), then what its replies can never
	// carry (with its path).
	Warnings []string `json:"warnings,omitempty"`
}

// scanBindings reads every binding file in dir: one row per file, and the
// problems found. fit, when not nil, adds each binding's warnings.
func scanBindings(dir string, link linkFunc, fit *fitCheck) ([]Row, []error, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	var errs []error
	var delegated []delegation
	for _, de := range des {
		if de.IsDir() || binding.Ignored(de.Name()) {
			continue
		}
		b, err := binding.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			status := "invalid"
			if errors.Is(err, binding.ErrEmpty) {
				status = "empty"
			}
			rows = append(rows, Row{File: de.Name(), Status: status, Error: err.Error()})
			errs = append(errs, err)
			continue
		}
		r := Row{File: de.Name(), TAP: b.TAP, MAC: b.MAC.String(), Hostname: b.Hostname, Status: "ok"}
		if b.IP.IsValid() {
			r.IP = b.IP.String()
		}
		if b.Subnet6.IsValid() {
			r.IPv6Prefix = b.Subnet6.String()
		}
		for _, p := range b.DelegatedPrefixes6 {
			r.DelegatedPrefixes6 = append(r.DelegatedPrefixes6, p.String())
		}
		tap, ok := link(b.TAP)
		if ok {
			if err := binding.VMPort(tap); err != nil {
				rows = append(rows, Row{File: de.Name(), Status: "refused", Error: err.Error()})
				errs = append(errs, err)
				continue
			}
		}
		switch {
		case !ok:
			r.Waiting = "no link " + b.TAP
		case !exists(link, b.InDev):
			r.Waiting = "no link " + b.InDev + " (INDEV)"
		}
		for _, w := range b.Warnings {
			r.Warnings = append(r.Warnings, w.String())
		}
		for _, w := range fit.binding(b) {
			r.Warnings = append(r.Warnings, filepath.Join(dir, de.Name())+": "+w)
		}
		rows = append(rows, r)
		delegated = append(delegated, delegation{len(rows) - 1, b.DelegatedPrefixes6})
	}
	warnOverlaps(dir, rows, delegated)
	return rows, errs, nil
}

// delegation is one row's DELEGATED_PREFIX6.
type delegation struct {
	row      int
	prefixes []netip.Prefix
}

// warnOverlaps warns about a delegated prefix that overlaps another
// binding's: each file is valid alone, so both load, but only the first VM
// to take the prefix gets its route. Sorted by address, a prefix follows
// every prefix that holds it, so one sweep finds each overlap.
func warnOverlaps(dir string, rows []Row, ds []delegation) {
	type owned struct {
		p   netip.Prefix
		row int
	}
	var all []owned
	for _, d := range ds {
		for _, p := range d.prefixes {
			all = append(all, owned{p, d.row})
		}
	}
	slices.SortFunc(all, func(a, b owned) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return a.p.Bits() - b.p.Bits()
	})
	var open []owned // prefixes holding the one at hand, shortest first
	for _, o := range all {
		for len(open) > 0 && !open[len(open)-1].p.Overlaps(o.p) {
			open = open[:len(open)-1]
		}
		if len(open) > 0 {
			h := open[len(open)-1]
			rows[o.row].Warnings = append(rows[o.row].Warnings, fmt.Sprintf(
				"%s: DELEGATED_PREFIX6: %s overlaps %s of %s: only the first VM to take it is routed",
				filepath.Join(dir, rows[o.row].File), o.p, h.p, rows[h.row].TAP))
		}
		open = append(open, o)
	}
}

func exists(link linkFunc, name string) bool {
	_, ok := link(name)
	return ok
}

// fitCheck warns about DNS lists and options that no reply can carry
// whole (responder's Unfit): the configuration's own, and a binding's
// when they differ from the configuration's. A nil fitCheck (the
// configuration did not load) warns about nothing.
type fitCheck struct {
	path     string
	settings *responder.Settings
	r        *responder.Responder
	own      []string // the configuration's warnings, without its path
}

func newFitCheck(path string, cfg *config.Config) *fitCheck {
	s := cfg.Responder()
	f := &fitCheck{path: path, settings: s, r: responder.New(*s)}
	// A VM that overrides nothing; its addresses do not change any size.
	f.own = f.binding(&binding.Binding{IP: netip.MustParseAddr("192.0.2.2"), Subnet: netip.MustParsePrefix("192.0.2.0/24"),
		Subnet6: netip.MustParsePrefix("2001:db8::/64")})
	return f
}

func (f *fitCheck) config() []string {
	if f == nil {
		return nil
	}
	var out []string
	for _, w := range f.own {
		out = append(out, f.path+": "+w)
	}
	return out
}

func (f *fitCheck) binding(b *binding.Binding) []string {
	if f == nil {
		return nil
	}
	ws := f.r.Unfit(nfq.NewLease(&binding.Entry{Binding: b}, f.settings))
	if slices.Equal(ws, f.own) {
		return nil // said once, of the configuration
	}
	return ws
}

func orDash(ok bool, s string) string {
	if !ok {
		return "-"
	}
	return s
}
