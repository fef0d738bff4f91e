// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * nfdhcpd TC classifier: attached to the ingress of each bound TAP (TCX, or
 * cls_bpf in direct-action mode). It marks the packets the daemon answers
 * (DHCPv4, Router and Neighbor Solicitations, DHCPv6) so that the daemon's
 * own `-m mark ... -j NFQUEUE` rules steer them to userspace, and drops those
 * sent with a source MAC other than the binding's or beyond the TAP's rate
 * limit, so that they are never queued. An RS or NS that the daemon would
 * answer from a template it wrote in the answers map is answered here
 * instead: the request becomes the reply and leaves by the TAP it came in
 * on. Everything else leaves untouched as early as possible; every verdict
 * except those two drops and the answers lets other programs and the stack
 * run.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nfdhcpd.h"

char __license[] SEC("license") = "Dual BSD/GPL";

#define DHCP_SERVER_PORT 67
#define DHCPV6_SERVER_PORT 547
#define ICMPV6_ROUTER_SOLICIT 133
#define ICMPV6_NEIGHBOUR_SOLICIT 135
#define IPV4_FRAG_OFFSET 0x1fff
/* Hop-by-hop, routing and destination options headers are walked, at most
 * this many: enough for any real RS/NS/DHCPv6 (which normally carry none)
 * while keeping the program's cost bounded. */
#define IPV6_MAX_EXT_HEADERS 3

/* Offsets in an RS or NS the classifier answers, which has no extension
 * header, and in its reply. */
#define IP6_SRC_OFF (ETH_HLEN + 8)
#define IP6_DST_OFF (ETH_HLEN + 24)
#define ICMP6_OFF (ETH_HLEN + 40)
#define ICMP6_CSUM_OFF (ICMP6_OFF + 2)
#define NA_FLAGS_OFF (ICMP6_OFF + 4)
#define NS_TARGET_OFF (ICMP6_OFF + 8)
#define RS_LEN (ICMP6_OFF + 8)  /* an RS without options */
#define NS_LEN (ICMP6_OFF + 24) /* an NS without options */
#define ND_OPT_LEN 8            /* a Source Link-Layer Address option */
#define ND_OPT_SLLA 1
#define NDP_HOP_LIMIT 255
#define NA_FLAG_S 0x40

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct iface_key);
	__type(value, struct iface_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifaces SEC(".maps");

/* Created by the classifier on a TAP's first packet; removed by the loader
 * with the ifaces entry. Same size as ifaces: only bound TAPs get one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct iface_key);
	__type(value, struct iface_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mark_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} config SEC(".maps");

/* Written by the loader, read here: see struct iface_answers. Entries are made
 * only for bound TAPs with IPv6, so memory is only taken for those. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct iface_key);
	__type(value, struct iface_answers);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} answers SEC(".maps");

/* A reply is put together here, out of the answers entry's lock, before it
 * is written into the packet in one go. */
struct answer_buf {
	__u64 w[NFDHCPD_RA_MAX / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct answer_buf);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} scratch SEC(".maps");

/*
 * header returns a pointer to len bytes at off, or NULL when the packet is
 * shorter. Headers normally sit in the linear part; when they do not (a
 * paged skb from a TAP with vnet headers), they are pulled in, which only
 * happens for IP packets that may be ours.
 */
static __always_inline void *header(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	void *p = data + off;

	if (p + len <= data_end)
		return p;
	if (skb->len < off + len || bpf_skb_pull_data(skb, off + len))
		return NULL;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	p = data + off;
	if (p + len > data_end)
		return NULL;
	return p;
}

static __always_inline __u32 classify_ipv4(struct __sk_buff *skb)
{
	struct iphdr *ip = header(skb, ETH_HLEN, sizeof(*ip));
	__u32 off;
	__be16 *ports;

	if (!ip || ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
		return 0;
	/* Non-first fragments carry no UDP header: whatever they hold is not
	 * something we can classify, so they leave as they came. */
	if (ip->frag_off & bpf_htons(IPV4_FRAG_OFFSET))
		return 0;
	off = ETH_HLEN + ip->ihl * 4;
	ports = header(skb, off, 2 * sizeof(__be16));
	if (!ports || ports[1] != bpf_htons(DHCP_SERVER_PORT))
		return 0;
	return NFDHCPD_KIND_DHCP;
}

static __always_inline __u32 classify_ipv6(struct __sk_buff *skb)
{
	struct ipv6hdr *ip6 = header(skb, ETH_HLEN, sizeof(*ip6));
	__u32 off = ETH_HLEN + sizeof(*ip6);
	__u8 nexthdr;
	__u8 *p;

	if (!ip6 || ip6->version != 6)
		return 0;
	nexthdr = ip6->nexthdr;

	/*
	 * Extension headers: hop-by-hop, routing and destination options are
	 * skipped, as ip6tables' `-p` does, so a solicitation carrying them is
	 * still answered. A Fragment header ends the search: RFC 6980 forbids
	 * fragmented Neighbor Discovery, and a fragmented DHCPv6 request is
	 * not something the daemon could answer from one queued packet.
	 */
#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS)
			break;
		p = header(skb, off, 2);
		if (!p)
			return 0;
		nexthdr = p[0];
		off += ((__u32)p[1] + 1) * 8;
	}

	switch (nexthdr) {
	case IPPROTO_UDP: {
		__be16 *ports = header(skb, off, 2 * sizeof(__be16));

		if (ports && ports[1] == bpf_htons(DHCPV6_SERVER_PORT))
			return NFDHCPD_KIND_DHCPV6;
		return 0;
	}
	case IPPROTO_ICMPV6:
		p = header(skb, off, 1);
		if (!p)
			return 0;
		if (p[0] == ICMPV6_ROUTER_SOLICIT)
			return NFDHCPD_KIND_RS;
		if (p[0] == ICMPV6_NEIGHBOUR_SOLICIT)
			return NFDHCPD_KIND_NS;
		return 0;
	}
	return 0;
}

static __always_inline struct kind_counters *kind_stats(struct counters *st, __u32 kind)
{
	switch (kind) {
	case NFDHCPD_KIND_DHCP:
		return &st->dhcp;
	case NFDHCPD_KIND_RS:
		return &st->rs;
	case NFDHCPD_KIND_NS:
		return &st->ns;
	default:
		return &st->dhcpv6;
	}
}

static __always_inline __u32 kind_mark(const struct mark_config *cfg, __u32 kind)
{
	switch (kind) {
	case NFDHCPD_KIND_DHCP:
		return cfg->dhcp_mark;
	case NFDHCPD_KIND_RS:
		return cfg->rs_mark;
	case NFDHCPD_KIND_NS:
		return cfg->ns_mark;
	default:
		return cfg->dhcpv6_mark;
	}
}

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	/* Byte-wise: both sides may be unaligned, and clang's memcmp is not
	 * available in BPF. */
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
}

/*
 * over_limit takes a token from the TAP's bucket and reports whether there
 * was none. A TAP's bucket is its own: another TAP's excess never touches it.
 */
static __always_inline int over_limit(const struct mark_config *cfg, struct iface_key *key)
{
	__u64 interval = cfg->interval_ns, burst = cfg->burst_ns;
	struct iface_limit *lim;
	__u64 now, tat;
	int over;

	if (!interval)
		return 0;
	lim = bpf_map_lookup_elem(&limits, key);
	if (!lim) {
		struct iface_limit fresh = {};

		/* BPF_NOEXIST: another CPU may have made it meanwhile. */
		bpf_map_update_elem(&limits, key, &fresh, BPF_NOEXIST);
		lim = bpf_map_lookup_elem(&limits, key);
		if (!lim)
			return 0; /* map full: fail open rather than starve the VM */
	}
	/* Helpers may not be called under the lock. */
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&lim->lock);
	tat = lim->tat > now ? lim->tat : now;
	tat += interval;
	over = tat - now > burst;
	if (over) {
		lim->limited++;
	} else {
		lim->tat = tat;
		lim->passed++;
	}
	bpf_spin_unlock(&lim->lock);
	return over;
}

/* What a request the classifier answers leaves for its reply. */
struct nd_request {
	__u64 target[2]; /* NS: the target */
	__u8 src[16];    /* the request's source address */
	__u32 len;       /* the request's frame length */
	__u8 to_src;     /* reply to src and the VM's MAC, not to all nodes */
	__u8 solicited;  /* NA: set S */
};

static __always_inline int addr_unspecified(const __u8 *a)
{
	__u8 any = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		any |= a[i];
	return !any;
}

static __always_inline int addr_loopback(const __u8 *a)
{
	__u8 any = 0;

#pragma unroll
	for (int i = 0; i < 15; i++)
		any |= a[i];
	return !any && a[15] == 1;
}

/* ff02::1:ff00:0/104, as the responder's isSolicitedNode. */
static __always_inline int addr_solicited_node(const __u8 *a)
{
	__u8 any = 0;

#pragma unroll
	for (int i = 2; i < 11; i++)
		any |= a[i];
	return a[0] == 0xff && a[1] == 0x02 && !any && a[11] == 0x01 && a[12] == 0xff;
}

/*
 * nd_frame checks what an RS or NS of base bytes without options must be
 * for the classifier to answer it, and returns the frame, or NULL; *slla
 * tells whether it carries the option. Every check is one the daemon's
 * responder makes (RFC 4861 §6.1.1 and §7.1.1, the MAC check), or one the
 * IPv6 stack makes before the daemon's queue sees the packet
 * (ip6_rcv_core), or keeps to requests the daemon answers the same way in
 * every case. A request that fails one goes on to the daemon, as before.
 */
static __always_inline __u8 *nd_frame(struct __sk_buff *skb, __u32 base, const __u8 *mac, int *slla)
{
	__u32 len = skb->len;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	__u8 *f, *dst;

	/*
	 * Exactly the message and at most one option, a Source Link-Layer
	 * Address of the VM's own MAC: no extension header, no other option,
	 * no trailing bytes. The reply is then never shorter than the
	 * request, so whatever offsets the kernel keeps for the packet
	 * (a checksum to complete, from a virtio header) stay inside it.
	 */
	if (len == base + ND_OPT_LEN) {
		f = header(skb, 0, base + ND_OPT_LEN);
		if (!f || f[base] != ND_OPT_SLLA || f[base + 1] != 1 || !mac_equal(f + base + 2, mac))
			return NULL;
		*slla = 1;
	} else if (len == base) {
		f = header(skb, 0, base);
		if (!f)
			return NULL;
		*slla = 0;
	} else {
		return NULL;
	}
	eth = (struct ethhdr *)f;
	ip6 = (struct ipv6hdr *)(f + ETH_HLEN);
	/* MACSPOOF: the daemon finds a bridged VM by its MAC; from another
	 * MAC, leave it to the daemon's lookup. */
	if (!mac_equal(eth->h_source, mac))
		return NULL;
	if (ip6->nexthdr != IPPROTO_ICMPV6 || ip6->hop_limit != NDP_HOP_LIMIT ||
	    bpf_ntohs(ip6->payload_len) != len - ICMP6_OFF || f[ICMP6_OFF + 1] != 0)
		return NULL;

	/* What ip6_rcv_core drops before netfilter: multicast or loopback
	 * sources, loopback destinations, multicast destinations of scope 0
	 * or 1, and frames to another host's MAC (a routed TAP); and, as
	 * drop_unicast_in_l2_multicast may, unicast in link-layer multicast
	 * or broadcast. */
	dst = f + IP6_DST_OFF;
	if (f[IP6_SRC_OFF] == 0xff || addr_loopback(f + IP6_SRC_OFF) || addr_loopback(dst))
		return NULL;
	if (dst[0] == 0xff && (dst[1] & 0x0f) <= 1)
		return NULL;
	if (skb->pkt_type != PACKET_HOST &&
	    !((skb->pkt_type == PACKET_MULTICAST || skb->pkt_type == PACKET_BROADCAST) && dst[0] == 0xff))
		return NULL;
	return f;
}

/* rs_request reads an RS the classifier may answer into rq; it returns 0
 * when it may. */
static __always_inline int rs_request(struct __sk_buff *skb, const __u8 *mac, struct nd_request *rq)
{
	__u8 *f, *src;
	int slla;

	f = nd_frame(skb, RS_LEN, mac, &slla);
	if (!f)
		return -1;
	src = f + IP6_SRC_OFF;
	if (slla && addr_unspecified(src))
		return -1; /* RFC 4861 §6.1.1 */
	__builtin_memcpy(rq->src, src, 16);
	/* Unicast to a link-local solicitor, else to all nodes. */
	rq->to_src = src[0] == 0xfe && (src[1] & 0xc0) == 0x80;
	rq->len = skb->len;
	return 0;
}

/* ns_request reads an NS the classifier may answer into rq; it returns 0
 * when it may. */
static __always_inline int ns_request(struct __sk_buff *skb, const __u8 *mac, struct nd_request *rq)
{
	__u8 *f, *src;
	int slla;

	f = nd_frame(skb, NS_LEN, mac, &slla);
	if (!f)
		return -1;
	src = f + IP6_SRC_OFF;
	if (addr_unspecified(src)) {
		/* Duplicate address detection (RFC 4861 §7.1.1): answered to
		 * all nodes, without S. */
		if (slla || !addr_solicited_node(f + IP6_DST_OFF))
			return -1;
	} else {
		rq->to_src = 1;
		rq->solicited = 1;
	}
	__builtin_memcpy(rq->src, src, 16);
	__builtin_memcpy(rq->target, f + NS_TARGET_OFF, 16);
	rq->len = skb->len;
	return 0;
}

/*
 * take_template copies the reply's template for kind (the RA, or the NA
 * whose target is rq's) from t into out, if t is of generation gen, and
 * returns its length; 0 when there is none. Under t's lock: the loader
 * rewrites entries in place under it.
 */
static __always_inline __u64 take_template(struct iface_answers *t, __u64 gen, __u32 kind,
					   const struct nd_request *rq, __u64 *out)
{
	__u64 n = 0;

	bpf_spin_lock(&t->lock);
	if (t->gen != gen)
		goto out;
	if (kind == NFDHCPD_KIND_RS) {
		const __u64 *ra = (const __u64 *)t->ra;

		__u64 len = t->ra_len;

		if (len > NFDHCPD_RA_MAX)
			goto out;
		for (__u64 i = 0; i < NFDHCPD_RA_MAX / 8; i++) {
			if (i * 8 >= len)
				break;
			out[i] = ra[i];
			/* Keep clang from making it a memcpy call, which BPF
			 * does not have; and (memory) from reusing len below. */
			asm volatile("" ::: "memory");
		}
		/*
		 * Read again, not len: what the verifier learnt of len where
		 * the copy stopped differs at each of the 190 places it may
		 * stop, and it would follow the rest of the program once for
		 * each (57,000 instructions, 43 ms at every start, seconds
		 * under emulation). A fresh read is the same at all of them.
		 */
		n = t->ra_len;
		if (n > NFDHCPD_RA_MAX)
			n = 0;
		goto out;
	}
#pragma unroll
	for (int i = 0; i < NFDHCPD_NA_MAX; i++) {
		const __u64 *target = (const __u64 *)t->na[i].target;
		const __u64 *na = (const __u64 *)t->na[i].frame;

		if (i >= t->na_count)
			break;
		if (target[0] != rq->target[0] || target[1] != rq->target[1])
			continue;
#pragma unroll
		for (int w = 0; w < sizeof(t->na[i].frame) / 8; w++)
			out[w] = na[w];
		n = NFDHCPD_NA_LEN;
		break;
	}
out:
	bpf_spin_unlock(&t->lock);
	return n;
}

static __always_inline __u32 be16_at(const __u8 *p)
{
	return (__u32)p[0] << 8 | p[1];
}

/*
 * patch makes the template in f the reply to rq: to the request's source
 * and the VM's MAC, with S set in an NA, the ICMPv6 checksum updated for
 * the words that changed (RFC 1624, eqn. 3). The result equals a full
 * recomputation's: both are the one representative in [1, 0xffff] of the
 * same sum, complemented.
 */
static __always_inline void patch(__u8 *f, const struct nd_request *rq, const __u8 *mac)
{
	__u32 acc;

	if (!rq->to_src)
		return; /* to all nodes, as the template is */
	acc = ~be16_at(f + ICMP6_CSUM_OFF) & 0xffff;
#pragma unroll
	for (int i = 0; i < 16; i += 2)
		acc += (~be16_at(f + IP6_DST_OFF + i) & 0xffff) + be16_at(rq->src + i);
	if (rq->solicited) {
		acc += ~be16_at(f + NA_FLAGS_OFF) & 0xffff;
		f[NA_FLAGS_OFF] |= NA_FLAG_S;
		acc += be16_at(f + NA_FLAGS_OFF);
	}
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = ~acc & 0xffff;
	f[ICMP6_CSUM_OFF] = acc >> 8;
	f[ICMP6_CSUM_OFF + 1] = acc & 0xff;
	__builtin_memcpy(f + IP6_DST_OFF, rq->src, 16);
	__builtin_memcpy(f, mac, 6);
}

/* No answer: the request goes on to the daemon. */
#define NOT_ANSWERED (-1)

/*
 * answer answers an RS or NS of the TAP key, bound as ifc says, in the
 * kernel when it can: it
 * returns TC_ACT_REDIRECT with the packet turned into the reply and sent
 * back out of the TAP, or NOT_ANSWERED with the packet untouched, or (a
 * helper failed half-way and the request could not be restored)
 * TC_ACT_SHOT. A packet is never passed on half rewritten.
 */
static __always_inline int answer(struct __sk_buff *skb, __u32 kind, struct iface_key *key,
				  const struct iface_value *ifc, struct counters *st)
{
	struct nd_request rq = {};
	__u64 gen = ifc->gen;
	__u8 mac[6];
	struct answer_buf *buf;
	struct iface_answers *t, *again;
	__u32 zero = 0;
	__u64 n; /* not __u32: its bounds must hold in the register passed on */
	int same;

	/* Read once: the entry may be rewritten while this packet runs. */
	__builtin_memcpy(mac, ifc->mac, sizeof(mac));
	if (kind == NFDHCPD_KIND_RS ? rs_request(skb, mac, &rq) : ns_request(skb, mac, &rq))
		return NOT_ANSWERED;
	t = bpf_map_lookup_elem(&answers, key);
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!t || !buf)
		return NOT_ANSWERED;
	n = take_template(t, gen, kind, &rq, buf->w);
	/* Bounds clang knows but would fold into one test the verifier
	 * cannot follow: hidden from it, and tested again, one by one. */
	asm volatile("" : "+r"(n));
	if (n > NFDHCPD_RA_MAX)
		return NOT_ANSWERED;
	asm volatile("" : "+r"(n));
	if (n < ICMP6_OFF)
		return NOT_ANSWERED;
	/*
	 * A deleted entry's memory may be given to another TAP's entry while
	 * it was being copied, and that write takes no lock. Gens are written
	 * once and the ifaces entry's last: the same entry, still of gen gen
	 * after the copy, was this TAP's throughout.
	 */
	again = bpf_map_lookup_elem(&answers, key);
	if (!again || again != t)
		return NOT_ANSWERED;
	bpf_spin_lock(&again->lock);
	same = again->gen == gen;
	bpf_spin_unlock(&again->lock);
	if (!same)
		return NOT_ANSWERED;

	patch((__u8 *)buf->w, &rq, mac);
	if (bpf_skb_change_tail(skb, n, 0)) {
		st->answer_errors++;
		return NOT_ANSWERED; /* refused before anything changed */
	}
	if (bpf_skb_store_bytes(skb, 0, buf->w, n, 0)) {
		st->answer_errors++;
		/* Nothing was written, and the tail only grew by zeros:
		 * trimmed back, the request is as it came. */
		if (bpf_skb_change_tail(skb, rq.len, 0))
			return TC_ACT_SHOT;
		return NOT_ANSWERED;
	}
	/* Out of the device it came in on: from TC ingress to its egress. */
	return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int steer(struct __sk_buff *skb, __u32 kind)
{
	struct iface_key key = { .ifindex = skb->ifindex };
	__u32 zero = 0;
	struct counters *st = bpf_map_lookup_elem(&stats, &zero);
	struct iface_value *ifc;
	struct mark_config *cfg;
	struct kind_counters *ks;
	struct ethhdr *eth;
	int act;

	if (!st)
		return TC_ACT_UNSPEC;
	ifc = bpf_map_lookup_elem(&ifaces, &key);
	if (!ifc) {
		st->unbound++;
		return TC_ACT_UNSPEC;
	}
	ks = kind_stats(st, kind);
	if (!(ifc->kinds & kind)) {
		ks->disabled++;
		return TC_ACT_UNSPEC;
	}

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || cfg->version != NFDHCPD_LAYOUT_VERSION) {
		st->unconfigured++;
		return TC_ACT_UNSPEC;
	}
	eth = header(skb, 0, sizeof(*eth));
	if (!eth)
		return TC_ACT_UNSPEC;
	if (!(ifc->flags & NFDHCPD_FLAG_MACSPOOF) &&
	    !mac_equal(eth->h_source, ifc->mac)) {
		ks->spoofed++;
		return TC_ACT_SHOT;
	}
	if (over_limit(cfg, &key)) {
		ks->limited++;
		return TC_ACT_SHOT;
	}
	if (kind & cfg->answer_kinds & (NFDHCPD_KIND_RS | NFDHCPD_KIND_NS)) {
		act = answer(skb, kind, &key, ifc, st);
		if (act == TC_ACT_REDIRECT) {
			ks->answered++;
			return act;
		}
		if (act != NOT_ANSWERED)
			return act;
	}
	/* Only our bits change: others' marks on the same packet survive. */
	skb->mark = (skb->mark & ~cfg->mask) | kind_mark(cfg, kind);
	ks->marked++;
	/* TC_ACT_UNSPEC == TCX_NEXT: the next program, then the stack. */
	return TC_ACT_UNSPEC;
}

SEC("tc")
int nfdhcpd_classify(struct __sk_buff *skb)
{
	__u32 kind;

	switch (skb->protocol) {
	case bpf_htons(ETH_P_IP):
		kind = classify_ipv4(skb);
		break;
	case bpf_htons(ETH_P_IPV6):
		kind = classify_ipv6(skb);
		break;
	default:
		return TC_ACT_UNSPEC;
	}
	if (!kind)
		return TC_ACT_UNSPEC;
	return steer(skb, kind);
}
