package loader

import (
	"testing"
)

func TestMarkFor(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		kind Kinds
		want uint32
	}{
		{"default dhcp", Config{}, KindDHCP, 0x02000000},
		{"default rs", Config{}, KindRS, 0x04000000},
		{"default ns", Config{}, KindNS, 0x06000000},
		{"default dhcpv6", Config{}, KindDHCPv6, 0x08000000},
		{"two kinds is not a mark", Config{}, KindDHCP | KindNS, 0},
		{"no kind", Config{}, 0, 0},
		{"base above the kind bits", Config{Mark: 0x100, MarkMask: 0x1f0}, KindNS, 0x130},
		{"mask at bit 0", Config{Mark: 0, MarkMask: 0x7}, KindDHCPv6, 0x4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := MarkFor(tt.cfg, tt.kind); got != tt.want {
				t.Errorf("MarkFor = %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestKindOfAndUnmark(t *testing.T) {
	cfg := Config{Mark: 0x100, MarkMask: 0x1f0}
	for _, tt := range []struct {
		mark    uint32
		kind    Kinds
		unmarks uint32
	}{
		{0x130 | 0x4000, KindNS, 0x4000},
		{0x110, KindDHCP, 0},
		{0x010, 0, 0}, // base bits missing: not ours
		{0x150, 0, 0}, // kind code 5: not ours
		{0xdead0000, 0, 0xdead0000},
	} {
		if got := KindOf(cfg, tt.mark); got != tt.kind {
			t.Errorf("KindOf(%#x) = %v, want %v", tt.mark, got, tt.kind)
		}
		if got := Unmark(cfg, tt.mark); got != tt.unmarks {
			t.Errorf("Unmark(%#x) = %#x, want %#x", tt.mark, got, tt.unmarks)
		}
	}
}

func TestValidateMark(t *testing.T) {
	for _, tt := range []struct {
		mark, mask uint32
		want       string
	}{
		{0, 0x0e000000, ""},
		{0xf0000000, 0xf7000000, ""},
		{0, 0, "mark_mask: must not be 0"},
		{0x1, 0x0e000000, "mark: 0x1 has bits outside mark_mask 0xe000000"},
		{0, 0x0a000000, "mark_mask: 0xa000000: its lowest three bits must be contiguous (they hold the packet kind)"},
		{0, 0xc0000000, "mark_mask: 0xc0000000: its lowest three bits must be contiguous (they hold the packet kind)"},
		{0x20, 0x70, "mark: 0x20 overlaps the kind bits 0x70 of mark_mask 0x70"},
	} {
		if got := errString(ValidateMark(tt.mark, tt.mask)); got != tt.want {
			t.Errorf("ValidateMark(%#x, %#x) = %q, want %q", tt.mark, tt.mask, got, tt.want)
		}
	}
}

func TestDefaultMark(t *testing.T) {
	mark, mask := DefaultMark()
	if mark != 0 || mask != 0x0e000000 {
		t.Fatalf("DefaultMark = %#x/%#x", mark, mask)
	}
	// Known users' bits (see mark.go); none may fall under our mask.
	for _, other := range []uint32{0x4000, 0x8000, 0x2000, 0x0f00, 0xca6c, 0x10000, 0x20000, 0x40000, 0x80000, 0xff0000, 0x10000000} {
		if other&mask != 0 {
			t.Errorf("default mask %#x collides with %#x", mask, other)
		}
	}
}

func TestKindsString(t *testing.T) {
	for k, want := range map[Kinds]string{0: "none", KindDHCP: "dhcp", AllKinds: "dhcp|rs|ns|dhcpv6", KindRS | KindDHCPv6: "rs|dhcpv6"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

func TestAttachModeText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want AttachMode
		err  string
	}{
		{"auto", AttachAuto, ""}, {"tcx", AttachTCX, ""}, {"tc", AttachTC, ""},
		{"xdp", 0, `"xdp" is not one of auto, tcx, tc`},
		{"", 0, `"" is not one of auto, tcx, tc`},
	} {
		var got AttachMode
		err := got.UnmarshalText([]byte(tt.in))
		if got != tt.want || errString(err) != tt.err {
			t.Errorf("UnmarshalText(%q) = %v, %q; want %v, %q", tt.in, got, errString(err), tt.want, tt.err)
		}
		if back, _ := got.MarshalText(); tt.err == "" && string(back) != tt.in {
			t.Errorf("%v.MarshalText() = %q", got, back)
		}
	}
}

func TestParseLinkPinName(t *testing.T) {
	for _, tt := range []struct {
		in   string
		idx  int
		name string
		ok   bool
	}{
		{"12-tap0", 12, "tap0", true},
		{"7-one-3-0", 7, "one-3-0", true},
		{"0-tap0", 0, "", false},
		{"x-tap0", 0, "", false},
		{"tap0", 0, "", false},
	} {
		idx, name, ok := parseLinkPinName(tt.in)
		if idx != tt.idx || name != tt.name || ok != tt.ok {
			t.Errorf("parseLinkPinName(%q) = %d, %q, %v", tt.in, idx, name, ok)
		}
	}
}

func FuzzParseLinkPinName(f *testing.F) {
	for _, s := range []string{"12-tap0", "7-one-3-0", "0-x", "-", "", "99999999999999999999-a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		idx, name, ok := parseLinkPinName(s)
		if !ok {
			return
		}
		if idx <= 0 || linkPinName(idx, name) != s && !hasLeadingZeroOrSign(s) {
			t.Fatalf("%q parsed as %d, %q", s, idx, name)
		}
	})
}

// hasLeadingZeroOrSign: "007-x" or "+7-x" parse but do not round-trip.
func hasLeadingZeroOrSign(s string) bool { return len(s) > 0 && (s[0] == '0' || s[0] == '+') }
