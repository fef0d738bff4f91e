package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/loader"
)

// procBridgeNF holds br_netfilter's switches for the reader's network
// namespace; it is absent while the module is not loaded.
const procBridgeNF = "/proc/sys/net/bridge"

// bridgeHooks says which of br_netfilter's hooks pass bridged frames
// through iptables and ip6tables. With a hook on, NFQUEUE reports the
// frame's port (physindev); with it off, the daemon has only the frame's
// source MAC to find the TAP by among the bridge's ports.
type bridgeHooks struct {
	IPTables, IP6Tables bool
}

// readBridgeHooks reads the hooks under dir (procBridgeNF); a switch that
// cannot be read is off, as it is without the module.
func readBridgeHooks(dir string) bridgeHooks {
	on := func(name string) bool {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return err == nil && string(bytes.TrimSpace(b)) == "1"
	}
	return bridgeHooks{IPTables: on("bridge-nf-call-iptables"), IP6Tables: on("bridge-nf-call-ip6tables")}
}

// spoofableBridgePorts lists the bound TAPs whose requests iptables
// steering must find by source MAC: bridge ports, when br_netfilter's hook
// for a family served (v4: DHCP; v6: RS, NS, DHCPv6) is off. A VM on one of
// them that sends with a neighbour's MAC is answered as that neighbour,
// out of the neighbour's TAP, unless the bridge drops such frames. It also
// names the hooks that are off. (In tc steering the classifier on each TAP
// drops another MAC's requests before they are queued.)
func spoofableBridgePorts(entries []*binding.Entry, hooks bridgeHooks, v4, v6 bool) (taps, off []string) {
	if v4 && !hooks.IPTables {
		off = append(off, "bridge-nf-call-iptables")
	}
	if v6 && !hooks.IP6Tables {
		off = append(off, "bridge-nf-call-ip6tables")
	}
	if len(off) == 0 {
		return nil, nil
	}
	for _, e := range entries {
		if e.Bridged {
			taps = append(taps, e.Binding.TAP)
		}
	}
	if len(taps) == 0 {
		return nil, nil
	}
	return taps, off
}

// warnBridgeSpoofing logs, once at start in iptables steering, that bound
// bridge ports need the bridge's own source-MAC filtering.
func (d *daemon) warnBridgeSpoofing() {
	var v4, v6 bool
	q := d.cfg.Steered()
	for i, k := range loader.KindTable {
		if q.Num[i] != loader.NoQueue {
			v4, v6 = v4 || !k.IPv6, v6 || k.IPv6
		}
	}
	taps, off := spoofableBridgePorts(d.store.Entries(), readBridgeHooks(procBridgeNF), v4, v6)
	if len(taps) == 0 {
		return
	}
	d.log.Warn("bridge ports are told apart by source MAC only: a VM sending with a neighbour's MAC is answered as that neighbour; "+
		"drop frames whose source MAC is not the port's VM's on the bridge (ebtables or nft bridge rules, see the README)",
		"steering", config.SteeringIPTables, "ports", len(taps), "first", taps[0], "off", strings.Join(off, ","))
}
