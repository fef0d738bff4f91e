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

// ParseAttachMode parses "auto", "tcx" or "tc".
func ParseAttachMode(s string) (AttachMode, error) {
	switch s {
	case "auto", "":
		return AttachAuto, nil
	case "tcx":
		return AttachTCX, nil
	case "tc":
		return AttachTC, nil
	}
	return 0, fmt.Errorf("attach %q: want auto, tcx or tc", s)
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

// RateLimit is a token bucket: PerSecond packets a second on average, up to
// Burst at once. Each bound TAP has its own. PerSecond 0 turns it off (the
// daemon's configuration supplies its default, not the loader).
type RateLimit struct {
	PerSecond uint32
	Burst     uint32
}

// String returns the configuration file spelling.
func (r RateLimit) String() string {
	if r.PerSecond == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/s burst %d", r.PerSecond, r.Burst)
}

// bucket returns the classifier's form: ns per token, and how far ahead of
// now a TAP's bucket may be drawn.
func (r RateLimit) bucket() (intervalNs, burstNs uint64) {
	if r.PerSecond == 0 {
		return 0, 0
	}
	interval := uint64(1e9) / uint64(r.PerSecond)
	return interval, interval * uint64(r.Burst)
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
	if err := validateMark(c.Mark, c.MarkMask); err != nil {
		return err
	}
	if c.Attach > AttachTC {
		return fmt.Errorf("attach: unknown mode %d", c.Attach)
	}
	if c.Answer&^(KindRS|KindNS) != 0 {
		return fmt.Errorf("answers in the kernel: only rs and ns, not %v", c.Answer&^(KindRS|KindNS))
	}
	if c.Limit.PerSecond > 1e9 {
		return fmt.Errorf("rate limit %d/s: at most 1000000000/s", c.Limit.PerSecond)
	}
	if c.Limit.PerSecond > 0 && c.Limit.Burst == 0 {
		return fmt.Errorf("rate limit %s: burst must be at least 1", c.Limit)
	}
	if len(c.Chain) > 28 {
		return fmt.Errorf("chain %q longer than iptables' 28 characters", c.Chain)
	}
	return nil
}
