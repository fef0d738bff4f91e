// Package binding reads the per-TAP binding files that tell nfdhcpd what to
// answer on each interface, watches the directory that holds them, and joins
// them with the links the kernel reports over netlink.
package binding

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Binding is one parsed binding file. It is immutable after Parse: the store
// hands the same pointer to every reader.
type Binding struct {
	TAP      string // the file's name, which is the TAP's name
	InDev    string // the TAP in routed setups, the bridge in bridged ones; TAP when unset
	IP       netip.Addr
	MAC      net.HardwareAddr
	Hostname string
	Tags     []string

	Gateway netip.Addr
	Subnet  netip.Prefix

	Gateway6 netip.Addr
	Subnet6  netip.Prefix
	EUI64    netip.Addr

	// DelegatedPrefixes6 are the prefixes DHCPv6 prefix delegation (IA_PD)
	// gives the VM, routed to it by the host: at most MaxDelegatedPrefixes,
	// each /64 or shorter, none overlapping another or SUBNET6.
	DelegatedPrefixes6 []netip.Prefix

	Private  bool // do not hand out GATEWAY as router
	MACSpoof bool // answer even when the request's MAC differs from MAC
	MTU      uint16

	// Per-binding overrides of the configuration; nil or "" means "use the config".
	Nameservers  []netip.Addr
	Nameservers6 []netip.Addr
	Domain       string
	DomainSearch []string

	DHCPOptions []DHCPOption

	// PXE: the BOOTP siaddr and file fields, and options 66 and 67 when
	// asked for; unset means the configuration's [dhcp] next_server and
	// boot_file.
	NextServer netip.Addr
	BootFile   string

	// UnknownKeys lists keys in the file that nfdhcpd does not read, in
	// file order: management software adds its own, so they are logged at
	// debug level, not rejected. Only the first maxUnknownKeys are kept, each
	// quoted (see quote) unless it is a plain short name.
	UnknownKeys []string

	// Warnings name what the file holds that the original daemon forgave
	// (see Warning), in line order; at most maxWarnings and one that
	// counts the rest. Each names the file as ReadFile's errors do.
	Warnings []*Warning
}

// Error is one problem in one line of a binding file.
type Error struct {
	File string // the TAP name (or a path, when the caller sets one)
	Line int    // 0 when the problem is with the file as a whole
	Key  string // "" when the problem is not tied to a key
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(QuoteName(e.File))
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Warning is something in a binding file that the original daemon forgave
// and served: the file is served too, and the warning names the file, line
// and key, and says what was made of it.
type Warning Error

func (w *Warning) String() string { return (*Error)(w).Error() }

// logArgs are the slog fields of a warning about tap's file.
func (w *Warning) logArgs(tap string) []any {
	args := []any{"iface", tap, "file", w.File}
	if w.Line > 0 {
		args = append(args, "line", w.Line)
	}
	if w.Key != "" {
		args = append(args, "key", w.Key)
	}
	return append(args, "why", w.Err.Error())
}

// forgiven is what a setter returns for a value it did set, the way the
// original daemon took it, but that is not what the key means: the parser
// records it as a warning, not an error.
type forgiven string

func (f forgiven) Error() string { return string(f) }

// ErrEmpty is returned (wrapped) by Parse for a file with no content. Writers
// that truncate and then write in place leave such a file for a moment, so
// the store treats it as "not yet written", never as a deletion.
var ErrEmpty = errors.New("file is empty")

// maxFileSize bounds what Parse reads: binding files are a few hundred bytes.
const maxFileSize = 64 << 10

var errTooLarge = fmt.Errorf("larger than %d bytes", maxFileSize)

// Parse reads a binding file for the TAP named tap. It returns every problem
// it finds, joined, each an *Error naming the line and key. What the
// original daemon forgave is not a problem but a Warning in the binding.
func Parse(tap string, r io.Reader) (*Binding, error) {
	p := parser{file: tap, b: &Binding{TAP: tap}, seen: map[string]int{}, vals: map[string]string{}}
	if !ValidIfName(tap) {
		p.errf(0, "", "%s is not a valid interface name", quote(tap))
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		p.errf(0, "", "read: %v", err)
		return nil, errors.Join(p.errs...)
	}
	if len(data) > maxFileSize {
		p.errs = append(p.errs, &Error{File: tap, Err: errTooLarge})
		return nil, errors.Join(p.errs...)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		p.errs = append(p.errs, &Error{File: tap, Err: ErrEmpty})
		return nil, errors.Join(p.errs...)
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize+1)
	n := 0
	for sc.Scan() {
		n++
		p.line(n, sc.Text())
	}
	p.values()
	p.check()
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if len(p.warns) > maxWarnings {
		more := len(p.warns) - maxWarnings
		p.warns = append(p.warns[:maxWarnings:maxWarnings], &Warning{File: tap, Err: fmt.Errorf("%d more warnings not shown", more)})
	}
	p.b.Warnings = p.warns
	return p.b, nil
}

// maxWarnings bounds Binding.Warnings: a file of a thousand junk lines is
// served, but must not make a thousand log lines.
const maxWarnings = 32

type parser struct {
	file  string
	b     *Binding
	seen  map[string]int    // key -> the line that sets it: the last one
	vals  map[string]string // key -> its value on that line, as written
	errs  []error
	warns []*Warning
}

func (p *parser) errf(line int, key, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Err: fmt.Errorf(format, a...)})
}

func (p *parser) warnf(line int, key, format string, a ...any) {
	p.warns = append(p.warns, &Warning{File: p.file, Line: line, Key: key, Err: fmt.Errorf(format, a...)})
}

// line takes in one line. The original daemon read a key from the last
// line that starts with KEY= and ignored every other line, so a line that
// is not KEY=VALUE is ignored with a warning, and of a key set more than
// once the last value wins, also with a warning. The values are read once
// every line has been seen (values), so one a later line overrides is
// never looked at, as the original never looked at it.
func (p *parser) line(n int, s string) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "#") {
		return
	}
	key, val, ok := strings.Cut(s, "=")
	if !ok {
		p.warnf(n, "", "%s is not KEY=VALUE, ignored", quote(s))
		return
	}
	key = strings.TrimSpace(key)
	if _, known := keys[key]; !known {
		// Ignored, as the original ignored them, before its value is
		// looked at. An error therefore only ever names a known key.
		if len(p.b.UnknownKeys) < maxUnknownKeys {
			p.b.UnknownKeys = append(p.b.UnknownKeys, shown(key))
		}
		return
	}
	if before, dup := p.seen[key]; dup {
		p.warnf(n, key, "set again (also on line %d), the last one wins", before)
	}
	p.seen[key] = n
	p.vals[key] = strings.TrimSpace(val)
}

// values parses the value that won for each key, in line order, so that
// errors and warnings come out in the order of the file.
func (p *parser) values() {
	order := make([]string, 0, len(p.seen))
	for k := range p.seen {
		order = append(order, k)
	}
	slices.SortFunc(order, func(a, b string) int { return p.seen[a] - p.seen[b] })
	for _, key := range order {
		p.value(p.seen[key], key, p.vals[key])
	}
	// Those of the lines came first, then those of the values: in the
	// order of the file, stably, so that the first maxWarnings are kept.
	slices.SortStableFunc(p.warns, func(a, b *Warning) int { return a.Line - b.Line })
}

// value parses one key's value. Values may be wrapped in double or single
// quotes, as the shell-written files of Ganeti and OpenNebula do.
func (p *parser) value(n int, key, raw string) {
	k := keys[key]
	val, err := unquote(raw)
	if err != nil {
		if !k.text {
			p.errf(n, key, "%v", err)
			return
		}
		// The original never unquoted: it took the value as written.
		p.warnf(n, key, "%v, taken as written", err)
		val = raw
	}
	if val == "" {
		return // KEY= means unset
	}
	err = k.set(p.b, val)
	var f forgiven
	switch {
	case errors.As(err, &f):
		p.warnf(n, key, "%s", f)
	case err != nil:
		p.errf(n, key, "%v", err)
	}
}

func unquote(v string) (string, error) {
	if len(v) == 0 || (v[0] != '"' && v[0] != '\'') {
		return v, nil
	}
	q := v[0]
	if len(v) < 2 || v[len(v)-1] != q {
		return "", fmt.Errorf("unterminated quote in %s", quote(v))
	}
	return v[1 : len(v)-1], nil
}

// keySpec is how one key's value is read.
type keySpec struct {
	set func(*Binding, string) error
	// text keys take any text, so the original's way with a stray quote
	// (keep it as part of the value) still gives a value; for the others
	// it is an error, since no address or number starts with a quote.
	text bool
}

// keys maps each key nfdhcpd reads to how its value is read.
var keys = map[string]keySpec{
	"INDEV": {set: func(b *Binding, v string) error {
		if !ValidIfName(v) {
			return fmt.Errorf("%s is not a valid interface name", quote(v))
		}
		b.InDev = v
		return nil
	}},
	"IP":       {set: func(b *Binding, v string) (err error) { b.IP, err = parseAddr(v, 4); return }},
	"MAC":      {set: func(b *Binding, v string) (err error) { b.MAC, err = parseMAC(v); return }},
	"TAGS":     {text: true, set: func(b *Binding, v string) error { b.Tags = splitList(v); return nil }},
	"HOSTNAME": {text: true, set: setHostname},
	"GATEWAY":  {set: func(b *Binding, v string) (err error) { b.Gateway, err = parseAddr(v, 4); return }},
	"SUBNET":   {set: func(b *Binding, v string) (err error) { b.Subnet, err = parsePrefix(v, 4); return }},
	"GATEWAY6": {set: func(b *Binding, v string) (err error) { b.Gateway6, err = parseAddr(v, 6); return }},
	"SUBNET6":  {set: func(b *Binding, v string) (err error) { b.Subnet6, err = parsePrefix(v, 6); return }},
	"EUI64":    {set: func(b *Binding, v string) (err error) { b.EUI64, err = parseAddr(v, 6); return }},
	"PRIVATE":  {set: func(b *Binding, v string) (err error) { b.Private, err = parseFlag(v); return }},
	"MACSPOOF": {set: func(b *Binding, v string) (err error) { b.MACSpoof, err = parseFlag(v); return }},
	"MTU": {set: func(b *Binding, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err == nil && n == 0 {
			// The original sent no MTU for 0, as hooks write when
			// they know none.
			return forgiven(fmt.Sprintf("%s is not an MTU (68-65535), taken as unset as the original did", quote(v)))
		}
		if err != nil || n < 68 || n > 65535 {
			return fmt.Errorf("%s is not an MTU (68-65535)", quote(v))
		}
		b.MTU = uint16(n)
		return nil
	}},
	"NAMESERVERS":  {set: func(b *Binding, v string) (err error) { b.Nameservers, err = ParseAddrList(v, 4); return }},
	"NAMESERVERS6": {set: func(b *Binding, v string) (err error) { b.Nameservers6, err = ParseAddrList(v, 6); return }},
	"DOMAIN": {set: func(b *Binding, v string) error {
		if !ValidHostname(v) {
			return fmt.Errorf("%s is not a valid domain name", quote(v))
		}
		b.Domain = v
		return nil
	}},
	"DOMAIN_SEARCH": {set: func(b *Binding, v string) (err error) { b.DomainSearch, err = ParseDomainList(v); return }},
	"DHCP_OPTIONS":  {set: func(b *Binding, v string) (err error) { b.DHCPOptions, err = ParseDHCPOptions(v); return }},
	"NEXT_SERVER":   {set: func(b *Binding, v string) (err error) { b.NextServer, err = ParseNextServer(v); return }},
	"BOOT_FILE":     {set: func(b *Binding, v string) (err error) { b.BootFile, err = ParseBootFile(v); return }},

	"DELEGATED_PREFIX6": {set: func(b *Binding, v string) (err error) {
		b.DelegatedPrefixes6, err = parseDelegated(v)
		return
	}},
}

// maxHostname is the most option 12 carries in one instance.
const maxHostname = 255

// setHostname takes any printable text, as the original sent any HOSTNAME
// in option 12: Windows names such as web_01 are common. Only a DNS name is
// also a source of the VM's domain (see nfq.NewLease), so any other is
// warned about. Control characters and bytes past ASCII stay errors: a
// client hands option 12 to shell scripts and writes it to /etc/hostname.
func setHostname(b *Binding, v string) error {
	switch {
	case !printableASCII(v):
		return fmt.Errorf("%s holds bytes that are not printable ASCII", quote(v))
	case len(v) > maxHostname:
		return fmt.Errorf("%s is longer than the %d bytes option 12 carries", quote(v), maxHostname)
	}
	b.Hostname = v
	if !ValidHostname(v) {
		return forgiven(fmt.Sprintf("%s is not a DNS name: sent as option 12 as written, but no domain is derived from it", quote(v)))
	}
	return nil
}

// parseFlag reads PRIVATE and MACSPOOF. The original set them for any
// value but an empty one; the spellings of no (ParseBool) read as no here,
// and any other word as yes, as the original took it, with a warning.
func parseFlag(v string) (bool, error) {
	on, err := ParseBool(v)
	if err != nil {
		return true, forgiven(err.Error() + ", taken as yes as the original did")
	}
	return on, nil
}

// maxBootFile is what the BOOTP file field holds, with its final NUL.
const maxBootFile = 127

// ParseNextServer reads [dhcp] next_server and NEXT_SERVER: the BOOTP
// siaddr a PXE client fetches its boot file from.
func ParseNextServer(v string) (netip.Addr, error) {
	a, err := parseAddr(v, 4)
	if err == nil && (a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		err = fmt.Errorf("%s is not a unicast address", quote(v))
	}
	if err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// ParseBootFile reads [dhcp] boot_file and BOOT_FILE: the file name (or an
// iPXE URL) sent in the BOOTP file field, which it must fit, and in option
// 67.
func ParseBootFile(v string) (string, error) {
	switch {
	case !printableASCII(v):
		return "", fmt.Errorf("%s holds bytes that are not printable ASCII", quote(v))
	case len(v) > maxBootFile:
		return "", fmt.Errorf("%s is longer than the %d bytes of the BOOTP file field", quote(v), maxBootFile)
	}
	return v, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// check enforces what holds between keys, once every line has been read.
func (p *parser) check() {
	b := p.b
	line := func(k string) int { return p.seen[k] }
	if b.MAC == nil && !p.failed("MAC") {
		p.errf(0, "MAC", "required")
	}
	if b.Hostname == "" && !p.failed("HOSTNAME") {
		p.errf(0, "HOSTNAME", "required")
	}
	if b.InDev == "" {
		b.InDev = b.TAP
	}
	if b.IP.IsValid() {
		switch {
		case !b.Subnet.IsValid():
			if !p.failed("SUBNET") {
				p.errf(line("IP"), "IP", "%s needs SUBNET", b.IP)
			}
		case !b.Subnet.Contains(b.IP):
			p.errf(line("IP"), "IP", "%s is outside SUBNET %s", b.IP, b.Subnet)
		case b.Subnet.Bits() <= 30 && b.IP == b.Subnet.Addr():
			p.errf(line("IP"), "IP", "%s is the network address of %s", b.IP, b.Subnet)
		case b.Subnet.Bits() <= 30 && b.IP == Broadcast(b.Subnet):
			p.errf(line("IP"), "IP", "%s is the broadcast address of %s", b.IP, b.Subnet)
		}
	}
	if b.Gateway.IsValid() {
		switch {
		case !b.Subnet.IsValid():
			if !p.failed("SUBNET") {
				p.errf(line("GATEWAY"), "GATEWAY", "%s needs SUBNET", b.Gateway)
			}
		case !b.Subnet.Contains(b.Gateway):
			p.errf(line("GATEWAY"), "GATEWAY", "%s is outside SUBNET %s", b.Gateway, b.Subnet)
		case b.Subnet.Bits() <= 30 && b.Gateway == Broadcast(b.Subnet):
			p.errf(line("GATEWAY"), "GATEWAY", "%s is the broadcast address of %s", b.Gateway, b.Subnet)
		case b.Gateway == b.IP:
			p.errf(line("GATEWAY"), "GATEWAY", "%s is the VM's own IP", b.Gateway)
		}
	}
	for _, k := range []struct {
		key  string
		addr netip.Addr
	}{{"GATEWAY6", b.Gateway6}, {"EUI64", b.EUI64}} {
		if !k.addr.IsValid() {
			continue
		}
		switch {
		case !b.Subnet6.IsValid():
			if !p.failed("SUBNET6") {
				p.errf(line(k.key), k.key, "%s needs SUBNET6", k.addr)
			}
		case !b.Subnet6.Contains(k.addr):
			p.errf(line(k.key), k.key, "%s is outside SUBNET6 %s", k.addr, b.Subnet6)
		}
	}
	for _, d := range b.DelegatedPrefixes6 {
		if b.Subnet6.IsValid() && d.Overlaps(b.Subnet6) {
			p.errf(line("DELEGATED_PREFIX6"), "DELEGATED_PREFIX6", "%s overlaps SUBNET6 %s", d, b.Subnet6)
		}
	}
}

// failed reports whether key was present but rejected, so that check does not
// pile a second error ("required") on top of the first.
func (p *parser) failed(key string) bool {
	for _, e := range p.errs {
		var be *Error
		if errors.As(e, &be) && be.Key == key {
			return true
		}
	}
	return false
}

// Broadcast returns the last address of an IPv4 prefix.
func Broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		keep := min(max(bits-8*i, 0), 8)
		a[i] |= byte(0xff >> keep)
	}
	return netip.AddrFrom4(a)
}

func parseAddr(v string, family int) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s is not an IP address", quote(v))
	}
	if family == 4 && !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s is not IPv4", quote(v))
	}
	if family == 6 && (!a.Is6() || a.Is4In6()) {
		return netip.Addr{}, fmt.Errorf("%s is not IPv6", quote(v))
	}
	return a, nil
}

func parsePrefix(v string, family int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s is not a prefix (address/length)", quote(v))
	}
	if family == 4 && !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s is not IPv4", quote(v))
	}
	if family == 6 && (!p.Addr().Is6() || p.Addr().Is4In6()) {
		return netip.Prefix{}, fmt.Errorf("%s is not IPv6", quote(v))
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set (the network is %s)", quote(v), p.Masked())
	}
	return p, nil
}

func parseMAC(v string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(v)
	if err != nil || len(m) != 6 {
		return nil, fmt.Errorf("%s is not an Ethernet MAC address", quote(v))
	}
	if m[0]&1 != 0 {
		return nil, fmt.Errorf("%s is a multicast address", quote(v))
	}
	return m, nil
}

// ParseAddrList parses a comma- or space-separated list of addresses of one
// family (4 or 6).
func ParseAddrList(v string, family int) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range splitList(v) {
		a, err := parseAddr(f, family)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseDomainList parses a comma- or space-separated list of domain names.
func ParseDomainList(v string) ([]string, error) {
	var out []string
	for _, f := range splitList(v) {
		if !ValidHostname(f) {
			return nil, fmt.Errorf("%s is not a valid domain name", quote(f))
		}
		out = append(out, f)
	}
	return out, nil
}

// ParseBool accepts the spellings operators use: yes/no, true/false, on/off, 1/0.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean (yes/no, true/false, on/off, 1/0)", quote(v))
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// ValidHostname reports whether s is a DNS host or domain name: dot-separated
// labels of letters, digits and inner hyphens, each 1-63 bytes, 253 in all,
// with an optional final dot.
func ValidHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ValidIfName reports whether s can be a Linux interface name.
func ValidIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '/' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}
