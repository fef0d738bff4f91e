package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nfdhcpd/nfdhcpd/binding"
)

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
	seed, err := os.ReadFile("../config/testdata/nfdhcpd.conf")
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
	b, err := os.ReadFile("../binding/testdata/tap10")
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
		if code := Run(cfg, &out, &errb, Options{}); code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
		}
		first := cfg + ": ok: dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45, steering auto, datapath " + dir + "\n"
		if !strings.HasPrefix(out.String(), first) || !strings.HasSuffix(out.String(), "1 binding files: 1 ok, 0 invalid\n") || errb.Len() != 0 {
			t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
	})
	t.Run("config and binding errors together", func(t *testing.T) {
		seed, _ := os.ReadFile("../config/testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 192.0.2.2, 192.0.2.3", "nameservers = 192.0.2.2, 2001:db8::1", 1)
		cfg, dir := testDatapath(t, conf, map[string]string{"tap10": seedBinding(t) + "MTU=20\n"})
		var out, errb bytes.Buffer
		if code := Run(cfg, &out, &errb, Options{}); code != 1 {
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
		seed, _ := os.ReadFile("../config/testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 2001:db8:100::1, 2001:db8:200::2", "nameservers = "+addrList("2001:db8:54::", 90), 1)
		cfg, dir := testDatapath(t, conf, map[string]string{
			"tap10": seedBinding(t), // the configuration's lists: said once, of the configuration
			"tap11": strings.ReplaceAll(seedBinding(t), "tap10", "tap11") + "MTU=1280\nNAMESERVERS6=" + addrList("2001:db8:53::", 100) + "\n",
		})
		var out, errb bytes.Buffer
		if code := Run(cfg, &out, &errb, Options{}); code != 0 {
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
		if code := Run(cfg, &out, &errb, Options{}); code != 1 {
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

func TestCheckJSON(t *testing.T) {
	exists := fakeLinks(map[string]string{"tap10": "tuntap"})
	t.Run("all good", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", map[string]string{"tap10": seedBinding(t), "tap11": "MAC=aa:00:00:00:00:11\nHOSTNAME=vm11\n"})
		var out bytes.Buffer
		if code := Run(cfg, &out, nil, Options{JSON: true, Link: exists}); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out.String())
		}
		var got Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := Report{Config: cfg, OK: true,
			Summary: "dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45, steering auto, datapath " + dir,
			Bindings: []Row{
				{File: "tap10", TAP: "tap10", MAC: "aa:6b:39:22:33:44", IP: "192.0.2.100", IPv6Prefix: "2001:db8:aaaa:bbbb::/64", Hostname: "testing-vm", Status: "ok"},
				{File: "tap11", TAP: "tap11", MAC: "aa:00:00:00:00:11", Hostname: "vm11", Status: "ok", Waiting: "no link tap11"},
			},
			Errors: []string{}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("report (-want +got):\n%s", d)
		}
	})
	t.Run("lists no reply can carry whole warn, and pass", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", map[string]string{"tap10": seedBinding(t) + "NAMESERVERS6=" + addrList("2001:db8:53::", 100) + "\n"})
		var out bytes.Buffer
		if code := Run(cfg, &out, nil, Options{JSON: true, Link: exists}); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out.String())
		}
		var got Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := []string{dir + "/tap10: an RA of 1500 bytes has no room for 13 of 100 DNS servers, 1 of 1 search domains",
			dir + "/tap10: a DHCPv6 reply of 1500 bytes has no room for 12 of 100 DNS servers, 1 of 1 search domains"}
		if !got.OK || len(got.Bindings) != 1 || !cmp.Equal(got.Bindings[0].Warnings, want) || got.Warnings != nil {
			t.Errorf("report: %+v\nwant the binding's warnings %q", got, want)
		}
	})
	t.Run("config and binding errors", func(t *testing.T) {
		seed, _ := os.ReadFile("../config/testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 192.0.2.2, 192.0.2.3", "nameservers = 2001:db8::1", 1)
		cfg, dir := testDatapath(t, conf, map[string]string{"tap10": seedBinding(t) + "MTU=20\n", "tap2": ""})
		var out bytes.Buffer
		if code := Run(cfg, &out, nil, Options{JSON: true, Link: exists}); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		var got Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		wantErrs := []string{
			cfg + `:18: [dhcp] nameservers: "2001:db8::1" is not IPv4`,
			dir + `/tap10:12: MTU: "20" is not an MTU (68-65535)`,
			dir + "/tap2: file is empty",
		}
		if got.OK || got.Summary != "" || len(got.Bindings) != 2 || got.Bindings[0].Status != "invalid" ||
			got.Bindings[1].Status != "empty" || !cmp.Equal(got.Errors, wantErrs) {
			t.Errorf("report: %+v\nwant errors %q", got, wantErrs)
		}
	})
	t.Run("missing datapath", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", nil)
		os.Remove(dir)
		var out bytes.Buffer
		if code := Run(cfg, &out, nil, Options{JSON: true, Link: exists}); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		want := `"errors": [
    "` + cfg + `: [general] datapath: open ` + dir + `: no such file or directory"
  ]`
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), `"bindings": []`) {
			t.Errorf("report:\n%s\nwant it to hold:\n%s", out.String(), want)
		}
	})
}

// The three files in one: a line that is not KEY=VALUE, a key set
// twice and a HOSTNAME that is not a DNS name. The original served it, so
// -t says ok with warnings naming file, line and key, and exits 0; with
// --strict the same lines are errors and it exits 1, as the JSON report
// does.
func TestCheckForgiven(t *testing.T) {
	text := strings.Replace(seedBinding(t), "HOSTNAME=testing-vm", "HOSTNAME=web_01", 1) + "export FOO\nIP=192.0.2.101\n"
	cfg, dir := testDatapath(t, "", map[string]string{"tap10": text})
	warnings := []string{
		dir + `/tap10:4: HOSTNAME: "web_01" is not a DNS name: sent as option 12 as written, but no domain is derived from it`,
		dir + `/tap10:12: "export FOO" is not KEY=VALUE, ignored`,
		dir + "/tap10:13: IP: set again (also on line 2), the last one wins",
	}
	exists := fakeLinks(map[string]string{"tap10": "tuntap"})
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(cfg, &out, &errb, Options{Strict: strict, Link: exists})
			wantCode, section := 0, "warnings:\n"
			if strict {
				wantCode, section = 1, "errors:\n"
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d", code, wantCode)
			}
			if want := section + strings.Join(warnings, "\n") + "\n"; errb.String() != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
			}
			if !strings.Contains(out.String(), "tap10  aa:6b:39:22:33:44  192.0.2.101  2001:db8:aaaa:bbbb::/64  web_01    ok\n") {
				t.Errorf("stdout:\n%s", out.String())
			}

			out.Reset()
			code = Run(cfg, &out, nil, Options{JSON: true, Strict: strict, Link: exists})
			var got Report
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			wantErrs := []string{}
			if strict {
				wantErrs = warnings
			}
			if code != wantCode || got.OK == strict || len(got.Bindings) != 1 || !cmp.Equal(got.Bindings[0].Warnings, warnings) ||
				got.Bindings[0].Status != "ok" || !cmp.Equal(got.Errors, wantErrs) {
				t.Errorf("exit %d, report %+v\nwant the row's warnings %q and errors %q", code, got, warnings, wantErrs)
			}
		})
	}
}

// Delegated prefixes get their column, shown only once a binding has
// them, and a prefix that overlaps another binding's is warned about:
// both files load, but only the first VM to take it is routed.
func TestCheckDelegatedPrefixes(t *testing.T) {
	pd := func(mac, prefixes string) string {
		return "MAC=" + mac + "\nHOSTNAME=vm\nSUBNET6=2001:db8:aaaa:bbbb::/64\nDELEGATED_PREFIX6=" + prefixes + "\n"
	}
	_, dir := testDatapath(t, "", map[string]string{
		"tap1": pd("aa:00:00:00:00:01", "2001:db8:cccc::/48"),
		"tap2": pd("aa:00:00:00:00:02", "2001:db8:cccc:100::/56, 2001:db8:dddd::/56"),
		"tap3": pd("aa:00:00:00:00:03", "2001:db8:dddd::/56"),
		"tap4": "MAC=aa:00:00:00:00:04\nHOSTNAME=vm\n",
		"tap5": pd("aa:00:00:00:00:05", "2001:db8:aaaa::/48"),
	})
	var out bytes.Buffer
	links := fakeLinks(map[string]string{"tap1": "tuntap", "tap2": "tuntap", "tap3": "tuntap", "tap4": "tuntap", "tap5": "tuntap"})
	errs, warns := checkBindings("c.conf", dir, &out, links, nil)
	want := `TAP   MAC                IP  IPV6 PREFIX              DELEGATED                                   HOSTNAME  STATUS
tap1  aa:00:00:00:00:01  -   2001:db8:aaaa:bbbb::/64  2001:db8:cccc::/48                          vm        ok
tap2  aa:00:00:00:00:02  -   2001:db8:aaaa:bbbb::/64  2001:db8:cccc:100::/56, 2001:db8:dddd::/56  vm        ok
tap3  aa:00:00:00:00:03  -   2001:db8:aaaa:bbbb::/64  2001:db8:dddd::/56                          vm        ok
tap4  aa:00:00:00:00:04  -   -                        -                                           vm        ok
tap5  -                  -   -                        -                                           -         invalid
5 binding files: 4 ok, 1 invalid
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(errs) != 1 || !strings.HasSuffix(errs[0].Error(), "tap5:4: DELEGATED_PREFIX6: 2001:db8:aaaa::/48 overlaps SUBNET6 2001:db8:aaaa:bbbb::/64") {
		t.Errorf("errors %v", errs)
	}
	wantWarns := []string{
		dir + "/tap2: DELEGATED_PREFIX6: 2001:db8:cccc:100::/56 overlaps 2001:db8:cccc::/48 of tap1: only the first VM to take it is routed",
		dir + "/tap3: DELEGATED_PREFIX6: 2001:db8:dddd::/56 overlaps 2001:db8:dddd::/56 of tap2: only the first VM to take it is routed",
	}
	if !slices.Equal(warns, wantWarns) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warns, "\n"), strings.Join(wantWarns, "\n"))
	}
	rows, _, _ := scanBindings(dir, links, nil)
	if got := rows[1].DelegatedPrefixes6; !slices.Equal(got, []string{"2001:db8:cccc:100::/56", "2001:db8:dddd::/56"}) {
		t.Errorf("JSON row: %q", got)
	}
}
