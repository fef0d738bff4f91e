package nfq

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// NewLease builds the responder's view of one binding: per-binding overrides
// merged over the configuration, so that nothing is merged per packet. The
// store calls it once per binding change (binding.Options.Prepare).
func NewLease(e *binding.Entry, s *responder.Settings) *responder.Lease {
	b := e.Binding
	l := &responder.Lease{
		TAPMAC:       e.TAP.MAC,
		MAC:          b.MAC,
		MACSpoof:     b.MACSpoof,
		IP:           b.IP,
		Subnet:       b.Subnet,
		Gateway:      b.Gateway,
		Private:      b.Private,
		Hostname:     b.Hostname,
		Subnet6:      b.Subnet6,
		Gateway6:     b.Gateway6,
		EUI64:        b.EUI64,
		Delegated:    b.DelegatedPrefixes6,
		Bridged:      e.Bridged,
		MTU:          b.MTU,
		Nameservers:  pick(b.Nameservers, s.Nameservers),
		Nameservers6: pick(b.Nameservers6, s.Nameservers6),
		Domain:       b.Domain,
		DomainSearch: b.DomainSearch,
		Options:      mergeOptions(b.DHCPOptions, s.Options),
		NextServer:   b.NextServer,
		BootFile:     b.BootFile,
	}
	// The original served the configured domain, else the hostname's
	// domain part. A HOSTNAME that is not a DNS name (web_01.example) is
	// still sent as option 12, but no domain is taken from it for the DNS
	// lists (options 119 and 24, DNSSL): the binding's warning says so.
	if l.Domain == "" {
		l.Domain = s.Domain
	}
	if l.Domain == "" && binding.ValidHostname(b.Hostname) {
		l.Domain = hostDomain(b.Hostname)
	}
	// PXE: the binding wins per key.
	if !l.NextServer.IsValid() {
		l.NextServer = s.NextServer
	}
	if l.BootFile == "" {
		l.BootFile = s.BootFile
	}
	if l.DomainSearch == nil {
		l.DomainSearch = s.Domains6
	}
	if l.DomainSearch == nil && l.Domain != "" {
		l.DomainSearch = []string{l.Domain}
	}
	return l
}

// Preparer returns the store's Prepare (binding.Options.Prepare): each
// binding's Lease, and a warning in the log when its DNS lists or options
// can never all fit a reply (responder's Unfit names what is left out).
func Preparer(s *responder.Settings, log *slog.Logger) func(*binding.Entry) any {
	var mu sync.Mutex // one Responder checks every binding
	check := responder.New(*s)
	return func(e *binding.Entry) any {
		l := NewLease(e, s)
		mu.Lock()
		unfit := check.Unfit(l)
		mu.Unlock()
		for _, why := range unfit {
			log.Warn("binding's lists do not fit its replies; the rest is left out", "iface", e.Binding.TAP, "why", why)
		}
		return l
	}
}

// LeaseOf returns the responder's view of e: the Lease the store prepared
// (Preparer), once per change; built now only for a store made without
// Prepare. The one place the packet path and the announcer get a Lease.
func LeaseOf(e *binding.Entry, s *responder.Settings) *responder.Lease {
	if l, ok := e.Prepared.(*responder.Lease); ok {
		return l
	}
	return NewLease(e, s)
}

func pick(override, def []netip.Addr) []netip.Addr {
	if override != nil {
		return override
	}
	return def
}

func hostDomain(hostname string) string {
	if i := strings.IndexByte(hostname, '.'); i >= 0 && i+1 < len(hostname) {
		return hostname[i+1:]
	}
	return ""
}

// mergeOptions returns the binding's options followed by the configuration's
// options whose codes the binding does not set: the binding wins per code.
func mergeOptions(own []binding.DHCPOption, def []responder.Option) []responder.Option {
	if len(own) == 0 {
		return def
	}
	out := make([]responder.Option, 0, len(own)+len(def))
	seen := [256]bool{}
	for _, o := range own {
		out = append(out, responder.Option{Code: o.Code, Data: o.Data})
		seen[o.Code] = true
	}
	for _, o := range def {
		if !seen[o.Code] {
			out = append(out, o)
		}
	}
	return out
}
