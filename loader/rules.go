package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NoQueue is the queue number of a kind that is not steered.
const NoQueue = -1

// Queues are the NFQUEUE numbers per kind, in KindTable's order. With
// Balance > 1 each kind's packets are spread over Balance queues from its
// number up, by the CPU that handles the packet (--queue-cpu-fanout): the
// reader of queue n+i runs on a CPU c with c % Balance == i, so a request
// is answered on the CPU it arrived on. A flow hash would not spread them:
// every DHCPDISCOVER is 0.0.0.0 to 255.255.255.255.
type Queues struct {
	Num     [len(KindTable)]int // NoQueue: the kind is not steered
	Balance int
}

// NoQueues steers no kind.
func NoQueues() Queues {
	var q Queues
	for i := range q.Num {
		q.Num[i] = NoQueue
	}
	return q
}

// Of returns k's first queue, or NoQueue.
func (q Queues) Of(k Kinds) int {
	for i, ki := range KindTable {
		if ki.Kind == k {
			return q.Num[i]
		}
	}
	return NoQueue
}

// Kinds returns the kinds that have a queue.
func (q Queues) Kinds() Kinds {
	var k Kinds
	for i, ki := range KindTable {
		if q.Num[i] != NoQueue {
			k |= ki.Kind
		}
	}
	return k
}

// Names returns every queue of every steered kind (Balance of them from
// its number up), with its kind's name.
func (q Queues) Names() map[uint16]string {
	out := make(map[uint16]string)
	for i, ki := range KindTable {
		if q.Num[i] == NoQueue {
			continue
		}
		for j := range max(q.Balance, 1) {
			out[uint16(q.Num[i]+j)] = ki.Name
		}
	}
	return out
}

// family is one of iptables / ip6tables.
type family struct {
	bin, restore string
	ipv6         bool // steers the kinds with KindInfo.IPv6
}

var families = []family{
	{bin: "iptables", restore: "iptables-restore"},
	{bin: "ip6tables", restore: "ip6tables-restore", ipv6: true},
}

func (q Queues) validate() error {
	for i, ki := range KindTable {
		if n := q.Num[i]; n < NoQueue || n > 65535 {
			return fmt.Errorf("%s queue %d: want 0-65535, or -1 for disabled", ki.Name, n)
		} else if n >= 0 && n+max(q.Balance, 1)-1 > 65535 {
			return fmt.Errorf("%s queue %d with balance %d: runs past queue 65535", ki.Name, n, q.Balance)
		}
	}
	return nil
}

// restoreInput is the iptables-restore --noflush input that (re)defines our
// chain in mangle: declaring the chain empties it in the same transaction
// that appends the rules, so a restart neither duplicates rules nor leaves
// a moment with half of them.
func restoreInput(cfg Config, q Queues, fam family) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*mangle\n:%s - [0:0]\n", cfg.Chain)
	for i, ki := range KindTable {
		n := q.Num[i]
		if ki.IPv6 != fam.ipv6 || n == NoQueue {
			continue
		}
		// --queue-bypass: with no daemon reading the queue, packets go on
		// instead of being dropped, so VMs are never blackholed.
		target := fmt.Sprintf("--queue-num %d", n)
		if q.Balance > 1 {
			target = fmt.Sprintf("--queue-balance %d:%d --queue-cpu-fanout", n, n+q.Balance-1)
		}
		fmt.Fprintf(&b, "-A %s -m mark --mark %#x/%#x -m comment --comment \"nfdhcpd %s\" -j NFQUEUE %s --queue-bypass\n",
			cfg.Chain, MarkFor(cfg, ki.Kind), cfg.MarkMask, ki.Name, target)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// jumpRule is our rule in mangle PREROUTING, inserted first: nothing runs
// before it, so a packet the daemon hands back with NF_REPEAT and Unmark
// goes through the table once more exactly as if we were not there.
func jumpRule(chain string) []string { return []string{"PREROUTING", "-j", chain} }

// InstallRules installs, idempotently, the mangle chain that sends marked
// packets to their NFQUEUE (iptables for DHCP, ip6tables for RS, NS and
// DHCPv6) and its jump from PREROUTING.
//
// A packet that reaches the daemon but is not answered should get the
// verdict NF_REPEAT with mark Unmark(cfg, mark): NF_ACCEPT would skip the
// rest of mangle PREROUTING for it, and leave our bits on it.
//
// Cancelling ctx kills the iptables it is running (one waiting for the
// xtables lock waits for ever): a daemon told to stop during start-up
// stops at once, and RemoveRules clears what was done.
func InstallRules(ctx context.Context, cfg Config, q Queues) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("install rules: %w", err)
	}
	if err := q.validate(); err != nil {
		return fmt.Errorf("install rules: %w", err)
	}
	for _, fam := range families {
		if _, err := exec.LookPath(fam.restore); err != nil {
			return fmt.Errorf("%w: install rules: %w", ErrUnsupported, err)
		}
		if err := run(ctx, fam.restore, restoreInput(cfg, q, fam), "-w", "--noflush"); err != nil {
			return fmt.Errorf("install rules: %w", err)
		}
		exists, err := ruleExists(ctx, fam.bin, jumpRule(cfg.Chain))
		if err != nil {
			return fmt.Errorf("install rules: %w", err)
		}
		if !exists {
			args := append([]string{"-w", "-t", "mangle", "-I", "PREROUTING", "1"}, jumpRule(cfg.Chain)[1:]...)
			if err := run(ctx, fam.bin, "", args...); err != nil {
				return fmt.Errorf("install rules: %w", err)
			}
		}
	}
	attrs := []any{"chain", cfg.Chain, "mark", fmt.Sprintf("%#x/%#x", cfg.Mark, cfg.MarkMask)}
	for i, ki := range KindTable {
		attrs = append(attrs, ki.Name+"_queue", q.Num[i])
	}
	cfg.Logger.Info("netfilter rules installed", append(attrs, "queue_balance", max(q.Balance, 1))...)
	return nil
}

// RemoveRules removes our jumps from PREROUTING and our chain, in both
// families; what is already gone is not an error. ctx bounds it: at exit
// a held xtables lock must not keep the daemon from ending.
func RemoveRules(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	var errs []error
	for _, fam := range families {
		if _, err := exec.LookPath(fam.bin); err != nil {
			continue // nothing can have been installed with it
		}
		for {
			exists, err := ruleExists(ctx, fam.bin, jumpRule(cfg.Chain))
			if err != nil {
				errs = append(errs, fmt.Errorf("remove rules: %w", err))
			}
			if !exists || err != nil {
				break
			}
			args := append([]string{"-w", "-t", "mangle", "-D"}, jumpRule(cfg.Chain)...)
			if err := run(ctx, fam.bin, "", args...); err != nil {
				errs = append(errs, fmt.Errorf("remove rules: %w", err))
				break
			}
		}
		if run(ctx, fam.bin, "", "-w", "-t", "mangle", "-S", cfg.Chain) != nil {
			continue // no chain
		}
		for _, op := range []string{"-F", "-X"} {
			if err := run(ctx, fam.bin, "", "-w", "-t", "mangle", op, cfg.Chain); err != nil {
				errs = append(errs, fmt.Errorf("remove rules: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// ruleExists runs `-C`: exit status 1 means absent; other failures (chain
// missing makes it exit 2 on some versions, 1 on others) are reported only
// when the chain is not simply absent.
func ruleExists(ctx context.Context, bin string, rule []string) (bool, error) {
	args := append([]string{"-w", "-t", "mangle", "-C"}, rule...)
	err := run(ctx, bin, "", args...)
	if err == nil {
		return true, nil
	}
	var ee *exitError
	if errors.As(err, &ee) && (ee.code == 1 || strings.Contains(ee.stderr, "does not exist") ||
		strings.Contains(ee.stderr, "No chain/target/match") || strings.Contains(ee.stderr, "Couldn't load target")) {
		return false, nil
	}
	return false, err
}

type exitError struct {
	cmd    string
	code   int
	stderr string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s: exit status %d: %s", e.cmd, e.code, strings.TrimSpace(e.stderr))
}

func run(ctx context.Context, bin, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{AmbientCaps: childCaps()}
	cmd.WaitDelay = 100 * time.Millisecond
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", bin, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitError{cmd: bin + " " + strings.Join(args, " "), code: ee.ExitCode(), stderr: stderr.String()}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	return nil
}

// iptablesCaps are what iptables needs: CAP_NET_ADMIN, and CAP_NET_RAW for
// iptables-legacy's raw socket.
var iptablesCaps = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW}

// childCaps are the capabilities to raise in iptables' ambient set when
// the daemon has dropped root: a program run by a user other than root
// gets only ambient capabilities, and the daemon keeps its own ambient set
// empty so that nothing else it might run inherits them. Root's child
// needs none. Only those the daemon holds can be raised.
func childCaps() []uintptr {
	if os.Geteuid() == 0 {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return nil
	}
	var out []uintptr
	for _, c := range iptablesCaps {
		if data[c/32].Permitted&(1<<(c%32)) != 0 {
			out = append(out, c)
		}
	}
	return out
}
