package contrib

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

// ganeti is the environment Ganeti's kvm-ifup passes for the seed's VM.
var ganeti = map[string]string{
	"INTERFACE": "tap10", "MAC": "aa:6b:39:22:33:44", "IP": "192.0.2.100", "MODE": "routed",
	"LINK": "rt100", "INSTANCE": "testing-vm", "TAGS": "nfdhcpd ip-less-routed",
	"NETWORK_SUBNET": "192.0.2.0/24", "NETWORK_GATEWAY": "192.0.2.1",
	"NETWORK_SUBNET6": "2001:db8:aaaa:bbbb::/64", "NETWORK_GATEWAY6": "2001:db8:aaaa:bbbb::1",
}

// runHook runs the hook as name (it may be linked as kvm-ifdown-custom) with
// env on top of ganeti ("" removes a key), args, and a defaults file.
func runHook(t *testing.T, dir, name string, env map[string]string, defaults string, args ...string) (string, error) {
	t.Helper()
	hook, _ := filepath.Abs("ganeti/nfdhcpd-vif")
	if name != "" {
		link := filepath.Join(t.TempDir(), name)
		if err := os.Symlink(hook, link); err != nil {
			t.Fatal(err)
		}
		hook = link
	}
	def := filepath.Join(t.TempDir(), "default")
	os.WriteFile(def, []byte(defaults), 0o644)
	vars := map[string]string{"PATH": os.Getenv("PATH"), "NFDHCPD_DEFAULTS": def, "NFDHCPD_STATE_DIR": dir}
	for k, v := range ganeti {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(hook, args...)
	for k, v := range vars {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGanetiHookWrites(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		defaults string
		want     string
	}{
		{"routed", nil, "", `INDEV=tap10
IP=192.0.2.100
MAC=aa:6b:39:22:33:44
HOSTNAME=testing-vm
TAGS="nfdhcpd ip-less-routed"
GATEWAY=192.0.2.1
SUBNET=192.0.2.0/24
GATEWAY6=2001:db8:aaaa:bbbb::1
SUBNET6=2001:db8:aaaa:bbbb::/64
EUI64=2001:db8:aaaa:bbbb:a86b:39ff:fe22:3344
`},
		{"bridged, short prefix, no IPv4", map[string]string{"MODE": "bridged", "LINK": "br0", "IP": "",
			"NETWORK_SUBNET": "", "NETWORK_GATEWAY": "", "NETWORK_SUBNET6": "2001:db8::/64", "NETWORK_GATEWAY6": "2001:db8::1",
			"MAC": "02:00:0a:0b:0c:0d", "TAGS": `say "hi"`}, "", `INDEV=br0
IP=
MAC=02:00:0a:0b:0c:0d
HOSTNAME=testing-vm
TAGS="say hi"
GATEWAY=
SUBNET=
GATEWAY6=2001:db8::1
SUBNET6=2001:db8::/64
EUI64=2001:db8:0:0:0:aff:fe0b:c0d
`},
		{"defaults: MACSPOOF and extra lines; a /48 gets no EUI64", map[string]string{
			"NETWORK_SUBNET6": "2001:db8:1::/48", "NETWORK_GATEWAY6": "2001:db8:1::1"},
			"NFDHCPD_MACSPOOF=1\nNFDHCPD_EXTRA='MTU=1450\nDOMAIN=example.org'\n", `INDEV=tap10
IP=192.0.2.100
MAC=aa:6b:39:22:33:44
HOSTNAME=testing-vm
TAGS="nfdhcpd ip-less-routed"
GATEWAY=192.0.2.1
SUBNET=192.0.2.0/24
GATEWAY6=2001:db8:1::1
SUBNET6=2001:db8:1::/48
EUI64=
MACSPOOF=1
MTU=1450
DOMAIN=example.org
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := runHook(t, dir, "", tt.env, tt.defaults); err != nil {
				t.Fatalf("hook: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(dir, "tap10"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("binding file:\n%s\nwant:\n%s", got, tt.want)
			}
			// nfdhcpd accepts what the hook wrote.
			b, err := binding.ReadFile(filepath.Join(dir, "tap10"))
			if err != nil {
				t.Fatalf("nfdhcpd refuses the hook's file: %v", err)
			}
			if strings.Contains(tt.want, "EUI64=2") && !b.Subnet6.Contains(b.EUI64) {
				t.Errorf("EUI64 %v outside SUBNET6 %v", b.EUI64, b.Subnet6)
			}
			if des, _ := os.ReadDir(dir); len(des) != 1 {
				t.Errorf("the hook left %d files, want 1", len(des))
			}
		})
	}
}

// The hook renames a complete file into place: nfdhcpd never sees the final
// name written to, only moved to.
func TestGanetiHookAtomic(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tap10"), []byte("INDEV=tap10\nMAC=aa:6b:39:22:33:44\nHOSTNAME=old\n"), 0o644)
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	if out, err := runHook(t, dir, "", nil, ""); err != nil {
		t.Fatalf("hook: %v\n%s", err, out)
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatal(err)
	}
	var moved bool
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
		off += unix.SizeofInotifyEvent + int(ev.Len)
		if name != "tap10" {
			if !strings.HasPrefix(name, ".tap10.") {
				t.Errorf("temp file %q is not a dotfile nfdhcpd ignores", name)
			}
			continue
		}
		if ev.Mask&unix.IN_MOVED_TO != 0 {
			moved = true
		} else {
			t.Errorf("tap10 itself was written to (mask %#x): not atomic", ev.Mask)
		}
	}
	if !moved {
		t.Error("tap10 was not renamed into place")
	}
}

func TestGanetiHookDown(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{{"", []string{"down"}}, {"kvm-ifdown-custom", nil}} {
		dir := t.TempDir()
		if out, err := runHook(t, dir, "", nil, ""); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
		if out, err := runHook(t, dir, tt.name, nil, "", tt.args...); err != nil {
			t.Fatalf("down as %q %v: %v\n%s", tt.name, tt.args, err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "tap10")); !os.IsNotExist(err) {
			t.Errorf("down as %q %v: binding file still there (%v)", tt.name, tt.args, err)
		}
		// Down twice is not an error: Ganeti may call it for a NIC never up.
		if out, err := runHook(t, dir, tt.name, nil, "", tt.args...); err != nil {
			t.Errorf("second down: %v\n%s", err, out)
		}
	}
}

func TestGanetiHookRefuses(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		args []string
		msg  string
	}{
		{map[string]string{"INTERFACE": ""}, nil, `INTERFACE="" is not a TAP name`},
		{map[string]string{"INTERFACE": "../etc"}, nil, `INTERFACE="../etc" is not a TAP name`},
		{map[string]string{"INTERFACE": ".tap10"}, []string{"down"}, `is not a TAP name`},
		{map[string]string{"MAC": ""}, nil, "MAC is not set"},
		{map[string]string{"MODE": "bridged", "LINK": ""}, nil, "LINK (the bridge) is not set in bridged mode"},
		{nil, []string{"sideways"}, "usage: nfdhcpd-vif [up|down]"},
	} {
		dir := t.TempDir()
		out, err := runHook(t, dir, "", tt.env, "", tt.args...)
		if err == nil || !strings.Contains(out, tt.msg) {
			t.Errorf("env %v args %v: err %v, output %q; want it to say %q", tt.env, tt.args, err, out, tt.msg)
		}
		if des, _ := os.ReadDir(dir); len(des) != 0 {
			t.Errorf("env %v: left %d files", tt.env, len(des))
		}
	}
}

func TestGanetiHookShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (.ci/run installs it)")
	}
	if out, err := exec.Command("shellcheck", "ganeti/nfdhcpd-vif").CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
