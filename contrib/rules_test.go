package contrib

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// netns makes a network namespace of its own for the test, removed at the
// end, so that loading rules touches nothing of the machine's.
func netns(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads rules in a network namespace")
	}
	name := fmt.Sprintf("nfdhcpd-contrib-%d-%s", os.Getpid(), strings.ToLower(t.Name()))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...).CombinedOutput()
		return string(out), err
	}
}

func require(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
}

// mangleRules is the mangle table's rules as iptables-save prints them.
func mangleRules(t *testing.T, in func(...string) (string, error), save string) []string {
	t.Helper()
	out, err := in(save, "-t", "mangle")
	if err != nil {
		t.Fatalf("%s: %v\n%s", save, err, out)
	}
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-A ") {
			rules = append(rules, l)
		}
	}
	return rules
}

// The iptables-restore files hold the ferm ruleset's rules exactly: both are
// loaded into a scratch namespace and what the kernel holds is compared.
func TestRulesMatchFerm(t *testing.T) {
	require(t, "ferm", "iptables-restore", "ip6tables-restore")
	in := netns(t)
	out, err := exec.Command("ferm", "--noexec", "--lines", "ferm/nfdhcpd.ferm").CombinedOutput()
	if err != nil {
		t.Fatalf("ferm: %v\n%s", err, out)
	}
	// ferm prints the IPv4 then the IPv6 table, each ending in COMMIT.
	parts := strings.SplitAfter(string(out), "COMMIT\n")
	if len(parts) != 3 {
		t.Fatalf("ferm printed %d tables, want 2:\n%s", len(parts)-1, out)
	}
	for i, fam := range []struct{ restore, save, file string }{
		{"iptables-restore", "iptables-save", "iptables/rules.v4"},
		{"ip6tables-restore", "ip6tables-save", "iptables/rules.v6"},
	} {
		ferm := filepath.Join(t.TempDir(), "ferm")
		os.WriteFile(ferm, []byte(parts[i]), 0o644)
		if out, err := in(fam.restore, ferm); err != nil {
			t.Fatalf("%s of ferm's output: %v\n%s", fam.restore, err, out)
		}
		want := mangleRules(t, in, fam.save)
		if out, err := in(fam.restore, fam.file); err != nil {
			t.Fatalf("%s %s: %v\n%s", fam.restore, fam.file, err, out)
		}
		got := mangleRules(t, in, fam.save)
		if !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%s loads:\n%s\nferm's ruleset loads:\n%s", fam.file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, q := range []string{"--queue-bypass"} {
			for _, r := range got {
				if !strings.Contains(r, q) {
					t.Errorf("%s: %q lacks %s", fam.file, r, q)
				}
			}
		}
	}
}

var queueRE = regexp.MustCompile(`queue num (\d+) bypass`)

// The nft ruleset steers the same kinds to the same queues. This kernel may
// lack nft_queue (native `queue`), so the file is checked by the kernel with
// its queue statements replaced by counters, and in full where it can.
func TestNftRuleset(t *testing.T) {
	require(t, "nft")
	in := netns(t)
	text, err := os.ReadFile("nft/nfdhcpd.nft")
	if err != nil {
		t.Fatal(err)
	}
	var queues []string
	for _, m := range queueRE.FindAllStringSubmatch(string(text), -1) {
		queues = append(queues, m[1])
	}
	if want := []string{"42", "43", "44", "45"}; !slices.Equal(queues, want) {
		t.Errorf("queues %v, want %v (dhcp, rs, ns, dhcpv6 as in the iptables rules)", queues, want)
	}
	for _, match := range []string{`udp dport 67 queue num 42`, `icmpv6 type nd-router-solicit queue num 43`,
		`icmpv6 type nd-neighbor-solicit queue num 44`, `udp dport 547 queue num 45`} {
		if !strings.Contains(string(text), match) {
			t.Errorf("nft ruleset has no %q", match)
		}
	}
	full, err := in("nft", "-c", "-f", "nft/nfdhcpd.nft")
	if err == nil {
		return
	}
	if !strings.Contains(full, "queue num") {
		t.Fatalf("nft -c -f: %v\n%s", err, full)
	}
	counters := filepath.Join(t.TempDir(), "counters.nft")
	os.WriteFile(counters, []byte(queueRE.ReplaceAllString(string(text), "counter")), 0o644)
	if out, err := in("nft", "-c", "-f", counters); err != nil {
		t.Fatalf("nft -c -f with counters for queues: %v\n%s", err, out)
	}
	// Loaded twice: the file replaces its own table, never duplicates it.
	for range 2 {
		if out, err := in("nft", "-f", counters); err != nil {
			t.Fatalf("nft -f: %v\n%s", err, out)
		}
	}
	if out, _ := in("nft", "list", "table", "inet", "nfdhcpd"); strings.Count(out, "counter") != 4 {
		t.Errorf("after loading twice:\n%s", out)
	}
	t.Logf("this kernel has no nft queue support; checked the ruleset with counters in place of: %s", strings.Join(queues, ", "))
}

func TestLogrotate(t *testing.T) {
	require(t, "logrotate")
	state := filepath.Join(t.TempDir(), "state")
	out, err := exec.Command("logrotate", "-d", "-s", state, "logrotate/nfdhcpd").CombinedOutput()
	if err != nil || strings.Contains(string(out), "error") {
		t.Errorf("logrotate -d: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "rotating pattern: /var/log/nfdhcpd/*.log  weekly (4 rotations)") {
		t.Errorf("logrotate -d did not read the pattern:\n%s", out)
	}
}
