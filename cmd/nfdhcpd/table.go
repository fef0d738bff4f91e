package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/metrics"
)

// jsonOutput is --json: -t and the SIGUSR1 binding table print JSON for
// scripts instead of aligned columns. Set once by run, before anything reads it.
var jsonOutput bool

// checkReport is `nfdhcpd -t --json`'s output.
type checkReport struct {
	Config   string     `json:"config"`
	OK       bool       `json:"ok"`
	Summary  string     `json:"summary,omitempty"` // the configuration's, when it is valid
	Bindings []checkRow `json:"bindings"`
	Errors   []string   `json:"errors"`             // every problem, configuration and bindings
	Warnings []string   `json:"warnings,omitempty"` // the configuration's lists that cannot fit (a binding's are in its row)
}

// checkJSON is check for scripts: one JSON document on stdout, whatever the
// outcome, and the same exit status.
func checkJSON(path string, stdout io.Writer, link linkFunc) int {
	rep := checkReport{Config: path, Bindings: []checkRow{}, Errors: []string{}}
	cfg, err := LoadConfig(path)
	datapath := ""
	var fit *fitCheck
	if err == nil {
		datapath, rep.Summary = cfg.General.DataPath, summary(cfg)
		fit = newFitCheck(path, cfg)
		rep.Warnings = fit.config()
	} else {
		rep.Errors = append(rep.Errors, err.Error())
		if p, perr := parseConfigPartial(path); perr == nil {
			datapath = p
		}
	}
	if datapath != "" {
		rows, errs, err := scanBindings(datapath, link, fit)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: [general] datapath: %v", path, err))
		}
		if rows != nil {
			rep.Bindings = rows
		}
		for _, e := range errs {
			rep.Errors = append(rep.Errors, e.Error())
		}
	}
	rep.OK = len(rep.Errors) == 0
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
	if !rep.OK {
		return 1
	}
	return 0
}

// writeBindingTable writes SIGUSR1's binding table: aligned columns, or one
// line of JSON ({"bindings": [...]}, the rows /bindings serves) with --json.
func writeBindingTable(w io.Writer, rows []metrics.BindingRow, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			Bindings []metrics.BindingRow `json:"bindings"`
		}{rows})
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TAP\tSTATE\tIFINDEX\tATTACH\tMAC\tIP\tIPV6 PREFIX\tHOSTNAME\tWHY")
	for _, r := range rows {
		state, why := "active", ""
		switch {
		case r.Active && r.Error != "":
			state, why = "active", "last version rejected, previous in force: "+r.Error
		case r.Error != "":
			state, why = "rejected", r.Error
		case !r.Active:
			state, why = "waiting", r.Waiting
		}
		ifindex := "-"
		if r.Ifindex != 0 {
			ifindex = strconv.Itoa(r.Ifindex)
		}
		// One row per file, whatever its name or its errors hold: a name
		// is quoted when it is not plain text, and joined errors share
		// the row.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", binding.QuoteName(r.TAP), state, ifindex, dash(r.Attach),
			dash(r.MAC), dash(r.IP), dash(r.Subnet6), dash(r.Hostname), dash(strings.ReplaceAll(why, "\n", "; ")))
	}
	return tw.Flush()
}

func dash(s string) string { return orDash(s != "", s) }
