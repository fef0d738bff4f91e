// Package loader puts the nfdhcpd TC classifier (bpf/classifier.c) in the
// kernel and keeps it in step with the bindings: it loads or reuses the
// pinned program and maps, attaches the program to each bound TAP's
// ingress (TCX on 6.6+, else a direct-action cls_bpf filter under the
// TAP's clsact or ingress qdisc), writes the per-TAP entries the
// classifier reads, and installs the daemon's own mangle rules that send
// marked packets to NFQUEUE.
//
// TCX attaches one TAP per RCU grace period, serialised by RTNL: 10-15 ms
// each, minutes for thousands. So in auto mode Reconcile, at start, gives
// TAPs without a TCX link a cls_bpf filter when there are more than
// bulkTCX of them (0.1 ms each), and Upgrade moves them to TCX afterwards,
// one at a time, each steered throughout.
//
// State under Config.PinPath (default /sys/fs/bpf/nfdhcpd) is the
// daemon's memory across restarts:
//
//	ifaces          hash  {ifindex} -> {mac, kinds, flags}
//	stats           per-CPU counters by kind and outcome
//	config          the mark values and the layout version
//	classifier      the program
//	links/<ifindex>-<name>   one TCX link per TAP (cls_bpf filters hold
//	                         no pin; they are found by name "nfdhcpd",
//	                         pref 0x4e44, handle 0x4e44)
//
// The directory is flocked by the running daemon. Inspect it with:
//
//	bpftool map dump pinned /sys/fs/bpf/nfdhcpd/ifaces
//	bpftool map dump pinned /sys/fs/bpf/nfdhcpd/stats
//	bpftool link show pinned /sys/fs/bpf/nfdhcpd/links/<ifindex>-<tap>
//	bpftool net show dev <tap>   (bpftool 7.3+ for TCX; older ones list only cls_bpf)
//	tc filter show dev <tap> ingress   (cls_bpf)
//
// For a packet the daemon reads from the queue but does not answer, give
// the verdict NF_REPEAT with mark Unmark(cfg, mark): the packet then goes
// through mangle PREROUTING again without our bits, so our rules pass it
// by and everyone else's rules see it as it came. NF_ACCEPT would skip the
// rest of mangle PREROUTING for it and leave our bits set.
package loader
