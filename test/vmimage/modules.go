package vmimage

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

// Modules is what a guest's kernel needs beyond its built-in drivers.
type Modules struct {
	// Preload are loaded by the guest's init, in order, before anything
	// runs: what nothing would load on demand (virtio, the 9p share,
	// bridge netfilter). Anything else is loaded by the kernel through
	// /sbin/modprobe, when the guest has it.
	Preload []string
	// Dirs are shipped whole (folders under the kernel's kernel/), so that
	// whatever a tool asks the kernel to load on demand is there.
	Dirs []string
}

// PreloadList is the file in the initramfs listing the Preload modules the
// init must load, one a line: the built-in ones are left out.
const PreloadList = "etc/preload-modules"

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
// module under Dirs. It returns the Preload names that are neither modules
// nor built in.
func (m Modules) roots(deps map[string][]string, builtin map[string]bool) (paths, missing []string) {
	byName := map[string]string{}
	for p := range deps {
		byName[moduleName(p)] = p
		for _, d := range m.Dirs {
			if strings.HasPrefix(p, "kernel/"+d+"/") || strings.HasPrefix(p, "kernel/"+d+".ko") {
				paths = append(paths, p)
			}
		}
	}
	for _, n := range m.Preload {
		if p, ok := byName[n]; ok {
			paths = append(paths, p)
		} else if !builtin[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(paths)
	return paths, missing
}

// Stage copies the modules, with their dependencies, from t into
// root/usr/lib/modules/<release>, decompressed (busybox and the kernel's
// finit_module on 5.10 cannot read .ko.xz), and runs depmod there so that
// modprobe in the guest works. It returns the Preload modules to load (the
// built-in ones left out).
func (m Modules) Stage(t *Tree, root string) ([]string, error) {
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
	rootPaths, missing := m.roots(deps, builtin)
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
		if err := CopyFile(filepath.Join(t.Modules, n), filepath.Join(dst, n)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	if err := run("", "depmod", "-b", filepath.Join(root, "usr"), t.Release); err != nil {
		return nil, err
	}
	var load []string
	for _, n := range m.Preload {
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
		return CopyFile(src, dst)
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
