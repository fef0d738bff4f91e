package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

// WriteTable writes the binding table SIGUSR1 logs: aligned columns, one
// row per binding file, or one line of JSON ({"bindings": [...]}, the rows
// /bindings serves) when asJSON. It calls w.Write once: w is the log's
// writer, and a log line written meanwhile must not split a row.
func WriteTable(w io.Writer, rows []BindingRow, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			Bindings []BindingRow `json:"bindings"`
		}{rows})
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
