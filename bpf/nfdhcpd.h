/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by the TC classifier (classifier.c) and the Go loader
 * (bpf2go generates the Go side from BTF). Anything pinned under
 * bpf_pin_path is described here; a change to any of these layouts must bump
 * NFDHCPD_LAYOUT_VERSION so that a restarted daemon recreates the pins
 * instead of reusing maps whose bytes it would misread.
 */
#ifndef NFDHCPD_H
#define NFDHCPD_H

#include <linux/types.h>

#define NFDHCPD_LAYOUT_VERSION 3

/* Kinds of packet the classifier marks; also the bits of iface_value.kinds. */
enum nfdhcpd_kind {
	NFDHCPD_KIND_DHCP = 1 << 0,   /* IPv4 UDP dport 67 */
	NFDHCPD_KIND_RS = 1 << 1,     /* ICMPv6 type 133 */
	NFDHCPD_KIND_NS = 1 << 2,     /* ICMPv6 type 135 */
	NFDHCPD_KIND_DHCPV6 = 1 << 3, /* IPv6 UDP dport 547 */
};

/* iface_value.flags */
enum nfdhcpd_iface_flag {
	/* Accept packets whose Ethernet source differs from the bound MAC. */
	NFDHCPD_FLAG_MACSPOOF = 1 << 0,
};

/*
 * Answers in the kernel (the answers map): for a TAP's RS and NS the
 * classifier can send the reply itself, from templates the daemon's
 * responder built. An NA is one size; an RA is at most the responder's
 * 1514-byte frame, rounded up here to whole 8-byte words.
 */
#define NFDHCPD_NA_LEN 86   /* Ethernet + IPv6 + NA with its Target Link-Layer Address option */
#define NFDHCPD_NA_MAX 2    /* NA targets per TAP: the router's link-local address, GATEWAY6 */
#define NFDHCPD_RA_MAX 1520 /* room for one RA frame */

/* Key of the ifaces map: a struct (not a bare u32) so that bpftool prints
 * the field name "ifindex". */
struct iface_key {
	__u32 ifindex;
};

/* Value of the ifaces map. The per-TAP rate limit lives in the limits map,
 * keyed the same way, so that this one stays a plain, readable record. */
struct iface_value {
	__u8 mac[6];  /* the binding's MAC: the only Ethernet source accepted */
	__u8 kinds;   /* enum nfdhcpd_kind bits: which packets to mark */
	__u8 flags;   /* enum nfdhcpd_iface_flag bits */
	/* Generation of this entry: the TAP's answers entry is current only
	 * while its gen is the same. Unique per write (never 0), so that an
	 * answers entry written for another binding, or recycled by the
	 * kernel for another TAP, is never taken for this one. */
	__u64 gen;
};

/* One NA template. */
struct answer_na {
	__u8 target[16]; /* the NA's target: which NS it answers */
	__u8 frame[(NFDHCPD_NA_LEN + 7) / 8 * 8]; /* NFDHCPD_NA_LEN bytes, then zeros */
};

/*
 * Value of the answers map, keyed by iface_key: the replies the classifier
 * sends by itself for one TAP, each as the responder builds it for a
 * request from the unspecified address (to all nodes, ff02::1; an NA with
 * R and O set, S clear). Per request the classifier sets the destination
 * MAC and address and the NA's S flag, and updates the checksum.
 *
 * The loader writes an entry in place under its lock (BPF_F_LOCK) and the
 * classifier copies it out under the same lock, so that it never sends
 * half of one template and half of the next.
 */
struct iface_answers {
	struct bpf_spin_lock lock;
	__u32 ra_len;   /* bytes of ra in use; 0: no RA, RS go to the daemon */
	__u64 gen;      /* the iface_value.gen it was written with */
	__u32 na_count; /* entries of na in use */
	__u32 pad;
	struct answer_na na[NFDHCPD_NA_MAX];
	__u8 ra[NFDHCPD_RA_MAX];
};

/* Single-entry config array: written by the loader before any attach. The
 * classifier sets mark = (mark & ~mask) | kind_mark[kind] on matching packets,
 * and admits them per TAP through a token bucket of rate 1/interval_ns and
 * depth burst_ns/interval_ns (interval_ns 0: no limit). */
struct mark_config {
	__u32 version;   /* NFDHCPD_LAYOUT_VERSION of the writer */
	__u32 mask;      /* the skb mark bits we own */
	__u32 dhcp_mark; /* full values, already under mask */
	__u32 rs_mark;
	__u32 ns_mark;
	__u32 dhcpv6_mark;
	/* enum nfdhcpd_kind bits (RS, NS) the classifier may answer itself
	 * from the answers map; 0 sends every one to the daemon. */
	__u32 answer_kinds;
	__u32 pad;
	__u64 interval_ns; /* ns per token: 1e9 / rate; 0 turns the limit off */
	__u64 burst_ns;    /* burst * interval_ns: how far ahead a TAP may run */
};

/*
 * Value of the limits map, keyed by iface_key: one token bucket per TAP, in
 * GCRA form (tat, the time at which the bucket is full again, is the whole
 * state). Shared by every CPU and guarded by a spin lock rather than per-CPU:
 * a multiqueue TAP's packets arrive on several CPUs, and per-CPU buckets
 * would multiply the limit by the CPU count. Atomic compare-and-exchange
 * would avoid the lock but needs Linux 5.12, and 5.10 is supported; the
 * lock is only ever contended by packets of the same TAP.
 */
struct iface_limit {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 tat;     /* bpf_ktime_get_ns() at which the bucket is full again */
	__u64 passed;  /* packets admitted */
	__u64 limited; /* packets over the limit: dropped in the kernel */
};

/* Outcome counters for one kind. */
struct kind_counters {
	__u64 marked;  /* mark set, passed on to the daemon (TC_ACT_UNSPEC / TCX_NEXT) */
	__u64 spoofed; /* source MAC != bound MAC without MACSPOOF: dropped */
	__u64 disabled; /* interface bound but this kind not enabled: untouched */
	__u64 limited; /* over its TAP's rate limit: dropped */
	__u64 answered; /* answered by the classifier itself and sent back out */
};

/* Single-entry per-CPU array: the loader sums the CPUs. */
struct counters {
	struct kind_counters dhcp;
	struct kind_counters rs;
	struct kind_counters ns;
	struct kind_counters dhcpv6;
	/* a matching packet on an ifindex absent from ifaces (stale attach) */
	__u64 unbound;
	/* config map not yet written: matching packet left untouched */
	__u64 unconfigured;
	/* an answer the kernel refused to build (a helper failed): the
	 * request went on to the daemon, or was dropped if it could not be
	 * restored */
	__u64 answer_errors;
};

#endif /* NFDHCPD_H */
