package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

// DefaultConfigPath is where nfdhcpd looks for its configuration.
const DefaultConfigPath = "/etc/nfdhcpd/nfdhcpd.conf"

// Config is the parsed and validated configuration file.
type Config struct {
	Path    string
	General General
	DHCP    DHCP
	IPv6    IPv6
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
	Attach        Attach
	MetricsListen string    // host:port for metrics; "" is off
	RateLimit     RateLimit // per-TAP token bucket in the classifier (tc steering)
	// QueueBalance is how many queues each kind is spread over, from its
	// queue number up, one reader (on its own CPU) per queue.
	QueueBalance int
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
	Queue         int // NFQUEUE number; NoQueue when unset
	Nameservers   []netip.Addr
	Domain        string
	Options       []binding.DHCPOption
}

// IPv6 holds the [ipv6] section.
type IPv6 struct {
	Enable      bool
	Mode        IPv6Mode // effective mode: auto is resolved at load
	ModeSetting IPv6Mode // as written in the file
	RAPeriod    time.Duration
	RSQueue     int
	NSQueue     int
	DHCPv6Queue int
	Nameservers []netip.Addr
	Domains     []string
}

// NoQueue marks a queue number that is not set.
const NoQueue = -1

// Steering is how packets reach the daemon.
type Steering string

const (
	SteeringAuto     Steering = "auto"     // tc when the kernel allows, else iptables
	SteeringTC       Steering = "tc"       // TC classifier + the daemon's own mark rules
	SteeringIPTables Steering = "iptables" // the administrator's rules from the README
)

// Attach is how the TC classifier is attached.
type Attach string

const (
	AttachAuto Attach = "auto" // TCX when the kernel has it, else cls_bpf
	AttachTCX  Attach = "tcx"
	AttachTC   Attach = "tc"
)

// IPv6Mode is the IPv6 autoconfiguration offered to VMs.
type IPv6Mode string

const (
	ModeAuto        IPv6Mode = "auto"
	ModeSLAAC       IPv6Mode = "slaac"
	ModeSLAACDHCPv6 IPv6Mode = "slaac+dhcpv6"
	ModeDHCPv6      IPv6Mode = "dhcpv6"
)

// Defaults: the original daemon's, and its sample file's, where it had them.
func defaultConfig() *Config {
	return &Config{
		General: General{
			PIDFile:    "/var/run/nfdhcpd/nfdhcpd.pid",
			DataPath:   "/var/lib/nfdhcpd",
			LogDir:     "/var/log/nfdhcpd",
			User:       "nobody",
			Steering:   SteeringAuto,
			BPFPinPath: "/sys/fs/bpf/nfdhcpd",
			Mark:       0,
			MarkMask:   0x0e000000, // the loader's default: see loader/mark.go for why
			Attach:     AttachAuto,
			RateLimit:  DefaultRateLimit,
			// One queue per kind: the original's sample numbers its queues
			// 42-45, which leaves no room for ranges.
			QueueBalance:  1,
			KernelAnswers: true,
		},
		DHCP: DHCP{
			Enable:        true,
			LeaseLifetime: 604800 * time.Second,
			LeaseRenewal:  3600 * time.Second,
			Queue:         NoQueue,
		},
		IPv6: IPv6{
			Enable:      true,
			ModeSetting: ModeAuto,
			RAPeriod:    300 * time.Second,
			RSQueue:     NoQueue,
			NSQueue:     NoQueue,
			DHCPv6Queue: NoQueue,
		},
	}
}

// ConfigError is one problem in the configuration file.
type ConfigError struct {
	File    string
	Line    int    // 0 when not tied to a line
	Section string // "" when not tied to a section
	Key     string // "" when not tied to a key
	Err     error
}

func (e *ConfigError) Error() string {
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

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads and validates the configuration file at path. It returns
// every problem found, joined, each naming file, line, section and key.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseConfig(path, f)
}

// setter parses one value into the configuration.
type setter func(c *Config, v string) error

// schema lists every key of every section.
var schema = map[string]map[string]setter{
	"general": {
		"pidfile":  absPath(func(c *Config) *string { return &c.General.PIDFile }),
		"datapath": absPath(func(c *Config) *string { return &c.General.DataPath }),
		"logdir": func(c *Config, v string) error {
			if v != "" && !filepath.IsAbs(v) {
				return fmt.Errorf("%q is not an absolute path", v)
			}
			c.General.LogDir = v
			return nil
		},
		"user": func(c *Config, v string) error { c.General.User = v; return nil },
		"steering": func(c *Config, v string) error {
			s := Steering(v)
			if s != SteeringAuto && s != SteeringTC && s != SteeringIPTables {
				return fmt.Errorf("%q is not one of auto, tc, iptables", v)
			}
			c.General.Steering = s
			return nil
		},
		"bpf_pin_path": absPath(func(c *Config) *string { return &c.General.BPFPinPath }),
		"mark":         u32(func(c *Config) *uint32 { return &c.General.Mark }),
		"mark_mask":    u32(func(c *Config) *uint32 { return &c.General.MarkMask }),
		"attach": func(c *Config, v string) error {
			a := Attach(v)
			if a != AttachAuto && a != AttachTCX && a != AttachTC {
				return fmt.Errorf("%q is not one of auto, tcx, tc", v)
			}
			c.General.Attach = a
			return nil
		},
		"metrics_listen": func(c *Config, v string) error {
			if v != "" {
				host, port, err := net.SplitHostPort(v)
				if err != nil {
					return fmt.Errorf("%q is not host:port", v)
				}
				if _, err := strconv.ParseUint(port, 10, 16); err != nil {
					return fmt.Errorf("%q: port %q is not a number 0-65535", v, port)
				}
				if host != "" && host != "localhost" {
					if _, err := netip.ParseAddr(host); err != nil {
						return fmt.Errorf("%q: %q is not an IP address or localhost", v, host)
					}
				}
			}
			c.General.MetricsListen = v
			return nil
		},
		"rate_limit": func(c *Config, v string) (err error) {
			c.General.RateLimit, err = ParseRateLimit(v)
			return err
		},
		"kernel_answers": boolean(func(c *Config) *bool { return &c.General.KernelAnswers }),
		"queue_balance": func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("%q is not a number of queues 1-1024", v)
			}
			c.General.QueueBalance = int(n)
			return nil
		},
	},
	"dhcp": {
		"enable_dhcp":    boolean(func(c *Config) *bool { return &c.DHCP.Enable }),
		"lease_lifetime": seconds(func(c *Config) *time.Duration { return &c.DHCP.LeaseLifetime }, 1, 0xffffffff),
		"lease_renewal":  seconds(func(c *Config) *time.Duration { return &c.DHCP.LeaseRenewal }, 1, 0xffffffff),
		"server_ip": func(c *Config, v string) error {
			a, err := netip.ParseAddr(v)
			switch {
			case err != nil || a.Zone() != "":
				return fmt.Errorf("%q is not an IP address", v)
			case !a.Is4():
				return fmt.Errorf("%q is not IPv4", v)
			}
			c.DHCP.ServerIP = a
			return nil
		},
		"server_on_link": boolean(func(c *Config) *bool { return &c.DHCP.ServerOnLink }),
		"dhcp_queue":     queue(func(c *Config) *int { return &c.DHCP.Queue }),
		"nameservers":    addrs(func(c *Config) *[]netip.Addr { return &c.DHCP.Nameservers }, 4),
		"domain": func(c *Config, v string) error {
			if v != "" && !binding.ValidHostname(v) {
				return fmt.Errorf("%q is not a valid domain name", v)
			}
			c.DHCP.Domain = v
			return nil
		},
		"options": func(c *Config, v string) (err error) {
			c.DHCP.Options, err = binding.ParseDHCPOptions(v)
			return err
		},
	},
	"ipv6": {
		"enable_ipv6": boolean(func(c *Config) *bool { return &c.IPv6.Enable }),
		"mode": func(c *Config, v string) error {
			m := IPv6Mode(v)
			if m != ModeAuto && m != ModeSLAAC && m != ModeSLAACDHCPv6 && m != ModeDHCPv6 {
				return fmt.Errorf("%q is not one of auto, slaac, slaac+dhcpv6, dhcpv6", v)
			}
			c.IPv6.ModeSetting = m
			return nil
		},
		// The RA's router lifetime is 14400 s: a longer period would let
		// the VMs' default route expire between advertisements.
		"ra_period":    seconds(func(c *Config) *time.Duration { return &c.IPv6.RAPeriod }, 1, 14400),
		"rs_queue":     queue(func(c *Config) *int { return &c.IPv6.RSQueue }),
		"ns_queue":     queue(func(c *Config) *int { return &c.IPv6.NSQueue }),
		"dhcpv6_queue": queue(func(c *Config) *int { return &c.IPv6.DHCPv6Queue }),
		"nameservers":  addrs(func(c *Config) *[]netip.Addr { return &c.IPv6.Nameservers }, 6),
		"domains": func(c *Config, v string) (err error) {
			c.IPv6.Domains, err = binding.ParseDomainList(v)
			return err
		},
	},
}

func absPath(field func(*Config) *string) setter {
	return func(c *Config, v string) error {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		*field(c) = filepath.Clean(v)
		return nil
	}
}

func boolean(field func(*Config) *bool) setter {
	return func(c *Config, v string) (err error) {
		*field(c), err = binding.ParseBool(v)
		return err
	}
}

// u32 accepts decimal or 0x-prefixed hex, as marks are usually written.
func u32(field func(*Config) *uint32) setter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number 0-4294967295 (decimal or 0x hex)", v)
		}
		*field(c) = uint32(n)
		return nil
	}
}

func seconds(field func(*Config) *time.Duration, lo, hi uint64) setter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not a number of seconds %d-%d", v, lo, hi)
		}
		*field(c) = time.Duration(n) * time.Second
		return nil
	}
}

func queue(field func(*Config) *int) setter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("%q is not a queue number 0-65535", v)
		}
		*field(c) = int(n)
		return nil
	}
}

func addrs(field func(*Config) *[]netip.Addr, family int) setter {
	return func(c *Config, v string) (err error) {
		*field(c), err = binding.ParseAddrList(v, family)
		return err
	}
}

// configParser collects the errors of one file.
type configParser struct {
	file  string
	cfg   *Config
	lines map[string]int // "section.key" -> line; "section" -> line of its header
	errs  []error
}

func (p *configParser) errf(line int, section, key, format string, a ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Section: section, Key: key, Err: fmt.Errorf(format, a...)})
}

// ParseConfig parses a configuration read from r; name is used in errors.
func ParseConfig(name string, r io.Reader) (*Config, error) {
	p := newConfigParser(name)
	p.read(r)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.cfg, nil
}

func newConfigParser(name string) *configParser {
	p := &configParser{file: name, cfg: defaultConfig(), lines: map[string]int{}}
	p.cfg.Path = name
	return p
}

// read parses every line, then checks what holds between keys.
func (p *configParser) read(r io.Reader) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	section, skip := "", false
	for n := 1; sc.Scan(); n++ {
		line := stripComment(strings.TrimSpace(sc.Text()))
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "["):
			name, ok := strings.CutSuffix(line, "]")
			name = strings.TrimSpace(strings.TrimPrefix(name, "["))
			if !ok || name == "" {
				p.errf(n, "", "", "%q is not a [section] header", line)
				section, skip = "", true
				continue
			}
			section, skip = name, false
			if _, known := schema[name]; !known {
				p.errf(n, "", "", "[%s]: unknown section (did you mean [%s]?)", name, closest(name, slices.Collect(maps.Keys(schema))))
				skip = true // its keys would only repeat the error
				continue
			}
			if first, dup := p.lines[name]; dup {
				p.errf(n, name, "", "section given twice (first on line %d)", first)
				continue
			}
			p.lines[name] = n
		default:
			if skip {
				continue
			}
			key, val, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok {
				p.errf(n, section, "", "%q is not key = value", line)
				continue
			}
			if section == "" {
				p.errf(n, "", "", "%s: key outside any section", key)
				continue
			}
			p.set(n, section, key, unquoteValue(strings.TrimSpace(val)))
		}
	}
	if err := sc.Err(); err != nil {
		p.errf(0, "", "", "read: %v", err)
	}
	p.check()
}

func (p *configParser) set(n int, section, key, val string) {
	set, ok := schema[section][key]
	if !ok {
		hint := closest(key, slices.Collect(maps.Keys(schema[section])))
		for other, keys := range schema {
			if _, there := keys[key]; there && other != section {
				hint = key + " in [" + other + "]"
			}
		}
		p.errf(n, section, key, "unknown key (did you mean %s?)", hint)
		return
	}
	id := section + "." + key
	if first, dup := p.lines[id]; dup {
		p.errf(n, section, key, "given twice (first on line %d)", first)
		return
	}
	p.lines[id] = n
	if val == "" {
		return // "key =" leaves the default, as KEY= does in binding files
	}
	if err := set(p.cfg, val); err != nil {
		p.errf(n, section, key, "%v", err)
	}
}

// stripComment drops a '#' comment that starts the line or follows
// whitespace, as in the seed's "datapath = /var/lib/nfdhcpd # Where ...".
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func unquoteValue(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// check enforces what holds between keys, and resolves mode = auto.
func (p *configParser) check() {
	c := p.cfg
	at := func(section, key string) int { return p.lines[section+"."+key] }
	failed := func(section, key string) bool {
		for _, e := range p.errs {
			var ce *ConfigError
			if errors.As(e, &ce) && ce.Section == section && ce.Key == key {
				return true
			}
		}
		return false
	}

	g := c.General
	switch {
	case failed("general", "mark") || failed("general", "mark_mask"):
	case g.MarkMask == 0:
		p.errf(at("general", "mark_mask"), "general", "mark_mask", "must not be 0")
	case g.Mark&^g.MarkMask != 0:
		p.errf(at("general", "mark"), "general", "mark", "%#x has bits outside mark_mask %#x", g.Mark, g.MarkMask)
	default:
		// The lowest three bits of the mask carry the packet kind (loader/mark.go).
		shift := bits.TrailingZeros32(g.MarkMask)
		field := uint32(0b111) << shift
		if shift > 29 || field&^g.MarkMask != 0 {
			p.errf(at("general", "mark_mask"), "general", "mark_mask", "%#x: its lowest three bits must be contiguous (they hold the packet kind)", g.MarkMask)
		} else if g.Mark&field != 0 {
			p.errf(at("general", "mark"), "general", "mark", "%#x overlaps the kind bits %#x of mark_mask %#x", g.Mark, field, g.MarkMask)
		}
	}

	d := c.DHCP
	if d.Enable {
		if d.Queue == NoQueue && !failed("dhcp", "dhcp_queue") {
			p.errf(at("dhcp", "enable_dhcp"), "dhcp", "dhcp_queue", "required when enable_dhcp = yes")
		}
		if !d.ServerIP.IsValid() && !d.ServerOnLink && !failed("dhcp", "server_ip") {
			p.errf(at("dhcp", "enable_dhcp"), "dhcp", "server_ip", "required unless server_on_link = yes")
		}
	}
	if d.LeaseRenewal >= d.LeaseLifetime && !failed("dhcp", "lease_renewal") && !failed("dhcp", "lease_lifetime") {
		p.errf(at("dhcp", "lease_renewal"), "dhcp", "lease_renewal", "%d must be less than lease_lifetime %d",
			int64(d.LeaseRenewal/time.Second), int64(d.LeaseLifetime/time.Second))
	}

	v6 := &c.IPv6
	rs, ns, d6 := v6.RSQueue != NoQueue, v6.NSQueue != NoQueue, v6.DHCPv6Queue != NoQueue
	v6.Mode = v6.ModeSetting
	if v6.Mode == ModeAuto {
		switch {
		case rs && ns && d6:
			v6.Mode = ModeSLAACDHCPv6
		case rs && ns:
			v6.Mode = ModeSLAAC
		default:
			v6.Mode = ModeDHCPv6
		}
	}
	if v6.Enable && !failed("ipv6", "mode") {
		var missing []string
		need := func(set bool, key string) {
			if !set && !failed("ipv6", key) {
				missing = append(missing, key)
			}
		}
		if v6.Mode == ModeSLAAC || v6.Mode == ModeSLAACDHCPv6 {
			need(rs, "rs_queue")
			need(ns, "ns_queue")
		}
		if v6.Mode == ModeDHCPv6 || v6.Mode == ModeSLAACDHCPv6 {
			need(d6, "dhcpv6_queue")
		}
		if len(missing) > 0 {
			how := string(v6.Mode)
			if v6.ModeSetting == ModeAuto {
				how = "auto (no rs_queue and ns_queue, so dhcpv6)"
			}
			p.errf(at("ipv6", "mode"), "ipv6", "mode", "%s needs %s", how, strings.Join(missing, " and "))
		}
	}

	// Queues must be distinct: one reader per queue, one kind per reader.
	// With queue_balance each kind takes the range from its number up.
	nq := max(c.General.QueueBalance, 1)
	type q struct {
		section, key string
		num          int
	}
	seen := map[int]q{}
	for _, x := range []q{
		{"dhcp", "dhcp_queue", d.Queue},
		{"ipv6", "rs_queue", v6.RSQueue},
		{"ipv6", "ns_queue", v6.NSQueue},
		{"ipv6", "dhcpv6_queue", v6.DHCPv6Queue},
	} {
		if x.num == NoQueue {
			continue
		}
		if last := x.num + nq - 1; last > 65535 {
			p.errf(at(x.section, x.key), x.section, x.key, "queue %d with queue_balance %d runs past queue 65535", x.num, nq)
			continue
		}
		clash := -1
		for n := x.num; n < x.num+nq && clash < 0; n++ {
			if _, dup := seen[n]; dup {
				clash = n
			}
		}
		switch prev := seen[clash]; {
		case clash < 0:
			for n := x.num; n < x.num+nq; n++ {
				seen[n] = x
			}
		case nq == 1:
			p.errf(at(x.section, x.key), x.section, x.key, "queue %d is also [%s] %s", clash, prev.section, prev.key)
		default:
			p.errf(at(x.section, x.key), x.section, x.key, "queues %d-%d (queue_balance %d) overlap [%s] %s's at %d",
				x.num, x.num+nq-1, nq, prev.section, prev.key, clash)
		}
	}
}

// closest returns the candidate nearest to s by edit distance, ties broken
// alphabetically so that messages are stable.
func closest(s string, candidates []string) string {
	slices.Sort(candidates)
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
