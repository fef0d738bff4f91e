package packaging

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

const testVersion = "0.0~test1"

var (
	debOnce sync.Once
	debPath string
	debErr  string
	debDir  string
)

// TestMain removes the package the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if debDir != "" {
		os.RemoveAll(debDir)
	}
	os.Exit(code)
}

// buildDeb builds the binary and the package once per test run.
func buildDeb(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"dpkg-deb", "dpkg", "scdoc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	debOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nfdhcpd-deb")
		if err != nil {
			debErr = err.Error()
			return
		}
		debDir = dir
		bin := filepath.Join(dir, "nfdhcpd")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+testVersion, "-o", bin, "../cmd/nfdhcpd")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			debErr = "go build: " + err.Error() + "\n" + string(out)
			return
		}
		out, err := exec.Command("./build-deb.sh", bin, testVersion, dir).CombinedOutput()
		if err != nil {
			debErr = "build-deb.sh: " + err.Error() + "\n" + string(out)
			return
		}
		debPath = strings.TrimSpace(string(out))
	})
	if debErr != "" {
		t.Fatal(debErr)
	}
	if filepath.Base(debPath) != "nfdhcpd_"+testVersion+"_amd64.deb" {
		t.Fatalf("build-deb.sh made %q, want nfdhcpd_%s_amd64.deb", debPath, testVersion)
	}
	return debPath
}

func TestDebContents(t *testing.T) {
	deb := buildDeb(t)
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	listing := string(out)
	for _, want := range []string{
		"-rwxr-xr-x root/root .* ./usr/sbin/nfdhcpd\n",
		"-rw-r--r-- root/root .* ./etc/nfdhcpd/nfdhcpd.conf\n",
		"-rw-r--r-- root/root .* ./usr/lib/systemd/system/nfdhcpd.service\n",
		"-rw-r--r-- root/root .* ./usr/share/man/man8/nfdhcpd.8.gz\n",
		"-rw-r--r-- root/root .* ./usr/share/man/man5/nfdhcpd.conf.5.gz\n",
		"-rw-r--r-- root/root .* ./etc/logrotate.d/nfdhcpd\n",
		"-rwxr-xr-x root/root .* ./usr/lib/nfdhcpd/nfdhcpd-vif\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/nfdhcpd/contrib/ferm/nfdhcpd.ferm\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/nfdhcpd/contrib/iptables/rules.v4\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/nfdhcpd/contrib/iptables/rules.v6\n",
		"-rw-r--r-- root/root .* ./usr/share/doc/nfdhcpd/contrib/nft/nfdhcpd.nft\n",
		"-rw-r--r-- root/root .* ./usr/lib/tmpfiles.d/nfdhcpd.conf\n",
		"-rw-r--r-- root/root .* ./usr/lib/sysusers.d/nfdhcpd.conf\n",
		"drwxr-xr-x root/root .* ./var/lib/nfdhcpd/\n",
		"drwxr-xr-x root/root .* ./var/log/nfdhcpd/\n",
	} {
		if !regexpMatch(want, listing) {
			t.Errorf("package lacks %s", strings.TrimSpace(want))
		}
	}
	info, _ := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").Output()
	if want := "Package: nfdhcpd\nVersion: " + testVersion + "\nArchitecture: amd64\n"; string(info) != want {
		t.Errorf("control fields:\n%s\nwant:\n%s", info, want)
	}
}

// scratchRoot is an empty dpkg database under a temporary folder.
func scratchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755)
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg/updates"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	return root
}

func dpkg(t *testing.T, root string, args ...string) {
	t.Helper()
	// Maintainer scripts run outside the root with $DPKG_ROOT set; iptables
	// is not in the scratch database.
	all := append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)
	if out, err := exec.Command("dpkg", all...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// files lists every file and folder under root but dpkg's own database.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		if strings.HasPrefix(rel, "var/lib/dpkg") || slices.Contains([]string{"var", "var/lib"}, rel) {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	return out
}

// TestDebInstall installs the package into a scratch root, runs the installed
// nfdhcpd -t on the installed sample configuration, and removes it: remove
// keeps the edited conffiles, purge leaves nothing.
func TestDebInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: dpkg --root and chroot")
	}
	deb := buildDeb(t)
	root := scratchRoot(t)
	dpkg(t, root, "-i", deb)

	// The original's sample configuration, registered as a conffile, with
	// the package's user in place of nobody and nothing else changed.
	original, _ := os.ReadFile("../config/testdata/nfdhcpd.conf")
	sample, err := os.ReadFile(filepath.Join(root, "etc/nfdhcpd/nfdhcpd.conf"))
	wantConf := bytes.Replace(original, []byte("\nuser = nobody "), []byte("\nuser = nfdhcpd "), 1)
	if err != nil || !bytes.Equal(sample, wantConf) || bytes.Equal(sample, original) {
		t.Errorf("/etc/nfdhcpd/nfdhcpd.conf is not the sample with user = nfdhcpd (%v):\n%s", err, sample)
	}
	// The user, made from sysusers.d when the host has systemd-sysusers.
	if _, err := exec.LookPath("systemd-sysusers"); err == nil {
		passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if !regexp.MustCompile(`(?m)^nfdhcpd:x:\d+:\d+:nfdhcpd daemon:/nonexistent:`).Match(passwd) {
			t.Errorf("no nfdhcpd user in the root's /etc/passwd:\n%s", passwd)
		}
	}
	status, _ := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	for _, want := range []string{"Status: install ok installed", " /etc/nfdhcpd/nfdhcpd.conf ", " /etc/logrotate.d/nfdhcpd ", " /etc/default/nfdhcpd "} {
		if !strings.Contains(string(status), want) {
			t.Errorf("dpkg status lacks %q:\n%s", want, status)
		}
	}

	// The installed binary checks the installed sample (it is static, so it
	// runs in the root as it is).
	out, err := exec.Command("chroot", root, "/usr/sbin/nfdhcpd", "-t").CombinedOutput()
	want := "/etc/nfdhcpd/nfdhcpd.conf: ok: dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45, steering auto, datapath /var/lib/nfdhcpd\n" +
		"TAP  MAC  IP  IPV6 PREFIX  HOSTNAME  STATUS\n0 binding files: 0 ok, 0 invalid\n"
	if err != nil || string(out) != want {
		t.Errorf("nfdhcpd -t: %v\n%s\nwant:\n%s", err, out, want)
	}
	out, err = exec.Command("chroot", root, "/usr/sbin/nfdhcpd", "-t", "--json").Output()
	var rep struct {
		OK       bool
		Bindings []any
	}
	if err != nil || json.Unmarshal(out, &rep) != nil || !rep.OK || len(rep.Bindings) != 0 {
		t.Errorf("nfdhcpd -t --json: %v\n%s", err, out)
	}
	if out, err := exec.Command("chroot", root, "/usr/sbin/nfdhcpd", "--version").Output(); err != nil || string(out) != "nfdhcpd "+testVersion+"\n" {
		t.Errorf("nfdhcpd --version: %q %v", out, err)
	}
	// The installed unit, as systemd reads it.
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		unit, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/nfdhcpd.service"))
		copyPath := filepath.Join(t.TempDir(), "nfdhcpd.service")
		os.WriteFile(copyPath, bytes.ReplaceAll(unit, []byte("/usr/sbin/nfdhcpd"), []byte(filepath.Join(root, "usr/sbin/nfdhcpd"))), 0o644)
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", copyPath).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze verify of the installed unit: %v\n%s", err, out)
		}
	}

	// remove keeps an edited conffile; purge removes everything.
	conf := filepath.Join(root, "etc/nfdhcpd/nfdhcpd.conf")
	os.WriteFile(conf, append(original, "# edited\n"...), 0o644)
	os.WriteFile(filepath.Join(root, "var/log/nfdhcpd/nfdhcpd.log"), []byte("a log line\n"), 0o644)
	dpkg(t, root, "-r", "nfdhcpd")
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("remove took the edited configuration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/nfdhcpd")); !os.IsNotExist(err) {
		t.Errorf("remove left the binary: %v", err)
	}
	dpkg(t, root, "--purge", "nfdhcpd")
	// What is left: dpkg's database, empty folders (etc, usr, ...) that
	// dpkg keeps because others' packages share them, and the user
	// databases (Debian keeps a package's system user after purge).
	var left []string
	for _, f := range files(t, root) {
		if slices.Contains([]string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/.pwd.lock"}, f) {
			continue
		}
		fi, err := os.Stat(filepath.Join(root, f))
		if err == nil && fi.IsDir() && !strings.Contains(f, "nfdhcpd") {
			continue
		}
		left = append(left, f)
	}
	if len(left) > 0 {
		t.Errorf("purge left: %v", left)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// The package's user is one name everywhere it is set: sysusers.d makes
// it, the unit runs as it and gives it the pin folder, tmpfiles.d gives it
// the run folder, and the packaged configuration drops to it.
func TestDebUser(t *testing.T) {
	const user = "nfdhcpd"
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tt := range []struct{ file, re string }{
		{"sysusers.conf", `(?m)^u ` + user + ` - `},
		{"tmpfiles.conf", `(?m)^d /run/nfdhcpd 0755 ` + user + ` ` + user + ` -$`},
		{"../contrib/systemd/nfdhcpd.service", `(?m)^User=` + user + `$`},
		{"../contrib/systemd/nfdhcpd.service", `(?m)^Group=` + user + `$`},
		{"../contrib/systemd/nfdhcpd.service", `chown -R ` + user + `:` + user + ` /sys/fs/bpf/nfdhcpd`},
		{"build-deb.sh", `s/\^user = nobody /user = ` + user + ` /`},
	} {
		if !regexp.MustCompile(tt.re).MatchString(read(tt.file)) {
			t.Errorf("%s does not match %s", tt.file, tt.re)
		}
	}
	if strings.Contains(read("../contrib/systemd/nfdhcpd.service"), "nobody") {
		t.Errorf("the unit still names nobody")
	}
}
