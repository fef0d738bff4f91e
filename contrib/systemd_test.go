package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unitFile is the unit with ExecStart= pointing at an executable that
// exists here, for systemd-analyze, which checks it.
func unitFile(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile("systemd/nfdhcpd.service")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	path := filepath.Join(t.TempDir(), "nfdhcpd.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(text), "/usr/sbin/nfdhcpd", self)), 0o644)
	return path
}

func TestSystemdUnitVerify(t *testing.T) {
	require(t, "systemd-analyze")
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", unitFile(t)).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for nfdhcpd.service: (\d+\.\d+) (\w+)`)

// The README states the unit's `systemd-analyze security` score; this keeps
// the unit from getting worse than it.
func TestSystemdUnitSecurity(t *testing.T) {
	require(t, "systemd-analyze")
	out, _ := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", unitFile(t)).CombinedOutput()
	m := exposureRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v > 2.2 {
		t.Errorf("exposure %s %s, the README says 2.2 OK: the unit lost hardening", m[1], m[2])
	}
	text, _ := os.ReadFile("systemd/nfdhcpd.service")
	for _, want := range []string{"Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"RestrictAddressFamilies=AF_NETLINK AF_PACKET AF_UNIX AF_INET AF_INET6",
		"User=nfdhcpd", "Group=nfdhcpd"} {
		if !strings.Contains(string(text), "\n"+want+"\n") {
			t.Errorf("unit lacks %s", want)
		}
	}
	// The daemon opens its pin folder with CAP_DAC_READ_SEARCH: the host's
	// /sys/fs/bpf keeps its mode.
	if strings.Contains(string(text), "chmod") {
		t.Errorf("the unit changes a mode:\n%s", text)
	}
}
