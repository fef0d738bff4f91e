package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tools are the host's programs the VM gets, with their shared libraries:
// what the labs and the daemon run (test/lab, loader/rules.go). busybox
// supplies the rest (sh, mount, sysctl, kill, env, mv, udhcpc, poweroff).
// A test that needs a new program needs it here too: busybox's applet of
// the same name, where there is one, may lack options (setpriv does).
var Tools = []string{
	"ip", "tc", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore",
	"iptables-save", "ip6tables-save", "dhclient", "dhcpcd", "rdisc6", "ndisc6",
	"dnsmasq", "modprobe", "insmod", "lsmod", "depmod", "bpftool", "setpriv", "prlimit",
}

// hostFiles are copied when the host has them.
var hostFiles = []string{
	"/etc/protocols", "/etc/services", "/etc/ethertypes", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/usr/lib/x86_64-linux-gnu/xtables", "/usr/lib/dhcpcd",
}

// e2eTestdata is the e2e package's testdata folder, from the module root
// (go run ./test/vm runs there).
const e2eTestdata = "test/e2e/testdata"

//go:embed init.sh
var initScript []byte

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"dhcpcd:x:102:65534:dhcpcd:/usr/lib/dhcpcd:/bin/false\n" +
		"dnsmasq:x:999:65534:dnsmasq:/var/lib/misc:/bin/false\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\ndip:x:30:\nnogroup:x:65534:\n"
)

// stageUserspace fills root with the VM's programs: busybox, the host's
// tools and their libraries, the daemon and the e2e test binary.
func stageUserspace(root, daemon, e2e string) error {
	s := &stager{root: root, done: map[string]bool{}}
	for _, l := range [][2]string{{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}} {
		if err := os.MkdirAll(filepath.Join(root, l[1]), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			return err
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "out", "root", "etc/netns",
		"var/lib/dhcp", "var/lib/dhcpcd", "var/lib/misc", "var/run", "usr/local/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for _, t := range Tools {
		p, err := exec.LookPath(t)
		if err != nil {
			return fmt.Errorf("the VM needs %s from the host: %w", t, err)
		}
		if err := s.binary(p); err != nil {
			return err
		}
	}
	for _, f := range hostFiles {
		if err := s.tree(f); err != nil {
			return err
		}
	}
	if err := s.busybox(); err != nil {
		return err
	}
	files := map[string][]byte{"init": initScript, "etc/passwd": []byte(passwd), "etc/group": []byte(group),
		"etc/nsswitch.conf": []byte("passwd: files\ngroup: files\nhosts: files\n"),
		"etc/hosts":         []byte("127.0.0.1 localhost\n::1 localhost\n")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o755); err != nil {
			return err
		}
	}
	for src, dst := range map[string]string{daemon: "usr/local/bin/nfdhcpd", e2e: "usr/local/bin/e2e.test"} {
		if err := copyFile(src, filepath.Join(root, dst)); err != nil {
			return err
		}
	}
	// The suite runs in /e2e as go test runs it in its package's folder:
	// tests open testdata/ relative to it.
	if err := os.MkdirAll(filepath.Join(root, "e2e"), 0o755); err != nil {
		return err
	}
	if err := filepath.Walk(e2eTestdata, func(f string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return copyFile(f, filepath.Join(root, "e2e", "testdata", strings.TrimPrefix(f, e2eTestdata)))
	}); err != nil && !os.IsNotExist(err) {
		return err
	}
	// Libraries are found without searching: ld.so.cache names their paths.
	return run("", "ldconfig", "-r", root)
}

type stager struct {
	root string
	done map[string]bool
}

// place copies the host file p into root at its real path and, where p is
// reached through links (/sbin/ip, /lib64/ld-linux-x86-64.so.2,
// libfoo.so.1), links p's path to it.
func (s *stager) place(p string) (real string, err error) {
	real, err = filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if !s.done[real] {
		if err := copyFile(real, filepath.Join(s.root, real)); err != nil {
			return "", err
		}
		s.done[real] = true
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	if at := filepath.Join(dir, filepath.Base(p)); at != real && !s.done[at] {
		if err := os.MkdirAll(filepath.Join(s.root, dir), 0o755); err != nil {
			return "", err
		}
		if err := os.Symlink(real, filepath.Join(s.root, at)); err != nil && !os.IsExist(err) {
			return "", err
		}
		s.done[at] = true
	}
	return real, nil
}

// binary places an executable or library and every library ldd lists.
func (s *stager) binary(p string) error {
	if _, err := s.place(p); err != nil {
		return err
	}
	out, err := exec.Command("ldd", p).Output()
	if err != nil {
		return nil // static, or not an ELF: nothing to add
	}
	for _, lib := range parseLdd(string(out)) {
		if _, err := s.place(lib); err != nil {
			return fmt.Errorf("%s needs %s: %w", p, lib, err)
		}
	}
	return nil
}

// parseLdd returns the library paths in ldd's output, the dynamic loader
// included; the vDSO and unresolved names have none.
func parseLdd(out string) []string {
	var libs []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs
}

// tree places a host file, or every file under a host folder (shared
// objects with their libraries), when it exists.
func (s *stager) tree(p string) error {
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	return filepath.Walk(p, func(f string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return s.binary(f)
	})
}

// busybox installs the static busybox and links each of its applets
// where no real program was placed.
func (s *stager) busybox() error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("the VM needs busybox (busybox-static): %w", err)
	}
	if out, _ := exec.Command("ldd", bb).CombinedOutput(); !strings.Contains(string(out), "not a dynamic executable") {
		return fmt.Errorf("%s is not static (install busybox-static)", bb)
	}
	if err := copyFile(bb, filepath.Join(s.root, "usr/bin/busybox")); err != nil {
		return err
	}
	list, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, a := range strings.Fields(string(list)) {
		a = strings.TrimPrefix(a, "/")
		if strings.HasPrefix(a, "bin/") || strings.HasPrefix(a, "sbin/") {
			a = "usr/" + a
		}
		at := filepath.Join(s.root, a)
		if _, err := os.Lstat(at); err == nil {
			continue
		}
		// A real tool placed elsewhere in PATH wins over the applet.
		if _, err := os.Lstat(filepath.Join(s.root, "usr/sbin", filepath.Base(a))); err == nil {
			continue
		}
		if _, err := os.Lstat(filepath.Join(s.root, "usr/bin", filepath.Base(a))); err == nil {
			continue
		}
		os.MkdirAll(filepath.Dir(at), 0o755)
		if err := os.Symlink("/usr/bin/busybox", at); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to dst with src's mode, making dst's folder.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// writeCPIO archives root as an uncompressed newc cpio, owned by root. It
// is left uncompressed: the VM unpacks it under software emulation.
func writeCPIO(root, dst string) error {
	cmd := exec.Command("bash", "-o", "pipefail", "-c",
		`find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet > "$0"`, dst)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cpio of %s: %v\n%s", root, err, out)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() < 1024 {
		return fmt.Errorf("cpio of %s: empty archive %s (is cpio installed?)", root, dst)
	}
	return nil
}
