package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// manEntries splits a man page source into its sections ("# NAME" headers)
// and, within each, its entries: a line starting with "*term*" and the
// indented lines under it.
func manEntries(t *testing.T, path string) map[string][]string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]string)
	section := ""
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			section = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "*"):
			out[section] = append(out[section], line)
		case strings.HasPrefix(line, "\t") && len(out[section]) > 0:
			out[section][len(out[section])-1] += "\n" + line
		}
	}
	return out
}

// findEntry returns the entry of section whose term line names *name*.
func findEntry(entries map[string][]string, section, name string) string {
	for _, e := range entries[section] {
		term, _, _ := strings.Cut(e, "\n")
		if strings.Contains(term, "*"+name+"*") {
			return e
		}
	}
	return ""
}

// Every key the parser knows has an entry in nfdhcpd.conf(5), in its
// section, that states its default; the defaults stated are the parser's.
func TestManConfKeys(t *testing.T) {
	entries := manEntries(t, "../../man/nfdhcpd.conf.5.scd")
	for section, keys := range schema {
		for key := range keys {
			e := findEntry(entries, "["+section+"]", key)
			if e == "" {
				t.Errorf("nfdhcpd.conf(5): [%s] %s is not documented", section, key)
				continue
			}
			if !strings.Contains(e, "Default") {
				t.Errorf("nfdhcpd.conf(5): [%s] %s states no default:\n%s", section, key, e)
			}
		}
	}
	d := defaultConfig()
	for _, tt := range []struct{ section, key, want string }{
		{"general", "pidfile", d.General.PIDFile},
		{"general", "datapath", d.General.DataPath},
		{"general", "logdir", d.General.LogDir},
		{"general", "user", d.General.User},
		{"general", "steering", string(d.General.Steering)},
		{"general", "bpf_pin_path", d.General.BPFPinPath},
		{"general", "attach", string(d.General.Attach)},
		{"general", "mark_mask", fmt.Sprintf("%#08x", d.General.MarkMask)},
		{"general", "queue_balance", fmt.Sprint(d.General.QueueBalance)},
		{"general", "rate_limit", fmt.Sprint(d.General.RateLimit)},
		{"dhcp", "enable_dhcp", "yes"},
		{"dhcp", "lease_lifetime", fmt.Sprint(int(d.DHCP.LeaseLifetime / time.Second))},
		{"dhcp", "lease_renewal", fmt.Sprint(int(d.DHCP.LeaseRenewal / time.Second))},
		{"ipv6", "enable_ipv6", "yes"},
		{"ipv6", "mode", string(d.IPv6.ModeSetting)},
		{"ipv6", "ra_period", fmt.Sprint(int(d.IPv6.RAPeriod / time.Second))},
	} {
		e := findEntry(entries, "["+tt.section+"]", tt.key)
		_, def, _ := strings.Cut(e, "Default")
		if !strings.Contains(def, tt.want) {
			t.Errorf("nfdhcpd.conf(5): [%s] %s: default should say %q:\n%s", tt.section, tt.key, tt.want, e)
		}
	}
}

// Every option of the usage text has an entry in nfdhcpd(8).
func TestManFlags(t *testing.T) {
	entries := manEntries(t, "../../man/nfdhcpd.8.scd")
	flags := regexp.MustCompile(`(?m)^\s+(-[a-z], )?(--[a-z-]+)`).FindAllStringSubmatch(usageText, -1)
	if len(flags) < 6 {
		t.Fatalf("found %d options in the usage text", len(flags))
	}
	for _, f := range flags {
		short := strings.TrimSuffix(f[1], ", ")
		for _, name := range []string{short, f[2]} {
			if name != "" && findEntry(entries, "OPTIONS", name) == "" {
				t.Errorf("nfdhcpd(8): option %s is not documented", name)
			}
		}
		e := findEntry(entries, "OPTIONS", f[2])
		if f[2] != "--version" && f[2] != "--help" && !strings.Contains(e, "Default") {
			t.Errorf("nfdhcpd(8): %s states no default:\n%s", f[2], e)
		}
	}
	if e := findEntry(entries, "OPTIONS", "--config"); !strings.Contains(e, DefaultConfigPath) {
		t.Errorf("nfdhcpd(8): --config default is not %s:\n%s", DefaultConfigPath, e)
	}
}

// The pages build with scdoc and groff reads them without a warning.
func TestManBuild(t *testing.T) {
	for _, tool := range []string{"scdoc", "groff"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	for _, page := range []string{"nfdhcpd.8", "nfdhcpd.conf.5"} {
		src, err := os.Open("../../man/" + page + ".scd")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("scdoc")
		cmd.Stdin = src
		roff, err := cmd.Output()
		src.Close()
		if err != nil {
			t.Fatalf("scdoc %s: %v", page, err)
		}
		g := exec.Command("groff", "-k", "-man", "-Tutf8", "-ww", "-z")
		g.Stdin = strings.NewReader(string(roff))
		if out, err := g.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, out)
		}
	}
}
