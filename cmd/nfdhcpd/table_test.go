package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nfdhcpd/nfdhcpd/metrics"
)

func TestCheckJSON(t *testing.T) {
	exists := fakeLinks(map[string]string{"tap10": "tuntap"})
	t.Run("all good", func(t *testing.T) {
		cfg, dir := testDatapath(t, "", map[string]string{"tap10": seedBinding(t), "tap11": "MAC=aa:00:00:00:00:11\nHOSTNAME=vm11\n"})
		var out bytes.Buffer
		if code := checkJSON(cfg, &out, exists); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out.String())
		}
		var got checkReport
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := checkReport{Config: cfg, OK: true,
			Summary: "dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45, steering auto, datapath " + dir,
			Bindings: []checkRow{
				{File: "tap10", TAP: "tap10", MAC: "aa:6b:39:22:33:44", IP: "192.0.2.100", IPv6Prefix: "2001:db8:aaaa:bbbb::/64", Hostname: "testing-vm", Status: "ok"},
				{File: "tap11", TAP: "tap11", MAC: "aa:00:00:00:00:11", Hostname: "vm11", Status: "ok", Waiting: "no link tap11"},
			},
			Errors: []string{}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("report (-want +got):\n%s", d)
		}
	})
	t.Run("lists no reply can carry whole warn, and pass", func(t *testing.T) {
		cfg, _ := testDatapath(t, "", map[string]string{"tap10": seedBinding(t) + "NAMESERVERS6=" + addrList("2001:db8:53::", 100) + "\n"})
		var out bytes.Buffer
		if code := checkJSON(cfg, &out, exists); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out.String())
		}
		var got checkReport
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := []string{"an RA of 1500 bytes has no room for 13 of 100 DNS servers, 1 of 1 search domains",
			"a DHCPv6 reply of 1500 bytes has no room for 12 of 100 DNS servers, 1 of 1 search domains"}
		if !got.OK || len(got.Bindings) != 1 || !cmp.Equal(got.Bindings[0].Warnings, want) || got.Warnings != nil {
			t.Errorf("report: %+v\nwant the binding's warnings %q", got, want)
		}
	})
	t.Run("config and binding errors", func(t *testing.T) {
		seed, _ := os.ReadFile("testdata/nfdhcpd.conf")
		conf := strings.Replace(string(seed), "nameservers = 192.0.2.2, 192.0.2.3", "nameservers = 2001:db8::1", 1)
		cfg, dir := testDatapath(t, conf, map[string]string{"tap10": seedBinding(t) + "MTU=20\n", "tap2": ""})
		var out bytes.Buffer
		if code := checkJSON(cfg, &out, exists); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		var got checkReport
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
		if code := checkJSON(cfg, &out, exists); code != 1 {
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

func TestRunCheckJSONFlag(t *testing.T) {
	cfg, _ := testDatapath(t, "", map[string]string{"tap10": seedBinding(t)})
	var out, errb bytes.Buffer
	code := run([]string{"-t", "--json", "-c", cfg}, &out, &errb)
	var rep checkReport
	if err := json.Unmarshal(out.Bytes(), &rep); code != 0 || err != nil || !rep.OK || errb.Len() != 0 {
		t.Errorf("exit %d, %v\nstdout: %s\nstderr: %s", code, err, out.String(), errb.String())
	}
}

var tableRows = []metrics.BindingRow{
	{TAP: "tap10", File: "/b/tap10", Active: true, Ifindex: 7, Attach: "tcx", MAC: "aa:6b:39:22:33:44",
		IP: "192.0.2.100", Subnet6: "2001:db8:aaaa:bbbb::/64", Hostname: "testing-vm"},
	{TAP: "tap11", File: "/b/tap11", MAC: "02:00:00:00:00:11", Hostname: "vm11", Waiting: "no link tap11"},
	{TAP: "tap12", File: "/b/tap12", Error: "tap12:3: IP: bad"},
	{TAP: "tap13", File: "/b/tap13", Active: true, Ifindex: 12, MAC: "02:00:00:00:00:13", Hostname: "vm13", Error: "tap13:1: MAC: bad"},
}

func TestWriteBindingTable(t *testing.T) {
	var out bytes.Buffer
	if err := writeBindingTable(&out, tableRows, false); err != nil {
		t.Fatal(err)
	}
	want := `TAP    STATE     IFINDEX  ATTACH  MAC                IP           IPV6 PREFIX              HOSTNAME    WHY
tap10  active    7        tcx     aa:6b:39:22:33:44  192.0.2.100  2001:db8:aaaa:bbbb::/64  testing-vm  -
tap11  waiting   -        -       02:00:00:00:00:11  -            -                        vm11        no link tap11
tap12  rejected  -        -       -                  -            -                        -           tap12:3: IP: bad
tap13  active    12       -       02:00:00:00:00:13  -            -                        vm13        last version rejected, previous in force: tap13:1: MAC: bad
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if err := writeBindingTable(&out, tableRows, true); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("JSON table is not one line:\n%s", out.String())
	}
	var got struct{ Bindings []metrics.BindingRow }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tableRows, got.Bindings); d != "" {
		t.Errorf("JSON table (-want +got):\n%s", d)
	}
}

// A file's name and errors stay on its one row: a name that is not plain
// text is quoted, and joined errors are separated by "; ".
func TestWriteBindingTableOneRowPerFile(t *testing.T) {
	var out bytes.Buffer
	rows := []metrics.BindingRow{{TAP: "tap\x1b[2J\n1", File: "/b/tap\x1b[2J\n1",
		Error: `"/b/tap\x1b[2J\n1": MAC: required` + "\n" + `"/b/tap\x1b[2J\n1": HOSTNAME: required`}}
	if err := writeBindingTable(&out, rows, false); err != nil {
		t.Fatal(err)
	}
	want := `TAP              STATE     IFINDEX  ATTACH  MAC  IP  IPV6 PREFIX  HOSTNAME  WHY
"tap\x1b[2J\n1"  rejected  -        -       -    -   -            -         "/b/tap\x1b[2J\n1": MAC: required; "/b/tap\x1b[2J\n1": HOSTNAME: required
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}
