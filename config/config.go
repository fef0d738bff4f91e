// Package config reads nfdhcpd's configuration file: the original daemon's
// INI format ([general], [dhcp], [ipv6]), every value typed as it is read
// and every rule between keys checked before anything is used, each problem
// named by file, line, section and key.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// DefaultPath is where nfdhcpd looks for its configuration.
const DefaultPath = "/etc/nfdhcpd/nfdhcpd.conf"

// Config is the parsed and validated configuration file.
type Config struct {
	Path    string
	General General
	DHCP    DHCP
	IPv6    IPv6
	// Queues holds every kind's NFQUEUE number as written (dhcp_queue,
	// rs_queue, ns_queue, dhcpv6_queue) and queue_balance; Steered says
	// which of them are read.
	Queues loader.Queues
}

// General holds the [general] section.
type General struct {
	PIDFile  string
	DataPath string // the binding files' directory
	LogDir   string // "" logs to stderr only
	User     string // "" stays root

	Steering      Steering
	BPFPinPath    string
	Mark          uint32 // base value of our skb mark bits, within MarkMask
	MarkMask      uint32 // the skb mark bits nfdhcpd owns; the lowest three hold the kind
	Attach        loader.AttachMode
	MetricsListen string           // host:port for metrics; "" is off
	RateLimit     loader.RateLimit // per-TAP token bucket in the classifier (tc steering)
	// KernelAnswers lets the classifier answer RS and NS itself (tc
	// steering), from templates the daemon writes.
	KernelAnswers bool
}

// DHCP holds the [dhcp] section.
type DHCP struct {
	Enable        bool
	LeaseLifetime time.Duration
	LeaseRenewal  time.Duration
	ServerIP      netip.Addr // invalid when unset (then server_on_link must be yes)
	ServerOnLink  bool
	Nameservers   []netip.Addr
	Domain        string
	Options       []binding.DHCPOption
	NextServer    netip.Addr // BOOTP siaddr and option 66; invalid when unset
	BootFile      string     // BOOTP file and option 67
}

// IPv6 holds the [ipv6] section.
type IPv6 struct {
	Enable bool
	// Mode is the mode in force; with ModeAuto ("mode = auto", the
	// default) it was chosen from the queues that are set.
	Mode        responder.IPv6Mode
	ModeAuto    bool
	RAPeriod    time.Duration
	Nameservers []netip.Addr
	Domains     []string
	// RouterAddress is the routers' link-local address on every TAP;
	// invalid: each TAP's own, from its MAC (see router.go).
	RouterAddress netip.Addr
	// ServerDUID is the DHCPv6 server's DUID on every TAP; nil: a DUID-LL
	// of each TAP's MAC.
	ServerDUID []byte
	// PDLifetime is the valid and preferred lifetime of delegated
	// prefixes; PDRoutes, whether the daemon routes them to their VMs.
	PDLifetime time.Duration
	PDRoutes   bool
}

// Steering is how packets reach the daemon.
type Steering string

const (
	SteeringAuto     Steering = "auto"     // tc when the kernel allows, else iptables
	SteeringTC       Steering = "tc"       // TC classifier + the daemon's own mark rules
	SteeringIPTables Steering = "iptables" // the administrator's rules from the README
)

// UnmarshalText parses "auto", "tc" or "iptables".
func (s *Steering) UnmarshalText(b []byte) error {
	switch v := Steering(b); v {
	case SteeringAuto, SteeringTC, SteeringIPTables:
		*s = v
		return nil
	}
	return fmt.Errorf("%q is not one of auto, tc, iptables", b)
}

// Defaults: the original daemon's, and its sample file's, where it had them.
func defaults() *Config {
	mark, mask := loader.DefaultMark()
	q := loader.NoQueues()
	// One queue per kind: the original's sample numbers its queues 42-45,
	// which leaves no room for ranges.
	q.Balance = 1
	return &Config{
		General: General{
			PIDFile:    "/var/run/nfdhcpd/nfdhcpd.pid",
			DataPath:   "/var/lib/nfdhcpd",
			LogDir:     "/var/log/nfdhcpd",
			User:       "nobody",
			Steering:   SteeringAuto,
			BPFPinPath: loader.DefaultPinPath,
			Mark:       mark,
			MarkMask:   mask,
			Attach:     loader.AttachAuto,
			RateLimit:  loader.DefaultRateLimit,
			// Answers in the kernel: the one path that beats the host's own NA.
			KernelAnswers: true,
		},
		DHCP: DHCP{
			Enable:        true,
			LeaseLifetime: 604800 * time.Second,
			LeaseRenewal:  3600 * time.Second,
		},
		IPv6: IPv6{
			Enable:     true,
			ModeAuto:   true,
			RAPeriod:   300 * time.Second,
			PDLifetime: 86400 * time.Second,
			PDRoutes:   true,
		},
		Queues: q,
	}
}

// Error is one problem in the configuration file.
type Error struct {
	File    string
	Line    int    // 0 when not tied to a line
	Section string // "" when not tied to a section
	Key     string // "" when not tied to a key
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Section != "" {
		fmt.Fprintf(&b, "[%s]", e.Section)
		if e.Key != "" {
			b.WriteString(" " + e.Key)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates the configuration file at path. It returns
// every problem found, joined, each an *Error.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse parses a configuration read from r; name is used in errors.
func Parse(name string, r io.Reader) (*Config, error) {
	p := newParser(name)
	p.read(r)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.cfg, nil
}

// DataPath returns datapath from a configuration that may have errors
// elsewhere, so that `nfdhcpd -t` can still check the binding files; the
// error is datapath's own, or a file that cannot be read.
func DataPath(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	p := newParser(path)
	p.read(f)
	for _, e := range p.errs {
		var ce *Error
		if errors.As(e, &ce) && (ce.Key == "datapath" || ce.Line == 0 && ce.Section == "") {
			return "", e
		}
	}
	return p.cfg.General.DataPath, nil
}
