package vmimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// refreshAfter is how long a cached kernel is used before the suite is
// asked for its current one.
const refreshAfter = 30 * 24 * time.Hour

// Tree is an extracted kernel package.
type Tree struct {
	Dir     string // the package's files
	Release string // its `uname -r`, the folder under lib/modules
	Vmlinuz string
	Modules string // <Dir>/[usr/]lib/modules/<Release>
}

// Logf reports progress (a download) to the caller.
type Logf func(format string, args ...any)

// Fetch returns k's kernel package extracted under cache, checked to be
// of k's series. The first run (or refresh) resolves linux-image-amd64 in
// the suite with a private apt configuration and downloads the package;
// later runs reuse the package named in <cache>/<suite>.current without
// touching the network.
func Fetch(cache string, k Kernel, refresh bool, logf Logf) (*Tree, error) {
	t, err := fetch(cache, k, refresh, logf)
	if err != nil {
		return nil, fmt.Errorf("kernel %s (%s): %w", k.Name, k.Suite, err)
	}
	if !strings.HasPrefix(t.Release, k.Series) {
		return nil, fmt.Errorf("kernel %s: %s's linux-image-amd64 is %s, not %s*: update Kernels", k.Name, k.Suite, t.Release, k.Series)
	}
	return t, nil
}

func fetch(cache string, k Kernel, refresh bool, logf Logf) (*Tree, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	current := filepath.Join(cache, k.Suite+".current")
	deb := ""
	if b, err := os.ReadFile(current); err == nil {
		deb = strings.TrimSpace(string(b))
		if _, err := os.Stat(filepath.Join(cache, "debs", deb)); err != nil {
			deb = ""
		}
	}
	// A cached kernel is looked at again once a month, so that the
	// suite's security updates are tested too; a mirror that cannot be
	// reached then is no reason to fail.
	stale := false
	if fi, err := os.Stat(current); err == nil && time.Since(fi.ModTime()) > refreshAfter {
		stale = true
	}
	if deb == "" || refresh || stale {
		fresh, err := download(cache, k, logf)
		switch {
		case err != nil && deb != "" && !refresh:
			logf("%s: keeping the cached %s: %v", k.Name, deb, err)
		case err != nil:
			return nil, err
		default:
			if deb != "" && deb != fresh {
				// The suite moved on: the old package and its tree go.
				os.Remove(filepath.Join(cache, "debs", deb))
				os.RemoveAll(filepath.Join(cache, "tree", strings.TrimSuffix(deb, ".deb")))
			}
			deb = fresh
			if err := os.WriteFile(current, []byte(deb+"\n"), 0o644); err != nil {
				return nil, err
			}
		}
	}
	dir := filepath.Join(cache, "tree", strings.TrimSuffix(deb, ".deb"))
	if _, err := os.Stat(dir); err != nil {
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, err
		}
		if err := run("", "dpkg-deb", "-x", filepath.Join(cache, "debs", deb), tmp); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return nil, err
		}
	}
	return openTree(dir)
}

// download fetches the suite's current generic kernel package into
// <cache>/debs and returns its file name.
func download(cache string, k Kernel, logf Logf) (string, error) {
	base := filepath.Join(cache, "apt", k.Suite)
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return "", err
		}
	}
	sources := filepath.Join(base, "sources.list")
	line := fmt.Sprintf("deb [signed-by=%s] %s %s main\n", Keyring, Mirror, k.Suite)
	if err := os.WriteFile(sources, []byte(line), 0o644); err != nil {
		return "", err
	}
	// Nothing of the host's apt state is read or written but the dpkg
	// status: the suite's lists and caches stay in the cache folder.
	opts := []string{
		"-o", "Dir::State::Lists=" + filepath.Join(base, "lists"),
		"-o", "Dir::Etc::SourceList=" + sources,
		"-o", "Dir::Etc::SourceParts=/nonexistent",
		"-o", "Dir::Cache=" + filepath.Join(base, "cache"),
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::http::Timeout=60",
		"-q",
	}
	logf("%s: apt-get update (%s)", k.Name, k.Suite)
	if err := run("", "apt-get", append(opts, "update")...); err != nil {
		return "", err
	}
	out, err := output("apt-cache", append(opts, "depends", "linux-image-amd64")...)
	if err != nil {
		return "", err
	}
	pkg := imagePackage(out)
	if pkg == "" {
		return "", fmt.Errorf("%s: linux-image-amd64 depends on no linux-image package:\n%s", k.Suite, out)
	}
	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	before, _ := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
	logf("%s: apt-get download %s", k.Name, pkg)
	if err := run(debs, "apt-get", append(opts, "download", pkg)...); err != nil {
		return "", err
	}
	after, _ := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
	if len(after) == 0 {
		return "", fmt.Errorf("%s: apt-get download %s left no package in %s", k.Suite, pkg, debs)
	}
	// The newest file is the one just downloaded (or the same as before).
	newest := after[len(after)-1]
	for _, f := range after {
		if !contains(before, f) {
			newest = f
		}
	}
	return filepath.Base(newest), nil
}

// imagePackage picks the real image package out of `apt-cache depends
// linux-image-amd64`.
func imagePackage(depends string) string {
	for _, l := range strings.Split(depends, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			return f[1]
		}
	}
	return ""
}

func openTree(dir string) (*Tree, error) {
	t := &Tree{Dir: dir}
	vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vm) != 1 {
		return nil, fmt.Errorf("%s: want one boot/vmlinuz-*, found %d", dir, len(vm))
	}
	t.Vmlinuz = vm[0]
	t.Release = strings.TrimPrefix(filepath.Base(vm[0]), "vmlinuz-")
	for _, m := range []string{"lib/modules", "usr/lib/modules"} {
		p := filepath.Join(dir, m, t.Release)
		if _, err := os.Stat(p); err == nil {
			t.Modules = p
		}
	}
	if t.Modules == "" {
		return nil, fmt.Errorf("%s: no lib/modules/%s", dir, t.Release)
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run runs a command in dir; its error names it and holds its output.
func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, msg)
	}
	return string(out), nil
}

// Cache is where kernel packages are kept between runs: $VMTEST_CACHE,
// else /var/cache/nfdhcpd-vmtest.
func Cache() string {
	if c := os.Getenv("VMTEST_CACHE"); c != "" {
		return c
	}
	return "/var/cache/nfdhcpd-vmtest"
}
