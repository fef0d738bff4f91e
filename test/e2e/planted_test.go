package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// The user the daemon drops to (the seed configuration's nobody).
const nobodyID = 65534

// victim is a file a planted link points at, with what it held before.
type victim struct {
	path    string
	content string
	mode    os.FileMode
}

func newVictim(t *testing.T, dir, name, content string, mode os.FileMode) victim {
	t.Helper()
	v := victim{path: filepath.Join(dir, name), content: content, mode: mode}
	if err := os.WriteFile(v.path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return v
}

// untouched checks the victim's owner (root), mode and content.
func (v victim) untouched(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(v.path)
	if err != nil {
		t.Fatalf("%s: %v", v.path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	b, _ := os.ReadFile(v.path)
	if st.Uid != 0 || st.Gid != 0 || fi.Mode() != v.mode || string(b) != v.content {
		t.Errorf("%s changed: owner %d:%d mode %v content %q; was root's, %v, %q", v.path, st.Uid, st.Gid, fi.Mode(), b, v.mode, v.content)
	}
}

// plantedLab is a lab whose log and pid folders are the daemon user's, as
// a previous start left them, with two root files a planted link can aim at.
func plantedLab(t *testing.T) (l *lab.Lab, conf, logdir, rundir string, passwd, shadow victim) {
	t.Helper()
	l = lab.New(t)
	conf, _ = l.SeedConfig(iptablesMode.setup(l)...)
	logdir, rundir = filepath.Join(l.Dir, "log"), filepath.Join(l.Dir, "run")
	for _, d := range []string{logdir, rundir} {
		os.Mkdir(d, 0o755)
		os.Chown(d, nobodyID, nobodyID)
	}
	etc := filepath.Join(l.Dir, "etc")
	os.Mkdir(etc, 0o755)
	passwd = newVictim(t, etc, "passwd", "root:x:0:0:root:/root:/bin/bash\n", 0o644)
	shadow = newVictim(t, etc, "shadow", "root:$6$secret:19000:0:99999:7:::\n", 0o600)
	return
}

// plantAs makes a link planted by the user: a symbolic link (owned by the
// user), a hard link, or a FIFO.
func plantAs(t *testing.T, kind, path, target string) {
	t.Helper()
	var err error
	switch kind {
	case "symlink":
		if err = os.Symlink(target, path); err == nil {
			err = os.Lchown(path, nobodyID, nobodyID)
		}
	case "hard link":
		err = os.Link(target, path)
	case "fifo":
		if err = unix.Mkfifo(path, 0o644); err == nil {
			err = os.Chown(path, nobodyID, nobodyID)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// stopDetached ends the detached daemon named by pidfile.
func stopDetached(t *testing.T, pidfile string) {
	t.Helper()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("no pidfile: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(t, lab.Within(time.Second), "exit within 1 s of SIGTERM", func() bool { return !running(pid) })
}

// Started as root with user = nobody, detached as an init script starts
// it, the daemon follows no link the user planted in the log folder (its
// own): a symbolic link, a hard link or a FIFO at the log's name is
// refused, with an error naming it, and its target keeps its owner, mode
// and content. Before, the log was opened with O_CREAT through the link
// and chowned by path: /etc/passwd became the user's, and a FIFO hung the
// start.
func TestPlantedLogLink(t *testing.T) {
	for _, tt := range []struct{ kind, want string }{
		{"symlink", "nfdhcpd.log is a symbolic link: refusing to follow it"},
		{"hard link", "nfdhcpd.log has 2 hard links: refusing to write to it"},
		{"fifo", "nfdhcpd.log is a FIFO or socket, not a regular file"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			l, conf, logdir, _, passwd, _ := plantedLab(t)
			plantAs(t, tt.kind, filepath.Join(logdir, "nfdhcpd.log"), passwd.path)
			out, err := l.HostTry(lab.Binary(t), "-c", conf)
			if err == nil {
				t.Fatalf("the daemon started with a %s at its log's name:\n%s", tt.kind, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("refusal %q, want %q", out, tt.want)
			}
			passwd.untouched(t)
		})
	}
	// A folder on the way to the log that the user replaced by a link.
	t.Run("folder link", func(t *testing.T) {
		l, _, logdir, _, passwd, _ := plantedLab(t)
		conf, _ := l.SeedConfig(append(iptablesMode.setup(l), "logdir", filepath.Join(logdir, "sub"))...)
		plantAs(t, "symlink", filepath.Join(logdir, "sub"), filepath.Dir(passwd.path))
		out, err := l.HostTry(lab.Binary(t), "-c", conf)
		if err == nil || !strings.Contains(out, "sub: a symbolic link owned by uid 65534: refusing to follow it as uid 0") {
			t.Errorf("start through a planted folder link: %v\n%s", err, out)
		}
		if _, err := os.Lstat(filepath.Join(filepath.Dir(passwd.path), "nfdhcpd.log")); !os.IsNotExist(err) {
			t.Errorf("a log was made through the link: %v", err)
		}
		passwd.untouched(t)
	})
}

// The same for the pidfile, in the user's run folder: whatever is at its
// name is removed, not followed (the target untouched), a fresh pidfile is
// made, and the log says what was there. A stale pidfile that holds
// something other than a pid is taken over without showing it. Before,
// the pidfile was opened, read, truncated and written through the link,
// and the log showed the target's first line.
func TestPlantedPidLink(t *testing.T) {
	for _, tt := range []struct{ kind, want string }{
		{"symlink", `msg="removed what was at the pidfile's path, not following it" path=%s found="a symbolic link"`},
		{"fifo", `msg="removed what was at the pidfile's path, not following it" path=%s found="a FIFO"`},
		{"hard link", `msg="took over a stale pidfile (no daemon held its lock)" path=%s` + "\n"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			l, conf, logdir, rundir, _, shadow := plantedLab(t)
			pidfile := filepath.Join(rundir, "nfdhcpd.pid")
			plantAs(t, tt.kind, pidfile, shadow.path)
			if out, err := l.HostTry(lab.Binary(t), "-c", conf); err != nil {
				t.Fatalf("detached start: %v\n%s", err, out)
			}
			fi, err := os.Lstat(pidfile)
			if err != nil || !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Errorf("the pidfile is not a fresh regular file: %v %v", fi, err)
			}
			stopDetached(t, pidfile)
			shadow.untouched(t)
			log, _ := os.ReadFile(filepath.Join(logdir, "nfdhcpd.log"))
			if want := strings.Replace(tt.want, "%s", pidfile, 1); !strings.Contains(string(log), want) {
				t.Errorf("the log does not say %q:\n%s", want, log)
			}
			if strings.Contains(string(log), "secret") {
				t.Errorf("the log shows the target's content:\n%s", log)
			}
		})
	}
}

// A logdir shared with other programs (here holding another root file) is
// not handed to the daemon's user, who could otherwise plant links for
// every root process using it; the daemon says so and runs. Before, logdir
// was always chowned to the user.
func TestSharedLogdirKept(t *testing.T) {
	l := lab.New(t)
	shared := filepath.Join(l.Dir, "varlog")
	os.Mkdir(shared, 0o755)
	syslog := newVictim(t, shared, "syslog", "a line of another program's\n", 0o640)
	conf, _ := l.SeedConfig(append(iptablesMode.setup(l), "logdir", shared)...)
	if out, err := l.HostTry(lab.Binary(t), "-c", conf); err != nil {
		t.Fatalf("detached start: %v\n%s", err, out)
	}
	stopDetached(t, filepath.Join(l.Dir, "run", "nfdhcpd.pid"))
	if fi, err := os.Stat(shared); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("the shared logdir was handed over: %v %v", fi.Sys(), err)
	}
	syslog.untouched(t)
	log, _ := os.ReadFile(filepath.Join(shared, "nfdhcpd.log"))
	if !strings.Contains(string(log), `msg="folder holds other files: not handed to the daemon's user, who may be unable to write there" path=`+shared) {
		t.Errorf("no warning about the shared folder:\n%s", log)
	}
}
