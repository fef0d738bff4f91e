package loader

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// PinnedIfaces, PinnedStats and PinnedLimits read the classifier's state
// from the pins under pinPath, read-only and without a Loader or the pin
// folder's lock: what a second process, such as a test or an operator's
// tool, sees of a running daemon.

// PinnedIfaces reads the ifaces map: ifindex → the binding's MAC.
func PinnedIfaces(pinPath string) (map[int]net.HardwareAddr, error) {
	m, err := loadPinnedMap(pinPath, classifierMapIfaces)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	out := map[int]net.HardwareAddr{}
	var key classifierIfaceKey
	var val classifierIfaceValue
	it := m.Iterate()
	for it.Next(&key, &val) {
		out[int(key.Ifindex)] = net.HardwareAddr(append([]byte(nil), val.Mac[:]...))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read ifaces map: %w", err)
	}
	return out, nil
}

// PinnedStats reads the per-CPU counters and sums them.
func PinnedStats(pinPath string) (Stats, error) {
	m, err := loadPinnedMap(pinPath, classifierMapStats)
	if err != nil {
		return Stats{}, err
	}
	defer m.Close()
	return readStats(m)
}

// PinnedLimits reads every TAP's bucket counters, by ifindex.
func PinnedLimits(pinPath string) (map[int]TapLimit, error) {
	m, err := loadPinnedMap(pinPath, classifierMapLimits)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return readLimits(m)
}

func loadPinnedMap(pinPath, name string) (*ebpf.Map, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, name), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open pinned %s map: %w", name, err)
	}
	return m, nil
}
