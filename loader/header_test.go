package loader

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The constants below are written by hand on both sides (BTF carries the
// structs bpf2go generates, but not #defines, nor enums the program never
// names), so this test holds them in step: a layout version bumped only in
// C would otherwise reuse pinned maps that Go misreads.
func TestHeaderConstants(t *testing.T) {
	src, err := os.ReadFile("../bpf/nfdhcpd.h")
	if err != nil {
		t.Fatal(err)
	}
	goSide := map[string]uint64{
		"NFDHCPD_LAYOUT_VERSION": layoutVersion,
		"NFDHCPD_KIND_DHCP":      uint64(KindDHCP),
		"NFDHCPD_KIND_RS":        uint64(KindRS),
		"NFDHCPD_KIND_NS":        uint64(KindNS),
		"NFDHCPD_KIND_DHCPV6":    uint64(KindDHCPv6),
		"NFDHCPD_FLAG_MACSPOOF":  uint64(flagMACSpoof),
		"NFDHCPD_NA_LEN":         NALen,
		"NFDHCPD_NA_MAX":         naMax,
		"NFDHCPD_RA_MAX":         raMax,
	}
	cSide := headerConstants(t, string(src))
	for name, want := range cSide {
		got, ok := goSide[name]
		if !ok {
			t.Errorf("bpf/nfdhcpd.h has %s = %d; the loader has no counterpart", name, want)
			continue
		}
		if got != want {
			t.Errorf("%s: bpf/nfdhcpd.h says %d, the loader %d", name, want, got)
		}
	}
	for name := range goSide {
		if _, ok := cSide[name]; !ok {
			t.Errorf("%s: not found in bpf/nfdhcpd.h", name)
		}
	}
}

// headerConstants reads `#define NFDHCPD_X N` and enum entries
// `NFDHCPD_X = N` or `NFDHCPD_X = 1 << N`.
func headerConstants(t *testing.T, src string) map[string]uint64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*(?:#define\s+(NFDHCPD_\w+)\s+(\d+)|(NFDHCPD_\w+)\s*=\s*(\d+)(?:\s*<<\s*(\d+))?\s*,)`)
	out := map[string]uint64{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		name, val, shift := m[1], m[2], ""
		if name == "" {
			name, val, shift = m[3], m[4], m[5]
		}
		v, err := strconv.ParseUint(val, 0, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if shift != "" {
			s, err := strconv.ParseUint(shift, 10, 6)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			v <<= s
		}
		out[name] = v
	}
	return out
}
