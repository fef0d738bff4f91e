package loader

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
)

// AttachMode chooses how the classifier is attached ([general] attach).
type AttachMode uint8

const (
	AttachAuto AttachMode = iota // TCX where the kernel has it (6.6+), else cls_bpf
	AttachTCX                    // TCX only: fail where the kernel lacks it
	AttachTC                     // direct-action cls_bpf filter (clsact or ingress qdisc)
)

// String returns the configuration file spelling.
func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachTCX:
		return "tcx"
	case AttachTC:
		return "tc"
	}
	return fmt.Sprintf("AttachMode(%d)", uint8(m))
}

// MarshalText returns the configuration file spelling.
func (m AttachMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses "auto", "tcx" or "tc".
func (m *AttachMode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "auto":
		*m = AttachAuto
	case "tcx":
		*m = AttachTCX
	case "tc":
		*m = AttachTC
	default:
		return fmt.Errorf("%q is not one of auto, tcx, tc", b)
	}
	return nil
}

// Defaults for the zero values of Config.
const (
	DefaultPinPath = "/sys/fs/bpf/nfdhcpd"
	DefaultChain   = "NFDHCPD"
)

// Config holds the [general] settings the loader needs. The zero value of
// every field means its default.
type Config struct {
	PinPath  string     // bpf_pin_path
	Mark     uint32     // mark: base value of our bits (within MarkMask)
	MarkMask uint32     // mark_mask: the skb mark bits we own; 0 = DefaultMark
	Attach   AttachMode // attach
	Chain    string     // mangle chain for our NFQUEUE rules (tests use their own)
	Limit    RateLimit  // per-TAP token bucket; the zero value is no limit
	// Answer holds the kinds (KindRS, KindNS) the classifier may answer
	// itself, from each Iface's Answers; the zero value sends every
	// request to the daemon.
	Answer Kinds
	Logger *slog.Logger
}

// ErrUnsupported is wrapped by errors meaning that tc steering cannot work
// on this host (no BPF permission, no bpffs, kernel too old), so that
// `steering = auto` can fall back to iptables mode and say why.
var ErrUnsupported = errors.New("tc steering unsupported")

func (c Config) withDefaults() Config {
	if c.PinPath == "" {
		c.PinPath = DefaultPinPath
	}
	if c.MarkMask == 0 {
		c.Mark, c.MarkMask = DefaultMark()
	}
	if c.Chain == "" {
		c.Chain = DefaultChain
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	if !filepath.IsAbs(c.PinPath) {
		return fmt.Errorf("bpf_pin_path %q is not absolute", c.PinPath)
	}
	if err := ValidateMark(c.Mark, c.MarkMask); err != nil {
		return err
	}
	if c.Attach > AttachTC {
		return fmt.Errorf("attach: unknown mode %d", c.Attach)
	}
	if c.Answer&^Answerable != 0 {
		return fmt.Errorf("answers in the kernel: only rs and ns, not %v", c.Answer&^Answerable)
	}
	if err := c.Limit.validate(); err != nil {
		return fmt.Errorf("rate limit %s: %w", c.Limit, err)
	}
	if len(c.Chain) > 28 {
		return fmt.Errorf("chain %q longer than iptables' 28 characters", c.Chain)
	}
	return nil
}
