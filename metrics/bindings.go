package metrics

import (
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/route"
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
	// DelegatedPrefixes6 is DELEGATED_PREFIX6; Delegations, the prefixes
	// its VM has taken.
	DelegatedPrefixes6 []string     `json:"delegated_prefixes6,omitempty"`
	Delegations        []Delegation `json:"delegations,omitempty"`
}

// Delegation is a delegated prefix a VM has taken.
type Delegation struct {
	Prefix  string `json:"prefix"`
	NextHop string `json:"next_hop"`          // the VM's link-local address, where the prefix is routed
	Expires string `json:"expires,omitempty"` // RFC 3339; absent: an infinite lifetime
	Routed  bool   `json:"routed"`            // its route is in the host's table
}

// Routes is what the exporter reads from the owner of the delegated
// prefixes' routes (route.Owner).
type Routes interface {
	State() []route.State
	Routed() int
	Errors() uint64
}

// Rows lists every binding file seen, sorted by TAP. method, when not nil,
// tells how the classifier is attached to an ifindex; routes, when not
// nil, which delegated prefixes the VMs have taken.
func Rows(b Bindings, method func(ifindex int) string, routes Routes) []BindingRow {
	st := b.Status()
	rows := make([]BindingRow, 0, len(st))
	taken := map[int][]Delegation{}
	if routes != nil {
		for _, s := range routes.State() {
			d := Delegation{Prefix: s.Prefix.String(), NextHop: s.NextHop.String(), Routed: s.Routed}
			if !s.Expires.IsZero() {
				d.Expires = s.Expires.UTC().Format(time.RFC3339)
			}
			taken[s.Ifindex] = append(taken[s.Ifindex], d)
		}
	}
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
			for _, p := range bd.DelegatedPrefixes6 {
				r.DelegatedPrefixes6 = append(r.DelegatedPrefixes6, p.String())
			}
		}
		if e := b.ByName(f.TAP); e != nil {
			r.Ifindex = e.TAP.Index
			if method != nil {
				r.Attach = method(e.TAP.Index)
			}
			r.Delegations = taken[e.TAP.Index]
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
