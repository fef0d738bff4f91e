package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged owner the tests plant links as.
var nobody = account{name: "nobody", uid: 65534, gid: 65534}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files owned by another user")
	}
}

func owner(t *testing.T, path string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// A link in a folder the user owns is followed only when root made it.
func TestOpenDirLinks(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	user := filepath.Join(root, "user")
	target := filepath.Join(root, "etc")
	os.Mkdir(user, 0o755)
	os.Mkdir(target, 0o755)
	os.Chown(user, nobody.uid, nobody.gid)
	os.Symlink(target, filepath.Join(user, "planted"))
	os.Lchown(filepath.Join(user, "planted"), nobody.uid, nobody.gid)
	os.Mkdir(filepath.Join(root, "a"), 0o755)
	os.Symlink("../etc", filepath.Join(root, "a", "byroot"))

	_, _, err := openDir(filepath.Join(user, "planted"), true)
	if err == nil || !strings.Contains(err.Error(), "planted: a symbolic link owned by uid 65534: refusing to follow it as uid 0") {
		t.Errorf("planted link: %v", err)
	}
	_, _, err = openDir(filepath.Join(user, "planted", "sub"), true)
	if err == nil || !strings.Contains(err.Error(), "refusing to follow it") {
		t.Errorf("planted link as a middle component: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "sub")); !os.IsNotExist(err) {
		t.Errorf("a folder was made through the planted link: %v", err)
	}

	d, created, err := openDir(filepath.Join(root, "a", "byroot", "new", "run"), true)
	if err != nil {
		t.Fatalf("root's relative link: %v", err)
	}
	defer d.Close()
	if !created {
		t.Errorf("created = false for a new folder")
	}
	if fi, err := os.Stat(filepath.Join(target, "new", "run")); err != nil || !fi.IsDir() {
		t.Errorf("not made through root's link: %v", err)
	}
	// A file where a folder is wanted.
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	if _, _, err := openDir(filepath.Join(root, "file", "x"), true); err == nil || !strings.Contains(err.Error(), "not a folder (a regular file)") {
		t.Errorf("file as a folder: %v", err)
	}
}

// openRegular refuses, without blocking, anything but a regular file with
// one link.
func TestOpenRegular(t *testing.T) {
	dirPath := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("secret"), 0o600)
	os.Symlink(victim, filepath.Join(dirPath, "link"))
	unix.Mkfifo(filepath.Join(dirPath, "fifo"), 0o644)
	os.Link(victim, filepath.Join(dirPath, "hard"))
	os.Mkdir(filepath.Join(dirPath, "dir"), 0o755)
	dir, _, err := openDir(dirPath, false)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for name, want := range map[string]string{
		"link": "is a symbolic link: refusing to follow it",
		"fifo": "is a FIFO or socket, not a regular file",
		"hard": "has 2 hard links: refusing to write to it",
		"dir":  "is a directory",
	} {
		f, err := openRegular(dir, name, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o640)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
		if f != nil {
			f.Close()
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "secret" {
		t.Errorf("victim changed: %q", b)
	}
	f, err := openRegular(dir, "new", unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// A folder is handed to the user when it is the daemon's own, never when
// it holds other files.
func TestHandOver(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		name    string
		files   []string
		created bool
		mine    bool
	}{
		{"created", []string{"other"}, true, true},
		{"empty", nil, false, true},
		{"our files", []string{"nfdhcpd.log", "nfdhcpd.log.1", "nfdhcpd.log.2.gz"}, false, true},
		{"shared", []string{"nfdhcpd.log", "syslog"}, false, false},
		{"log and pidfile", []string{"nfdhcpd.log", "nfdhcpd.pid"}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir()
			for _, f := range tt.files {
				os.WriteFile(filepath.Join(path, f), nil, 0o644)
			}
			dir, _, err := openDir(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			mine, err := handOver(dir, tt.created, []string{logFileName, "nfdhcpd.pid"}, nobody)
			if err != nil || mine != tt.mine {
				t.Fatalf("handOver = %v, %v; want %v", mine, err, tt.mine)
			}
			wantUID := 0
			if tt.mine {
				wantUID = nobody.uid
			}
			if uid, _ := owner(t, path); uid != wantUID {
				t.Errorf("owner %d, want %d", uid, wantUID)
			}
		})
	}
}

// chownAt gives a tree to the user without following a link in it, also
// one to a folder.
func TestChownAt(t *testing.T) {
	needRoot(t)
	path := t.TempDir()
	victims := t.TempDir()
	os.WriteFile(filepath.Join(victims, "passwd"), nil, 0o644)
	os.MkdirAll(filepath.Join(path, "links"), 0o700)
	os.WriteFile(filepath.Join(path, "ifaces"), nil, 0o600)
	os.WriteFile(filepath.Join(path, "links", "7-tap10"), nil, 0o600)
	os.Symlink(filepath.Join(victims, "passwd"), filepath.Join(path, "links", "planted"))
	os.Symlink(victims, filepath.Join(path, "dirlink"))
	dir, _, err := openDir(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := chownAt(dir, nobody); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "links", "ifaces", "links/7-tap10", "links/planted", "dirlink"} {
		if uid, gid := owner(t, filepath.Join(path, p)); uid != nobody.uid || gid != nobody.gid {
			t.Errorf("%s: owner %d:%d, want nobody's", p, uid, gid)
		}
	}
	for _, p := range []string{victims, filepath.Join(victims, "passwd")} {
		if uid, _ := owner(t, p); uid != 0 {
			t.Errorf("%s: followed, now owned by %d", p, uid)
		}
	}
}
