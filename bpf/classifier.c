// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * nfdhcpd TC classifier: attached to the ingress of each bound TAP (TCX, or
 * cls_bpf in direct-action mode). It marks the packets the daemon answers
 * (DHCPv4, Router and Neighbor Solicitations, DHCPv6) so that the daemon's
 * own `-m mark ... -j NFQUEUE` rules steer them to userspace, and drops those
 * sent with a source MAC other than the binding's or beyond the TAP's rate
 * limit, so that they are never queued. Everything else leaves
 * untouched as early as possible; no packet is ever redirected from here, and
 * every verdict except those two drops lets other programs and the stack run.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
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

static __always_inline int steer(struct __sk_buff *skb, __u32 kind)
{
	struct iface_key key = { .ifindex = skb->ifindex };
	__u32 zero = 0;
	struct counters *st = bpf_map_lookup_elem(&stats, &zero);
	struct iface_value *ifc;
	struct mark_config *cfg;
	struct kind_counters *ks;
	struct ethhdr *eth;

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
