package vmimage

import (
	"reflect"
	"strings"
	"testing"
)

const sampleDep = `kernel/net/netfilter/nf_tables.ko.xz: kernel/lib/libcrc32c.ko.xz kernel/net/netfilter/nfnetlink.ko.xz
kernel/net/netfilter/nft_compat.ko.xz: kernel/net/netfilter/nf_tables.ko.xz kernel/lib/libcrc32c.ko.xz kernel/net/netfilter/nfnetlink.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/netfilter/nfnetlink.ko.xz:
kernel/net/netfilter/x_tables.ko.xz:
kernel/lib/libcrc32c.ko.xz:
kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz
kernel/net/llc/llc.ko.xz:
kernel/drivers/net/veth.ko.xz:
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz
kernel/lib/crc16.ko.xz:
`

func TestClosure(t *testing.T) {
	deps, err := parseModulesDep(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		roots []string
		want  []string
	}{
		{[]string{"kernel/net/netfilter/nft_compat.ko.xz"}, []string{
			"kernel/lib/libcrc32c.ko.xz", "kernel/net/netfilter/nf_tables.ko.xz",
			"kernel/net/netfilter/nfnetlink.ko.xz", "kernel/net/netfilter/nft_compat.ko.xz",
			"kernel/net/netfilter/x_tables.ko.xz"}},
		{[]string{"kernel/net/bridge/br_netfilter.ko.xz", "kernel/drivers/net/veth.ko.xz"}, []string{
			"kernel/drivers/net/veth.ko.xz", "kernel/net/802/stp.ko.xz", "kernel/net/bridge/br_netfilter.ko.xz",
			"kernel/net/bridge/bridge.ko.xz", "kernel/net/llc/llc.ko.xz"}},
		{nil, []string{}},
	} {
		got, err := closure(deps, c.roots)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("closure(%v) = %v, want %v", c.roots, got, c.want)
		}
	}
	if _, err := closure(deps, []string{"kernel/net/nope.ko"}); err == nil || !strings.Contains(err.Error(), "kernel/net/nope.ko is not in modules.dep") {
		t.Errorf("closure of an unknown module: err %v", err)
	}
}

func TestParseModulesDepRejectsGarbage(t *testing.T) {
	if _, err := parseModulesDep(strings.NewReader("kernel/a.ko:\nno colon here\n")); err == nil || !strings.Contains(err.Error(), "modules.dep:2") {
		t.Errorf("err %v, want one naming line 2", err)
	}
}

func TestRoots(t *testing.T) {
	deps, err := parseModulesDep(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	m := Modules{
		Preload: []string{"nft_compat", "virtio_pci", "xt_NFQUEUE"},
		Dirs:    []string{"net/netfilter", "net/bridge", "drivers/net/veth"},
	}
	// The sample lacks virtio_pci and xt_NFQUEUE; as a built-in the first
	// is fine.
	builtin := map[string]bool{"virtio_pci": true}
	paths, missing := m.roots(deps, builtin)
	if !reflect.DeepEqual(missing, []string{"xt_NFQUEUE"}) {
		t.Errorf("missing = %v, want [xt_NFQUEUE]", missing)
	}
	// Whole folders come along (net/netfilter, net/bridge, veth); ext4
	// and its dependency do not.
	for _, p := range paths {
		if strings.Contains(p, "ext4") || strings.Contains(p, "crc16") {
			t.Errorf("roots include %s", p)
		}
	}
	for _, p := range []string{"kernel/net/netfilter/nfnetlink.ko.xz", "kernel/net/bridge/bridge.ko.xz", "kernel/drivers/net/veth.ko.xz"} {
		found := false
		for _, q := range paths {
			found = found || q == p
		}
		if !found {
			t.Errorf("roots lack %s: %v", p, paths)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/netfilter/xt_NFQUEUE.ko":      "xt_NFQUEUE",
		"kernel/net/9p/9pnet_virtio.ko.xz":        "9pnet_virtio",
		"kernel/crypto/crc32c-generic.ko.zst":     "crc32c_generic",
		"kernel/net/ipv6/netfilter/ip6_tables.ko": "ip6_tables",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}
