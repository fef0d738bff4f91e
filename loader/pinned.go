package loader

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf"
)

// PinnedIfaces, PinnedStats, PinnedLimits and PinnedAnswers read the classifier's state
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

// PinnedAnswers reads the answers map: ifindex → the templates the
// classifier answers that TAP's RS and NS with.
func PinnedAnswers(pinPath string) (map[int]Answers, error) {
	m, err := loadPinnedMap(pinPath, classifierMapAnswers)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var keys []classifierIfaceKey
	var key classifierIfaceKey
	var val classifierIfaceAnswers
	it := m.Iterate()
	for it.Next(&key, &val) {
		keys = append(keys, key)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read answers map: %w", err)
	}
	out := map[int]Answers{}
	for _, k := range keys {
		// Under the entry's lock, as the classifier reads it: never half
		// of one write.
		if err := m.LookupWithFlags(k, &val, ebpf.LookupLock); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			return nil, fmt.Errorf("read answers entry %d: %w", k.Ifindex, err)
		}
		out[int(k.Ifindex)] = val.answers()
	}
	return out, nil
}

// PinnedRunStats reads the pinned classifier's run-time statistics: the
// time spent in its runs and their number, kept by the kernel while
// kernel.bpf_stats_enabled is on (or ebpf.EnableStats holds it on).
func PinnedRunStats(pinPath string) (time.Duration, uint64, error) {
	prog, err := ebpf.LoadPinnedProgram(filepath.Join(pinPath, progPin), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, fmt.Errorf("open pinned classifier: %w", err)
	}
	defer prog.Close()
	st, err := prog.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("classifier run statistics: %w", err)
	}
	return st.Runtime, st.RunCount, nil
}

func loadPinnedMap(pinPath, name string) (*ebpf.Map, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, name), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open pinned %s map: %w", name, err)
	}
	return m, nil
}
