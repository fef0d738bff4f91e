package main

import (
	"bytes"
	"encoding/json"
	"github.com/nfdhcpd/nfdhcpd/check"
	"github.com/nfdhcpd/nfdhcpd/config"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want flags
	}{
		{nil, flags{Config: config.DefaultPath, StartTimeout: DefaultStartTimeout, StopTimeout: DefaultStopTimeout}},
		{[]string{"-c", "/x.conf", "-f", "-d", "-t"}, flags{Config: "/x.conf", Foreground: true, Debug: true, Test: true, StartTimeout: DefaultStartTimeout, StopTimeout: DefaultStopTimeout}},
		{[]string{"--config=/y.conf", "--foreground", "--debug", "--test"}, flags{Config: "/y.conf", Foreground: true, Debug: true, Test: true, StartTimeout: DefaultStartTimeout, StopTimeout: DefaultStopTimeout}},
		{[]string{"--version"}, flags{Config: config.DefaultPath, Version: true, StartTimeout: DefaultStartTimeout, StopTimeout: DefaultStopTimeout}},
		{[]string{"--start-timeout", "2m"}, flags{Config: config.DefaultPath, StartTimeout: 2 * time.Minute, StopTimeout: DefaultStopTimeout}},
		{[]string{"--stop-timeout", "5s"}, flags{Config: config.DefaultPath, StartTimeout: DefaultStartTimeout, StopTimeout: 5 * time.Second}},
		{[]string{"-t", "--strict"}, flags{Config: config.DefaultPath, Test: true, Strict: true, StartTimeout: DefaultStartTimeout, StopTimeout: DefaultStopTimeout}},
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
	cfg := filepath.Join(t.TempDir(), "nfdhcpd.conf")
	if err := os.WriteFile(cfg, []byte("[general]\nsteering = ebpf\n[dhcp]\ndhcp_queue = 70000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
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
		{[]string{"--stop-timeout", "-1s"}, 2, false, "nfdhcpd: --stop-timeout -1s: must be more than 0"},
		{[]string{"--strict"}, 2, false, "nfdhcpd: --strict: only with -t"},
		{[]string{"--help"}, 0, true, "(default 800ms)"},
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

// -t and --json reach the checker: its summary line, or its JSON report.
func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	seed, err := os.ReadFile("../../config/testdata/nfdhcpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "nfdhcpd.conf")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(seed), "/var/lib/nfdhcpd", dir, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-t", "-c", cfg}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), cfg+": ok: dhcp queue 42") {
		t.Errorf("-t: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	out.Reset()
	code := run([]string{"-t", "--json", "-c", cfg}, &out, &errb)
	var rep check.Report
	if err := json.Unmarshal(out.Bytes(), &rep); code != 0 || err != nil || !rep.OK || errb.Len() != 0 {
		t.Errorf("-t --json: exit %d, %v\nstdout: %s\nstderr: %s", code, err, out.String(), errb.String())
	}

	// A binding the original served, with a line it ignored: a warning,
	// and an error with --strict.
	if err := os.WriteFile(filepath.Join(dir, "tap10"), []byte("MAC=aa:6b:39:22:33:44\nHOSTNAME=vm\nexport FOO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args    []string
		code    int
		section string
	}{{[]string{"-t"}, 0, "warnings:\n"}, {[]string{"-t", "--strict"}, 1, "errors:\n"}} {
		out.Reset()
		errb.Reset()
		code := run(append(tt.args, "-c", cfg), &out, &errb)
		if want := tt.section + dir + `/tap10:3: "export FOO" is not KEY=VALUE, ignored` + "\n"; code != tt.code || errb.String() != want {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant %d and:\n%s", tt.args, code, errb.String(), tt.code, want)
		}
	}
}
