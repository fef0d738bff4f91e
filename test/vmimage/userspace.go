package vmimage

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Stager fills a folder with a guest's userspace: the host's programs with
// their libraries, a static busybox for the rest, and files of the
// caller's. The folder becomes an initramfs archive with WriteCPIO.
type Stager struct {
	Root string
	done map[string]bool
}

// NewStager makes root a merged-/usr skeleton (bin, sbin, lib and lib64
// link into usr/, as on the host, so that a program's recorded paths hold)
// with the folders an init mounts on and the given others.
func NewStager(root string, dirs ...string) (*Stager, error) {
	for _, l := range [][2]string{{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}} {
		if err := os.MkdirAll(filepath.Join(root, l[1]), 0o755); err != nil {
			return nil, err
		}
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			return nil, err
		}
	}
	for _, d := range append([]string{"proc", "sys", "dev", "tmp", "run", "root", "etc", "var/run", "usr/local/bin"}, dirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	return &Stager{Root: root, done: map[string]bool{}}, nil
}

// Tools places each of the host's programs named, found in PATH.
func (s *Stager) Tools(names ...string) error {
	for _, t := range names {
		p, err := exec.LookPath(t)
		if err != nil {
			return fmt.Errorf("the guest needs %s from the host: %w", t, err)
		}
		if err := s.Binary(p); err != nil {
			return err
		}
	}
	return nil
}

// place copies the host file p into root at its real path and, where p is
// reached through links (/sbin/ip, /lib64/ld-linux-x86-64.so.2,
// libfoo.so.1), links p's path to it.
func (s *Stager) place(p string) (real string, err error) {
	real, err = filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if !s.done[real] {
		if err := CopyFile(real, filepath.Join(s.Root, real)); err != nil {
			return "", err
		}
		s.done[real] = true
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	if at := filepath.Join(dir, filepath.Base(p)); at != real && !s.done[at] {
		if err := os.MkdirAll(filepath.Join(s.Root, dir), 0o755); err != nil {
			return "", err
		}
		if err := os.Symlink(real, filepath.Join(s.Root, at)); err != nil && !os.IsExist(err) {
			return "", err
		}
		s.done[at] = true
	}
	return real, nil
}

// Binary places a host executable or library (an absolute path) and every
// library ldd lists for it.
func (s *Stager) Binary(p string) error {
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

// Tree places a host file, or every file under a host folder (shared
// objects with their libraries), when it exists.
func (s *Stager) Tree(p string) error {
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	return filepath.Walk(p, func(f string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return s.Binary(f)
	})
}

// Busybox installs the host's static busybox and links each of its
// applets where no real program was placed. Call it after placing the
// host's programs.
func (s *Stager) Busybox() error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("the guest needs busybox (busybox-static): %w", err)
	}
	if out, _ := exec.Command("ldd", bb).CombinedOutput(); !strings.Contains(string(out), "not a dynamic executable") {
		return fmt.Errorf("%s is not static (install busybox-static)", bb)
	}
	if err := CopyFile(bb, filepath.Join(s.Root, "usr/bin/busybox")); err != nil {
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
		at := filepath.Join(s.Root, a)
		if _, err := os.Lstat(at); err == nil {
			continue
		}
		// A real tool placed elsewhere in PATH wins over the applet.
		if _, err := os.Lstat(filepath.Join(s.Root, "usr/sbin", filepath.Base(a))); err == nil {
			continue
		}
		if _, err := os.Lstat(filepath.Join(s.Root, "usr/bin", filepath.Base(a))); err == nil {
			continue
		}
		os.MkdirAll(filepath.Dir(at), 0o755)
		if err := os.Symlink("/usr/bin/busybox", at); err != nil {
			return err
		}
	}
	return nil
}

// WriteFiles writes files of the caller's, by path under root, with mode.
func (s *Stager) WriteFiles(mode os.FileMode, files map[string][]byte) error {
	for name, b := range files {
		p := filepath.Join(s.Root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			return err
		}
	}
	return nil
}

// Finish writes ld.so.cache, so that libraries are found by their paths
// without searching.
func (s *Stager) Finish() error {
	return run("", "ldconfig", "-r", s.Root)
}

// CopyFile copies src to dst with src's mode, making dst's folder.
func CopyFile(src, dst string) error {
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

// WriteCPIO archives root as an uncompressed newc cpio, owned by root. It
// is left uncompressed: the guest unpacks it under software emulation.
func WriteCPIO(root, dst string) error {
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

// Initrd stages t's modules (m) in dir and appends their archive to the
// userspace one: the kernel unpacks concatenated archives in turn. The
// Preload modules to load are listed in PreloadList.
func Initrd(dir string, t *Tree, m Modules, userspace string) (string, error) {
	modroot := filepath.Join(dir, "modroot")
	os.RemoveAll(modroot)
	load, err := m.Stage(t, modroot)
	if err != nil {
		return "", err
	}
	list := filepath.Join(modroot, PreloadList)
	if err := os.MkdirAll(filepath.Dir(list), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(list, []byte(strings.Join(load, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	mods := filepath.Join(dir, "modules.cpio")
	if err := WriteCPIO(modroot, mods); err != nil {
		return "", err
	}
	initrd := filepath.Join(dir, "initrd")
	cmd := exec.Command("sh", "-c", `cat "$1" "$2" > "$3"`, "sh", userspace, mods, initrd)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initrd: %v\n%s", err, b)
	}
	return initrd, nil
}
