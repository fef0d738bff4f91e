// Package metrics serves what the daemon is doing over HTTP: Prometheus
// exposition on /metrics, liveness on /healthz and the binding table as JSON
// on /bindings.
//
// Every value is read at scrape time from the counters the daemon keeps
// anyway (nfq.Stats, the binding store, the classifier's pinned stats map,
// /proc/net/netfilter/nfnetlink_queue), so serving metrics costs the packet
// path nothing.
//
// Metrics:
//
//	nfdhcpd_requests_total{kind,outcome}           requests by kind and outcome; outcome "unbound" (kind "unknown") counts packets of no binding, accepted untouched
//	nfdhcpd_replies_total                          replies sent
//	nfdhcpd_reply_duration_seconds                 histogram: packet read to reply sent
//	nfdhcpd_send_errors_total                      replies (and periodic RAs) the kernel refused
//	nfdhcpd_verdict_errors_total                   verdicts the kernel refused
//	nfdhcpd_panics_total{where}                    panics recovered: where "packet" (one queued packet) or "ra" (one periodic RA)
//	nfdhcpd_left_out_total{what}                   what replies had no room for: "nameservers", "domains", "options"
//	nfdhcpd_nfqueue_dropped_total{queue,kind,reason}  packets the kernel dropped: reason "queue_full" or "socket" (netlink buffer overrun)
//	nfdhcpd_nfqueue_waiting{queue,kind}            packets waiting in the queue
//	nfdhcpd_bindings{state}                        binding files: loaded (a good version in force), active (its TAP exists), waiting, rejected (last read refused)
//	nfdhcpd_classifier_packets_total{kind,result}  tc steering: the classifier's marked, spoofed, limited (over rate_limit) and disabled counts
//	nfdhcpd_classifier_unbound_total               tc steering: matching packets on a TAP with no binding
//	nfdhcpd_attached_taps{method}                  tc steering: active bindings by attach method (tcx, cls_bpf, none)
//	nfdhcpd_delegated_prefixes{state}              DHCPv6 delegated prefixes: delegated (by active bindings), taken (by their VM), routed (a route of ours in the kernel)
//	nfdhcpd_route_errors_total                     route changes and listings for delegated prefixes the kernel refused
//	nfdhcpd_info{version,steering}                 always 1
package metrics
