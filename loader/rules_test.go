package loader

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRestoreInput(t *testing.T) {
	cfg := Config{Chain: "NFDHCPD"}.withDefaults()
	q := Queues{Num: [4]int{42, 43, NoQueue, 45}}
	got := []string{restoreInput(cfg, q, families[0]), restoreInput(cfg, q, families[1])}
	want := []string{
		"*mangle\n:NFDHCPD - [0:0]\n" +
			"-A NFDHCPD -m mark --mark 0x2000000/0xe000000 -m comment --comment \"nfdhcpd dhcp\" -j NFQUEUE --queue-num 42 --queue-bypass\n" +
			"COMMIT\n",
		"*mangle\n:NFDHCPD - [0:0]\n" +
			"-A NFDHCPD -m mark --mark 0x4000000/0xe000000 -m comment --comment \"nfdhcpd rs\" -j NFQUEUE --queue-num 43 --queue-bypass\n" +
			"-A NFDHCPD -m mark --mark 0x8000000/0xe000000 -m comment --comment \"nfdhcpd dhcpv6\" -j NFQUEUE --queue-num 45 --queue-bypass\n" +
			"COMMIT\n",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s input:\n%s\nwant:\n%s", families[i].restore, got[i], want[i])
		}
	}
	q = Queues{Num: [4]int{42, NoQueue, NoQueue, NoQueue}, Balance: 2}
	if got, want := restoreInput(cfg, q, families[0]), "*mangle\n:NFDHCPD - [0:0]\n"+
		"-A NFDHCPD -m mark --mark 0x2000000/0xe000000 -m comment --comment \"nfdhcpd dhcp\" -j NFQUEUE --queue-balance 42:43 --queue-cpu-fanout --queue-bypass\n"+
		"COMMIT\n"; got != want {
		t.Errorf("balanced input:\n%s\nwant:\n%s", got, want)
	}
}

func TestQueuesValidate(t *testing.T) {
	for _, tt := range []struct {
		q    Queues
		want string
	}{
		{Queues{[4]int{0, 65535, -1, 1}, 0}, ""},
		{Queues{[4]int{-2, 1, 1, 1}, 0}, "dhcp queue -2: want 0-65535, or -1 for disabled"},
		{Queues{[4]int{1, 1, 65536, 1}, 0}, "ns queue 65536: want 0-65535, or -1 for disabled"},
		{Queues{[4]int{0, 65534, -1, 1}, 2}, ""},
		{Queues{[4]int{0, 65535, -1, 1}, 2}, "rs queue 65535 with balance 2: runs past queue 65535"},
	} {
		err := tt.q.validate()
		if got := errString(err); got != tt.want {
			t.Errorf("%+v: err = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// chainRules is `-S` of table mangle: the chain's rules and PREROUTING's
// jumps to it.
func chainRules(t *testing.T, bin, chain string) (rules []string, jumps int) {
	t.Helper()
	out, err := exec.Command(bin, "-w", "-t", "mangle", "-S").Output()
	if err != nil {
		t.Fatalf("%s -S: %v", bin, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "-A PREROUTING -j "+chain:
			jumps++
		case strings.HasPrefix(line, "-A "+chain+" "):
			rules = append(rules, line)
		}
	}
	return rules, jumps
}

func TestInstallRulesIdempotent(t *testing.T) {
	lab := newLab(t)
	cfg := lab.config(t, AttachAuto)
	q := Queues{Num: [4]int{42, 43, 44, 45}}
	t.Cleanup(func() { RemoveRules(context.Background(), cfg) })
	for range 2 {
		if err := InstallRules(context.Background(), cfg, q); err != nil {
			t.Fatal(err)
		}
	}
	// A changed configuration replaces the rules, it does not add to them.
	q.Num[2] = 46 // ns
	if err := InstallRules(context.Background(), cfg, q); err != nil {
		t.Fatal(err)
	}
	ch := cfg.Chain
	for _, tt := range []struct {
		bin  string
		want []string
	}{
		{"iptables", []string{
			"-A " + ch + " -m mark --mark 0x2000000/0xe000000 -m comment --comment \"nfdhcpd dhcp\" -j NFQUEUE --queue-num 42 --queue-bypass",
		}},
		{"ip6tables", []string{
			"-A " + ch + " -m mark --mark 0x4000000/0xe000000 -m comment --comment \"nfdhcpd rs\" -j NFQUEUE --queue-num 43 --queue-bypass",
			"-A " + ch + " -m mark --mark 0x6000000/0xe000000 -m comment --comment \"nfdhcpd ns\" -j NFQUEUE --queue-num 46 --queue-bypass",
			"-A " + ch + " -m mark --mark 0x8000000/0xe000000 -m comment --comment \"nfdhcpd dhcpv6\" -j NFQUEUE --queue-num 45 --queue-bypass",
		}},
	} {
		rules, jumps := chainRules(t, tt.bin, ch)
		if !slices.Equal(rules, tt.want) || jumps != 1 {
			t.Errorf("%s: %d jumps, rules:\n%s\nwant 1 jump, rules:\n%s", tt.bin, jumps, strings.Join(rules, "\n"), strings.Join(tt.want, "\n"))
		}
	}

	for range 2 { // removing what is gone is not an error
		if err := RemoveRules(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		if rules, jumps := chainRules(t, bin, ch); len(rules)+jumps != 0 {
			t.Errorf("%s after RemoveRules: %d jumps, rules %v", bin, jumps, rules)
		}
		if err := exec.Command(bin, "-w", "-t", "mangle", "-S", ch).Run(); err == nil {
			t.Errorf("%s: chain %s still exists", bin, ch)
		}
	}
}

// ruleCounters reads the packet counter of each of our rules, by kind name.
func ruleCounters(t *testing.T, bin, chain string) map[string]int {
	t.Helper()
	out, err := exec.Command(bin, "-w", "-t", "mangle", "-L", chain, "-n", "-v", "-x").Output()
	if err != nil {
		t.Fatalf("%s -L: %v", bin, err)
	}
	re := regexp.MustCompile(`^\s*(\d+)\s+\d+\s+NFQUEUE.*/\* nfdhcpd (\w+) \*/`)
	counts := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			counts[m[2]] = n
		}
	}
	return counts
}

func ipv4Checksum(hdr []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(hdr); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(hdr[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestMarkedPacketReachesRules sends real frames from the "VM" end of a
// veth and checks that the classifier's mark is what our iptables and
// ip6tables rules match, each rule counting exactly its packet, and that
// a spoofed frame is dropped before netfilter.
func TestMarkedPacketReachesRules(t *testing.T) {
	for _, mode := range []AttachMode{AttachTCX, AttachTC} {
		t.Run(mode.String(), func(t *testing.T) {
			lab := newLab(t)
			host, vm := lab.veth(t, "tap0", "vm0", vmMAC)
			cfg := lab.config(t, mode)
			l := openLoader(t, cfg)
			t.Cleanup(func() { RemoveRules(context.Background(), cfg) })
			if err := InstallRules(context.Background(), cfg, Queues{Num: [4]int{42, 43, 44, 45}}); err != nil {
				t.Fatal(err)
			}
			if err := l.Attach(Iface{Index: host.Attrs().Index, Name: "tap0", MAC: vmMAC, Kinds: AllKinds}); err != nil {
				t.Fatal(err)
			}

			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			send := func(frame []byte) {
				t.Helper()
				sa := &unix.SockaddrLinklayer{Ifindex: vm.Attrs().Index, Halen: 6}
				copy(sa.Addr[:], bcastMAC)
				if err := unix.Sendto(fd, frame, 0, sa); err != nil {
					t.Fatal(err)
				}
			}
			dhcp := dhcpDiscover(vmMAC)
			binary.BigEndian.PutUint16(dhcp[14+10:], ipv4Checksum(dhcp[14:34])) // ip_rcv checks it
			send(dhcp)
			send(ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(133))))
			send(ether(vmMAC, etherIPv6, ipv6(protoUDP, udp(546, 547, make([]byte, 4)))))
			spoofed := dhcpDiscover(otherMAC)
			copy(spoofed[14:], dhcp[14:])
			send(spoofed)

			want4 := map[string]int{"dhcp": 1}
			want6 := map[string]int{"rs": 1, "ns": 0, "dhcpv6": 1}
			var got4, got6 map[string]int
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				got4, got6 = ruleCounters(t, "iptables", cfg.Chain), ruleCounters(t, "ip6tables", cfg.Chain)
				if mapsEqual(got4, want4) && mapsEqual(got6, want6) {
					break
				}
			}
			if !mapsEqual(got4, want4) || !mapsEqual(got6, want6) {
				t.Errorf("rule counters: iptables %v, ip6tables %v; want %v, %v", got4, got6, want4, want6)
			}
			stats, err := l.Stats()
			if err != nil {
				t.Fatal(err)
			}
			want := Stats{DHCP: KindStats{Marked: 1, Spoofed: 1}, RS: KindStats{Marked: 1}, DHCPv6: KindStats{Marked: 1}}
			if stats != want {
				t.Errorf("Stats = %+v, want %+v", stats, want)
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Cancelled, InstallRules runs no iptables and installs nothing.
func TestInstallRulesCancelled(t *testing.T) {
	lab := newLab(t)
	cfg := lab.config(t, AttachAuto)
	t.Cleanup(func() { RemoveRules(context.Background(), cfg) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := InstallRules(ctx, cfg, Queues{Num: [4]int{42, 43, 44, 45}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("InstallRules with a cancelled context: %v, want context.Canceled", err)
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		if err := exec.Command(bin, "-w", "-t", "mangle", "-S", cfg.Chain).Run(); err == nil {
			t.Errorf("%s: chain %s was made", bin, cfg.Chain)
		}
	}
}

func TestQueuesByKind(t *testing.T) {
	q := Queues{Num: [4]int{42, NoQueue, 44, 45}, Balance: 2}
	if got := q.Of(KindNS); got != 44 {
		t.Errorf("Of(ns) = %d, want 44", got)
	}
	if got := q.Of(KindRS); got != NoQueue {
		t.Errorf("Of(rs) = %d, want NoQueue", got)
	}
	if got := q.Kinds(); got != KindDHCP|KindNS|KindDHCPv6 {
		t.Errorf("Kinds() = %v", got)
	}
	want := map[uint16]string{42: "dhcp", 43: "dhcp", 44: "ns", 45: "ns"}
	// 45 is both ns's second queue and dhcpv6's first: overlapping ranges
	// are the configuration's to refuse; the later kind wins here.
	want[45], want[46] = "dhcpv6", "dhcpv6"
	if got := q.Names(); !maps.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if got := NoQueues().Kinds(); got != 0 {
		t.Errorf("NoQueues().Kinds() = %v", got)
	}
}
