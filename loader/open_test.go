package loader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenOffBPFFSIsUnsupported(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir() // tmpfs or disk: not bpffs, and not under /sys/fs/bpf
	_, err := Open(Config{PinPath: filepath.Join(dir, "pins"), Logger: testLogger(t)})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "is not on a bpf filesystem") {
		t.Fatalf("Open = %v, want ErrUnsupported naming the bpf filesystem", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{PinPath: "relative"}, `loader config: bpf_pin_path "relative" is not absolute`},
		{Config{Mark: 1, MarkMask: 0x0e000000}, "loader config: mark: 0x1 has bits outside mark_mask 0xe000000"},
		{Config{Attach: 7}, "loader config: attach: unknown mode 7"},
		{Config{Limit: RateLimit{PerSecond: 10}}, "loader config: rate limit 10/s burst 0: burst must be 1-1000000"},
		{Config{Limit: RateLimit{PerSecond: 2e9, Burst: 1}}, "loader config: rate limit 2000000000/s burst 1: at most 1000000000/s"},
		{Config{Chain: strings.Repeat("C", 29)}, `loader config: chain "` + strings.Repeat("C", 29) + `" longer than iptables' 28 characters`},
	} {
		if _, err := Open(tt.cfg); errString(err) != tt.want {
			t.Errorf("Open(%+v) = %q, want %q", tt.cfg, errString(err), tt.want)
		}
	}
}

// A restarted daemon finding maps written under another layout version
// must recreate them rather than misread their bytes.
func TestOpenRecreatesMapsOfOtherLayout(t *testing.T) {
	lab := newLab(t)
	host, _ := lab.veth(t, "tap0", "vm0", vmMAC)
	cfg := lab.config(t, AttachTCX)

	first, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Attach(Iface{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}); err != nil {
		t.Fatal(err)
	}
	oldIfaces, _ := first.ifaces.Info()
	oldID, _ := oldIfaces.ID()
	if err := first.config.Put(uint32(0), classifierMarkConfig{Version: layoutVersion + 1}); err != nil {
		t.Fatal(err)
	}
	first.Close()

	second := openLoader(t, cfg)
	info, _ := second.ifaces.Info()
	if id, _ := info.ID(); id == oldID {
		t.Fatalf("ifaces map %d reused across a layout change", id)
	}
	if _, ok := mapEntry(t, second, host.Attrs().Index); ok {
		t.Errorf("entry survived in the recreated map")
	}
	var c classifierMarkConfig
	if err := second.config.Lookup(uint32(0), &c); err != nil || c.Version != layoutVersion {
		t.Errorf("config = %+v, %v; want version %d", c, err, layoutVersion)
	}
	// Reconcile moves the still-pinned link onto the new program.
	if _, err := second.Reconcile(context.Background(), []Iface{{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}}); err != nil {
		t.Fatal(err)
	}
	if got := tcxPrograms(t, host.Attrs().Index); len(got) != 1 || got[0] != second.progID {
		t.Errorf("tcx ingress = %v, want only program %d", got, second.progID)
	}
	if _, err := os.Stat(filepath.Join(lab.pinPath, progPin)); err != nil {
		t.Errorf("program pin: %v", err)
	}
}
