package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Preload are the modules the VM's init loads before the suite: what the
// labs need, and what nothing would load on demand (the 9p share, bridge
// netfilter, which the labs only modprobe when /proc/sys/net/bridge is
// missing). Anything else is loaded by the kernel through /sbin/modprobe.
var Preload = []string{
	"virtio_pci", "9pnet_virtio", "9p",
	"virtio_rng", "veth", "tun", "bridge", "br_netfilter",
	"sch_ingress", "cls_bpf", "crc32c_generic",
	"nfnetlink_queue", "nf_tables", "nft_compat", "x_tables",
	"ip_tables", "ip6_tables", "iptable_mangle", "ip6table_mangle",
	"xt_NFQUEUE", "xt_mark", "xt_physdev", "xt_comment", "xt_tcpudp",
}

// moduleDirs are shipped whole (under kernel/), so that whatever iptables
// or tc asks the kernel to load on demand is there.
var moduleDirs = []string{
	"net/netfilter", "net/ipv4/netfilter", "net/ipv6/netfilter", "net/bridge",
	"net/sched", "net/9p", "fs/9p", "drivers/virtio", "drivers/net/veth",
	"drivers/net/tun", "drivers/char/hw_random",
}

// moduleName is the name modprobe knows a module file by.
func moduleName(path string) string {
	b := filepath.Base(path)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		b = strings.TrimSuffix(b, ext)
	}
	return strings.ReplaceAll(strings.TrimSuffix(b, ".ko"), "-", "_")
}

// parseModulesDep reads modules.dep: each module's path and the paths it
// depends on.
func parseModulesDep(r io.Reader) (map[string][]string, error) {
	deps := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep:%d: no colon in %q", n, line)
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, sc.Err()
}

// closure returns the module paths of roots and everything they depend
// on, sorted. Roots are paths as in modules.dep.
func closure(deps map[string][]string, roots []string) ([]string, error) {
	seen := map[string]bool{}
	var visit func(p string) error
	visit = func(p string) error {
		if seen[p] {
			return nil
		}
		d, ok := deps[p]
		if !ok {
			return fmt.Errorf("%s is not in modules.dep", p)
		}
		seen[p] = true
		for _, q := range d {
			if err := visit(q); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// roots picks, among modules.dep's paths, the Preload modules and every
// module under moduleDirs. It returns the Preload names that are neither
// modules nor built in.
func roots(deps map[string][]string, builtin map[string]bool) (paths, missing []string) {
	byName := map[string]string{}
	for p := range deps {
		byName[moduleName(p)] = p
		for _, d := range moduleDirs {
			if strings.HasPrefix(p, "kernel/"+d+"/") || strings.HasPrefix(p, "kernel/"+d+".ko") {
				paths = append(paths, p)
			}
		}
	}
	for _, n := range Preload {
		if p, ok := byName[n]; ok {
			paths = append(paths, p)
		} else if !builtin[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(paths)
	return paths, missing
}

// stageModules copies the modules the VM needs, with their dependencies,
// from t into root/usr/lib/modules/<release>, decompressed (busybox and the
// kernel's finit_module on 5.10 cannot read .ko.xz), and runs depmod there
// so that modprobe in the VM works. It returns the Preload modules to load
// (the built-in ones left out).
func stageModules(t *Tree, root string) ([]string, error) {
	base := strings.TrimSuffix(t.Modules, "/lib/modules/"+t.Release)
	if _, err := os.Stat(filepath.Join(t.Modules, "modules.dep")); err != nil {
		if err := run("", "depmod", "-b", base, t.Release); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(filepath.Join(t.Modules, "modules.dep"))
	if err != nil {
		return nil, err
	}
	deps, err := parseModulesDep(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Modules, err)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(t.Modules, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[moduleName(l)] = true
		}
	}
	rootPaths, missing := roots(deps, builtin)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: modules neither built in nor shipped: %s", t.Release, strings.Join(missing, " "))
	}
	all, err := closure(deps, rootPaths)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Release, err)
	}
	// Under usr/: the userspace archive makes /lib a link to usr/lib, and
	// a lib folder in this archive would replace that link.
	dst := filepath.Join(root, "usr", "lib", "modules", t.Release)
	for _, p := range all {
		if err := copyModule(filepath.Join(t.Modules, p), filepath.Join(dst, p)); err != nil {
			return nil, err
		}
	}
	for _, n := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		if err := copyFile(filepath.Join(t.Modules, n), filepath.Join(dst, n)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	if err := run("", "depmod", "-b", filepath.Join(root, "usr"), t.Release); err != nil {
		return nil, err
	}
	var load []string
	for _, n := range Preload {
		if !builtin[n] {
			load = append(load, n)
		}
	}
	return load, nil
}

// copyModule copies src to dst without its compression suffix,
// decompressing it.
func copyModule(src, dst string) error {
	var tool string
	switch filepath.Ext(src) {
	case ".xz":
		tool = "xz"
	case ".zst":
		tool = "zstd"
	case ".gz":
		tool = "gzip"
	}
	if tool == "" {
		return copyFile(src, dst)
	}
	dst = strings.TrimSuffix(dst, filepath.Ext(src))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	var stderr strings.Builder
	cmd := exec.Command(tool, "-dc", src)
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s -dc %s: %v\n%s", tool, src, err, stderr.String())
	}
	return out.Close()
}
