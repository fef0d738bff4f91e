package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want flags
	}{
		{nil, flags{Config: DefaultConfigPath, StartTimeout: DefaultStartTimeout}},
		{[]string{"-c", "/x.conf", "-f", "-d", "-t"}, flags{Config: "/x.conf", Foreground: true, Debug: true, Test: true, StartTimeout: DefaultStartTimeout}},
		{[]string{"--config=/y.conf", "--foreground", "--debug", "--test"}, flags{Config: "/y.conf", Foreground: true, Debug: true, Test: true, StartTimeout: DefaultStartTimeout}},
		{[]string{"--version"}, flags{Config: DefaultConfigPath, Version: true, StartTimeout: DefaultStartTimeout}},
		{[]string{"--start-timeout", "2m"}, flags{Config: DefaultConfigPath, StartTimeout: 2 * time.Minute}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		got, err := parseFlags(tt.args, &out, &errb)
		if err != nil || got != tt.want {
			t.Errorf("parseFlags(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

// TestRunBadConfig: without -t, a bad configuration stops the daemon before
// it touches anything, with every error printed.
func TestRunBadConfig(t *testing.T) {
	cfg, _ := testDatapath(t, "[general]\nsteering = ebpf\n[dhcp]\ndhcp_queue = 70000\n", nil)
	var out, errb bytes.Buffer
	if code := run([]string{"-f", "-c", cfg}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := cfg + `:2: [general] steering: "ebpf" is not one of auto, tc, iptables` + "\n" +
		cfg + `:4: [dhcp] dhcp_queue: "70000" is not a queue number 0-65535` + "\n" +
		cfg + ": [dhcp] server_ip: required unless server_on_link = yes\n" +
		cfg + ": [ipv6] mode: auto (no rs_queue and ns_queue, so dhcpv6) needs dhcpv6_queue\n"
	if errb.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
	}
}

func TestRunUsage(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		code     int
		inStdout bool
		text     string
	}{
		{[]string{"--help"}, 0, true, "-c, --config FILE  configuration file (default /etc/nfdhcpd/nfdhcpd.conf)"},
		{[]string{"-h"}, 0, true, "-t, --test"},
		{[]string{"-x"}, 2, false, "flag provided but not defined: -x"},
		{[]string{"extra"}, 2, false, `nfdhcpd: unexpected argument "extra"`},
		{[]string{"--start-timeout", "0s"}, 2, false, "nfdhcpd: --start-timeout 0s: must be more than 0"},
		{[]string{"--help"}, 0, true, "(default 30s)"},
		{[]string{"--version"}, 0, true, "nfdhcpd "},
		{[]string{"-c", "testdata/nope.conf"}, 1, false, "open testdata/nope.conf: no such file or directory"},
	} {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		where := errb.String()
		if tt.inStdout {
			where = out.String()
		}
		if code != tt.code || !strings.Contains(where, tt.text) {
			t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d and %q", tt.args, code, out.String(), errb.String(), tt.code, tt.text)
		}
	}
}

// testDatapath writes a configuration pointing at a fresh datapath holding
// the given binding files.
func testDatapath(t *testing.T, conf string, files map[string]string) (cfgPath, dir string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	seed, err := os.ReadFile("testdata/nfdhcpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if conf == "" {
		conf = string(seed)
	}
	cfgPath = filepath.Join(root, "nfdhcpd.conf")
	conf = strings.Replace(conf, "/var/lib/nfdhcpd", dir, 1)
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dir
}

func seedBinding(t *testing.T) string {
	b, err := os.ReadFile("../../binding/testdata/tap10")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckBindingsTable(t *testing.T) {
	_, dir := testDatapath(t, "", map[string]string{
		"tap10":      seedBinding(t),
		"one-1-0":    "MAC=aa:00:00:00:00:01\nHOSTNAME=vm1\nINDEV=br0\nSUBNET6=2001:db8::/64\n",
		"tap2":       "",
		"tap3":       "MAC=zz\n",
		".tap4.tmp":  "junk",
		"tap4~":      "junk",
		"tap10.swp":  "junk",
		"tap-absent": "MAC=aa:00:00:00:00:05\nHOSTNAME=vm5\n",
	})
	var out bytes.Buffer
	errs, _ := checkBindings("c.conf", dir, &out, fakeLinks(map[string]string{"tap10": "tuntap", "one-1-0": "tuntap"}), nil)
	want := `TAP         MAC                IP           IPV6 PREFIX              HOSTNAME    STATUS
one-1-0     aa:00:00:00:00:01  -            2001:db8::/64            vm1         ok, no link br0 (INDEV) yet
tap-absent  aa:00:00:00:00:05  -            -                        vm5         ok, no link tap-absent yet
tap10       aa:6b:39:22:33:44  192.0.2.100  2001:db8:aaaa:bbbb::/64  testing-vm  ok
tap2        -                  -            -                        -           empty
tap3        -                  -            -                        -           invalid
5 binding files: 3 ok, 2 invalid
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, strings.ReplaceAll(e.Error(), dir, "DIR"))
	}
	wantErrs := "DIR/tap2: file is empty|DIR/tap3:1: MAC: \"zz\" is not an Ethernet MAC address\nDIR/tap3: HOSTNAME: required"
	if got := strings.Join(msgs, "|"); got != wantErrs {
		t.Errorf("errors:\n%s\nwant:\n%s", got, wantErrs)
	}
}

// fakeLinks is a linkFunc over links named and kinded by the map.
func fakeLinks(kinds map[string]string) linkFunc {
	return func(name string) (binding.Link, bool) {
		kind, ok := kinds[name]
		return binding.Link{Index: len(name), Name: name, Kind: kind}, ok
	}
}

// A binding named after a link that is not a VM port (the host's uplink,
// a bridge, lo) is refused with the reason; a bridged TAP whose INDEV is
// the bridge is fine.
func TestCheckBindingsRefusesHostLinks(t *testing.T) {
	_, dir := testDatapath(t, "", map[string]string{
		"eth0":  "MAC=aa:00:00:00:00:01\nHOSTNAME=vm1\n",
		"br0":   "MAC=aa:00:00:00:00:02\nHOSTNAME=vm2\n",
		"lo":    "MAC=aa:00:00:00:00:03\nHOSTNAME=vm3\n",
		"tap10": "MAC=aa:00:00:00:00:04\nHOSTNAME=vm4\nINDEV=br0\n",
	})
	var out bytes.Buffer
	errs, _ := checkBindings("c.conf", dir, &out, fakeLinks(map[string]string{
		"eth0": "device", "br0": "bridge", "lo": "loopback", "tap10": "tuntap"}), nil)
	want := `TAP    MAC                IP  IPV6 PREFIX  HOSTNAME  STATUS
br0    -                  -   -            -         refused
eth0   -                  -   -            -         refused
lo     -                  -   -            -         refused
tap10  aa:00:00:00:00:04  -   -            vm4       ok
4 binding files: 1 ok, 3 invalid
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	wantErrs := "br0: a bridge, not a VM port|eth0: a physical device, not a VM port|lo: the loopback device, not a VM port"
	if got := strings.Join(msgs, "|"); got != wantErrs {
		t.Errorf("errors:\n%s\nwant:\n%s", got, wantErrs)
	}
}

// A file named with escape sequences and a newline is one quoted row, and
// its errors name it quoted.
func TestCheckBindingsQuotesNames(t *testing.T) {
	_, dir := testDatapath(t, "", map[string]string{"tap\x1b[2J\n1": "MAC=\x1b]0;x\x07\n"})
	var out bytes.Buffer
	errs, _ := checkBindings("c.conf", dir, &out, fakeLinks(nil), nil)
	want := `TAP              MAC  IP  IPV6 PREFIX  HOSTNAME  STATUS
"tap\x1b[2J\n1"  -    -   -            -         invalid
1 binding files: 0 ok, 1 invalid
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	wantErr := `"DIR/tap\x1b[2J\n1": "tap\x1b[2J\n1" is not a valid interface name` + "\n" +
		`"DIR/tap\x1b[2J\n1":1: MAC: "\x1b]0;x\a" is not an Ethernet MAC address` + "\n" +
		`"DIR/tap\x1b[2J\n1": HOSTNAME: required`
	if len(errs) != 1 || strings.ReplaceAll(errs[0].Error(), dir, "DIR") != wantErr {
		t.Errorf("errors: %q\nwant: %q", errs, wantErr)
	}
}

func TestRunCheck(t *testing.T) {
	t.Run("all good", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", map[string]string{"tap10": seedBinding(t)})
		var out, errb bytes.Buffer
		if code := run([]string{"-t", "-c", cfg}, &out, &errb); code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
		}
		first := cfg + ": ok: dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45, steering auto, datapath " + dir + "\n"
		if !strings.HasPrefix(out.String(), first) || !strings.HasSuffix(out.String(), "1 binding files: 1 ok, 0 invalid\n") || errb.Len() != 0 {
			t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
	})
	t.Run("config and binding errors together", func(t *testing.T) {
		seed, _ := os.ReadFile("testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 192.0.2.2, 192.0.2.3", "nameservers = 192.0.2.2, 2001:db8::1", 1)
		cfg, dir := testDatapath(t, conf, map[string]string{"tap10": seedBinding(t) + "MTU=20\n"})
		var out, errb bytes.Buffer
		if code := run([]string{"--test", "--config", cfg}, &out, &errb); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		want := "errors:\n" +
			cfg + `:18: [dhcp] nameservers: "2001:db8::1" is not IPv4` + "\n" +
			dir + `/tap10:12: MTU: "20" is not an MTU (68-65535)` + "\n"
		if errb.String() != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
		}
	})
	t.Run("lists no reply can carry whole warn, and pass", func(t *testing.T) {
		seed, _ := os.ReadFile("testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 2001:db8:100::1, 2001:db8:200::2", "nameservers = "+addrList("2001:db8:54::", 90), 1)
		cfg, dir := testDatapath(t, conf, map[string]string{
			"tap10": seedBinding(t), // the configuration's lists: said once, of the configuration
			"tap11": strings.ReplaceAll(seedBinding(t), "tap10", "tap11") + "MTU=1280\nNAMESERVERS6=" + addrList("2001:db8:53::", 100) + "\n",
		})
		var out, errb bytes.Buffer
		if code := run([]string{"-t", "-c", cfg}, &out, &errb); code != 0 {
			t.Fatalf("exit %d, want 0\n%s", code, errb.String())
		}
		want := "warnings:\n" +
			cfg + ": an RA of 1500 bytes has no room for 3 of 90 DNS servers, 1 of 1 search domains\n" +
			cfg + ": a DHCPv6 reply of 1500 bytes has no room for 2 of 90 DNS servers, 1 of 1 search domains\n" +
			dir + "/tap11: an RA of 1280 bytes has no room for 27 of 100 DNS servers, 1 of 1 search domains\n" +
			dir + "/tap11: a DHCPv6 reply of 1280 bytes has no room for 26 of 100 DNS servers, 1 of 1 search domains\n"
		if errb.String() != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
		}
		if !strings.HasSuffix(out.String(), "2 binding files: 2 ok, 0 invalid\n") {
			t.Errorf("stdout:\n%s", out.String())
		}
	})
	t.Run("missing datapath", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", nil)
		os.Remove(dir)
		var out, errb bytes.Buffer
		if code := run([]string{"-t", "-c", cfg}, &out, &errb); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		if want := "errors:\n" + cfg + ": [general] datapath: open " + dir + ": no such file or directory\n"; errb.String() != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
		}
	})
}

// addrList is n addresses prefix1, prefix2, ... as a comma-separated list.
func addrList(prefix string, n int) string {
	var as []string
	for i := range n {
		as = append(as, fmt.Sprintf("%s%x", prefix, i+1))
	}
	return strings.Join(as, ", ")
}
