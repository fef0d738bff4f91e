package contrib

import (
	"slices"
	"testing"
)

// nfdhcpd-ratelimit installs exactly the README's hashlimit rules for a TAP,
// a second add does not duplicate them, and del leaves the tables as they
// were.
func TestRateLimitScript(t *testing.T) {
	require(t, "iptables", "ip6tables", "shellcheck")
	in := netns(t)
	script := "iptables/nfdhcpd-ratelimit"
	if out, err := in("shellcheck", script); err != nil {
		t.Fatalf("shellcheck:\n%s", out)
	}
	before4, before6 := mangleRules(t, in, "iptables-save"), mangleRules(t, in, "ip6tables-save")
	for range 2 {
		if out, err := in(script, "add", "tap10", "100/sec", "20"); err != nil {
			t.Fatalf("add: %v\n%s", err, out)
		}
	}
	want4 := []string{
		"-A PREROUTING -i tap10 -p udp -m udp --dport 67 -m hashlimit --hashlimit-above 100/sec --hashlimit-burst 20 --hashlimit-name tap10 -j DROP",
	}
	want6 := []string{
		"-A PREROUTING -i tap10 -p udp -m udp --dport 547 -j NFDHCPD-LIM-tap10",
		"-A PREROUTING -i tap10 -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j NFDHCPD-LIM-tap10",
		"-A PREROUTING -i tap10 -p ipv6-icmp -m icmp6 --icmpv6-type 133 -j NFDHCPD-LIM-tap10",
		"-A NFDHCPD-LIM-tap10 -m hashlimit --hashlimit-above 100/sec --hashlimit-burst 20 --hashlimit-name tap10 -j DROP",
	}
	if got := mangleRules(t, in, "iptables-save"); !slices.Equal(got, want4) {
		t.Errorf("iptables after add:\n%q\nwant\n%q", got, want4)
	}
	if got := mangleRules(t, in, "ip6tables-save"); !slices.Equal(got, want6) {
		t.Errorf("ip6tables after add:\n%q\nwant\n%q", got, want6)
	}
	if out, err := in(script, "del", "tap10"); err != nil {
		t.Fatalf("del: %v\n%s", err, out)
	}
	if got := mangleRules(t, in, "iptables-save"); !slices.Equal(got, before4) {
		t.Errorf("iptables after del: %q, want %q", got, before4)
	}
	if got := mangleRules(t, in, "ip6tables-save"); !slices.Equal(got, before6) {
		t.Errorf("ip6tables after del: %q, want %q", got, before6)
	}
	if out, err := in(script, "add", "tap;rm"); err == nil {
		t.Errorf("a bad interface name was accepted:\n%s", out)
	}
}
