package metrics

import (
	"github.com/nfdhcpd/nfdhcpd/binding"
)

// Bindings is what the exporter reads from the binding store.
type Bindings interface {
	Status() []binding.FileStatus
	ByName(tap string) *binding.Entry
	Entries() []*binding.Entry
}

// BindingRow is one binding file as /bindings and the SIGUSR1 table show it.
// Empty fields are left out of the JSON.
type BindingRow struct {
	TAP      string `json:"tap"`
	File     string `json:"file"`
	Active   bool   `json:"active"`
	Ifindex  int    `json:"ifindex,omitempty"`
	Attach   string `json:"attach,omitempty"` // tcx, cls_bpf; "" in iptables steering or when not attached
	MAC      string `json:"mac,omitempty"`
	IP       string `json:"ip,omitempty"`
	Subnet   string `json:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
	Subnet6  string `json:"subnet6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	EUI64    string `json:"eui64,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Waiting  string `json:"waiting,omitempty"` // why a good binding is not active
	Error    string `json:"error,omitempty"`   // why the file's last version was rejected
	// Warnings are what the version in force holds that the original
	// daemon forgave (file, line, key, why).
	Warnings []string `json:"warnings,omitempty"`
}

// Rows lists every binding file seen, sorted by TAP. method, when not nil,
// tells how the classifier is attached to an ifindex.
func Rows(b Bindings, method func(ifindex int) string) []BindingRow {
	st := b.Status()
	rows := make([]BindingRow, 0, len(st))
	for _, f := range st {
		r := BindingRow{TAP: f.TAP, File: f.Path, Active: f.Active, Waiting: f.Waiting}
		if f.Err != nil {
			r.Error = f.Err.Error()
		}
		if bd := f.Binding; bd != nil {
			r.MAC, r.Hostname = bd.MAC.String(), bd.Hostname
			for _, w := range bd.Warnings {
				r.Warnings = append(r.Warnings, w.String())
			}
			r.IP, r.Gateway, r.Gateway6, r.EUI64 = addr(bd.IP), addr(bd.Gateway), addr(bd.Gateway6), addr(bd.EUI64)
			if bd.Subnet.IsValid() {
				r.Subnet = bd.Subnet.String()
			}
			if bd.Subnet6.IsValid() {
				r.Subnet6 = bd.Subnet6.String()
			}
		}
		if e := b.ByName(f.TAP); e != nil {
			r.Ifindex = e.TAP.Index
			if method != nil {
				r.Attach = method(e.TAP.Index)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func addr(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
