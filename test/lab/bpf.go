package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// The classifier's map layouts (bpf/nfdhcpd.h), mirrored so that tests read
// the daemon's pinned state as an operator's tools would, without the
// loader's lock.
type ifaceKey struct{ Ifindex uint32 }

type ifaceValue struct {
	MAC   [6]byte
	Kinds uint8
	Flags uint8
}

// KindCounters are one kind's classifier counters.
type KindCounters struct{ Marked, Spoofed, Disabled, Limited uint64 }

// Counters are the classifier's counters, summed over CPUs.
type Counters struct {
	DHCP, RS, NS, DHCPv6  KindCounters
	Unbound, Unconfigured uint64
}

// PinnedIfaces reads the pinned ifaces map: ifindex → the bound MAC.
func PinnedIfaces(pinPath string) (map[int]net.HardwareAddr, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, "ifaces"), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	out := map[int]net.HardwareAddr{}
	var k ifaceKey
	var v ifaceValue
	it := m.Iterate()
	for it.Next(&k, &v) {
		out[int(k.Ifindex)] = net.HardwareAddr(append([]byte(nil), v.MAC[:]...))
	}
	return out, it.Err()
}

// PinnedCounters reads the pinned per-CPU stats map and sums it.
func PinnedCounters(pinPath string) (Counters, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, "stats"), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return Counters{}, err
	}
	defer m.Close()
	var perCPU []Counters
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return Counters{}, fmt.Errorf("stats: %w", err)
	}
	var sum Counters
	add := func(a *KindCounters, b KindCounters) {
		a.Marked += b.Marked
		a.Spoofed += b.Spoofed
		a.Disabled += b.Disabled
		a.Limited += b.Limited
	}
	for _, c := range perCPU {
		add(&sum.DHCP, c.DHCP)
		add(&sum.RS, c.RS)
		add(&sum.NS, c.NS)
		add(&sum.DHCPv6, c.DHCPv6)
		sum.Unbound += c.Unbound
		sum.Unconfigured += c.Unconfigured
	}
	return sum, nil
}

// TapLimit is one TAP's rate-limit counters (struct iface_limit).
type TapLimit struct {
	Lock, Pad uint32
	Tat       uint64
	Passed    uint64 // admitted
	Limited   uint64 // dropped in the kernel
}

// PinnedLimits reads the pinned limits map: ifindex → its bucket.
func PinnedLimits(pinPath string) (map[int]TapLimit, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, "limits"), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	out := map[int]TapLimit{}
	var k ifaceKey
	var v TapLimit
	it := m.Iterate()
	for it.Next(&k, &v) {
		out[int(k.Ifindex)] = v
	}
	return out, it.Err()
}

// PinnedTCXLinks lists the TCX links pinned under pinPath/links whose
// program is attached to ifindex.
func PinnedTCXLinks(pinPath string, ifindex int) ([]string, error) {
	dir := filepath.Join(pinPath, "links")
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		idx, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(idx); !ok || err != nil || n != ifindex {
			continue
		}
		l, err := link.LoadPinnedLink(filepath.Join(dir, e.Name()), nil)
		if err != nil {
			return nil, err
		}
		info, err := l.Info()
		l.Close()
		if err != nil {
			return nil, err
		}
		if tcx := info.TCX(); tcx != nil && int(tcx.Ifindex) == ifindex {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Ifindex is the ifindex of a link in the host namespace.
func (l *Lab) Ifindex(name string) int {
	l.t.Helper()
	out := l.Host("cat", "/sys/class/net/"+name+"/ifindex")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		l.t.Fatalf("ifindex of %s: %q", name, out)
	}
	return n
}
