package loader

import (
	"net"
	"reflect"
	"testing"
)

// What a second process reads from the pins is what the daemon's loader
// holds: the bound TAP's MAC, and the counts of exactly the frames run.
func TestPinnedState(t *testing.T) {
	lab := newLab(t)
	ifc := lab.taps(t, 1)[0]
	cfg := lab.config(t, AttachTC)
	cfg.Limit = RateLimit{PerSecond: 100, Burst: 10}
	l := openLoader(t, cfg)
	if err := l.Attach(ifc); err != nil {
		t.Fatal(err)
	}
	if passed, dropped := runN(t, l.prog, dhcpDiscover(ifc.MAC), uint32(ifc.Index), 3); passed != 3 || dropped != 0 {
		t.Fatalf("classifier passed %d, dropped %d of 3", passed, dropped)
	}

	ifaces, err := PinnedIfaces(lab.pinPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int]net.HardwareAddr{ifc.Index: ifc.MAC}; !reflect.DeepEqual(ifaces, want) {
		t.Errorf("PinnedIfaces = %v, want %v", ifaces, want)
	}
	stats, err := PinnedStats(lab.pinPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{DHCP: KindStats{Marked: 3}}); stats != want {
		t.Errorf("PinnedStats = %+v, want %+v", stats, want)
	}
	limits, err := PinnedLimits(lab.pinPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int]TapLimit{ifc.Index: {Passed: 3}}; !reflect.DeepEqual(limits, want) {
		t.Errorf("PinnedLimits = %v, want %v", limits, want)
	}
	if _, err := PinnedStats(t.TempDir()); err == nil {
		t.Errorf("PinnedStats of a folder without pins: no error")
	}
}
