package check

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/nfdhcpd/nfdhcpd/config"
)

// Report is `nfdhcpd -t --json`'s output.
type Report struct {
	Config   string   `json:"config"`
	OK       bool     `json:"ok"`
	Summary  string   `json:"summary,omitempty"` // the configuration's, when it is valid
	Bindings []Row    `json:"bindings"`
	Errors   []string `json:"errors"`             // every problem, configuration and bindings; with --strict every warning too
	Warnings []string `json:"warnings,omitempty"` // the configuration's lists that cannot fit (a binding's are in its row)
}

// runJSON is runText for scripts: one JSON document on stdout, whatever the
// outcome, and the same exit status. strict adds every warning to Errors.
func runJSON(path string, stdout io.Writer, link linkFunc, strict bool) int {
	rep := Report{Config: path, Bindings: []Row{}, Errors: []string{}}
	cfg, err := config.Load(path)
	datapath := ""
	var fit *fitCheck
	if err == nil {
		datapath, rep.Summary = cfg.General.DataPath, cfg.Summary()
		fit = newFitCheck(path, cfg)
		rep.Warnings = fit.config()
	} else {
		rep.Errors = append(rep.Errors, err.Error())
		if p, perr := config.DataPath(path); perr == nil {
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
	if strict {
		rep.Errors = append(rep.Errors, rep.Warnings...)
		for _, r := range rep.Bindings {
			rep.Errors = append(rep.Errors, r.Warnings...)
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
