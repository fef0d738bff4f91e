package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

func TestSpoofableBridgePorts(t *testing.T) {
	entry := func(tap string, bridged bool) *binding.Entry {
		return &binding.Entry{Binding: &binding.Binding{TAP: tap}, Bridged: bridged}
	}
	routed, port10, port11 := entry("tap9", false), entry("tap10", true), entry("tap11", true)
	for _, tt := range []struct {
		name      string
		entries   []*binding.Entry
		hooks     bridgeHooks
		v4, v6    bool
		taps, off string
	}{
		{name: "both hooks off", entries: []*binding.Entry{routed, port10, port11}, v4: true, v6: true,
			taps: "tap10,tap11", off: "bridge-nf-call-iptables,bridge-nf-call-ip6tables"},
		{name: "both hooks on", entries: []*binding.Entry{port10}, hooks: bridgeHooks{true, true}, v4: true, v6: true},
		{name: "ip6tables hook off", entries: []*binding.Entry{port10}, hooks: bridgeHooks{IPTables: true}, v4: true, v6: true,
			taps: "tap10", off: "bridge-nf-call-ip6tables"},
		{name: "ip6tables hook off, IPv6 not served", entries: []*binding.Entry{port10}, hooks: bridgeHooks{IPTables: true}, v4: true},
		{name: "iptables hook off, DHCP not served", entries: []*binding.Entry{port10}, hooks: bridgeHooks{IP6Tables: true}, v6: true},
		{name: "iptables hook off", entries: []*binding.Entry{port10}, hooks: bridgeHooks{IP6Tables: true}, v4: true, v6: true,
			taps: "tap10", off: "bridge-nf-call-iptables"},
		{name: "routed TAPs only", entries: []*binding.Entry{routed}, v4: true, v6: true},
		{name: "no bindings", v4: true, v6: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			taps, off := spoofableBridgePorts(tt.entries, tt.hooks, tt.v4, tt.v6)
			if got := strings.Join(taps, ","); got != tt.taps {
				t.Errorf("taps = %q, want %q", got, tt.taps)
			}
			if got := strings.Join(off, ","); got != tt.off {
				t.Errorf("off = %q, want %q", got, tt.off)
			}
		})
	}
}

func TestReadBridgeHooks(t *testing.T) {
	dir := t.TempDir()
	if got := readBridgeHooks(filepath.Join(dir, "absent")); got != (bridgeHooks{}) {
		t.Errorf("without br_netfilter: %+v, want both off", got)
	}
	os.WriteFile(filepath.Join(dir, "bridge-nf-call-iptables"), []byte("1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bridge-nf-call-ip6tables"), []byte("0\n"), 0o644)
	if got, want := readBridgeHooks(dir), (bridgeHooks{IPTables: true}); got != want {
		t.Errorf("readBridgeHooks = %+v, want %+v", got, want)
	}
}
