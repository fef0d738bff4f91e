package loader

import (
	"testing"
	"time"
)

// BenchmarkClassifier measures the classifier's cost per packet inside the
// kernel (BPF_PROG_TEST_RUN with repeat), reported as kernel-ns/op; the
// goal for traffic that is not ours is under 50 ns.
func BenchmarkClassifier(b *testing.B) {
	objs := loadUnpinned(b, Config{})
	putIface(b, objs.Ifaces, loIfindex, vmMAC, AllKinds, 0)
	tcp := ether(vmMAC, etherIPv4, ipv4(protoTCP, nil, 0, make([]byte, 1400)))
	tcp[14+20+2], tcp[14+20+3] = 0x01, 0xbb
	cases := []struct {
		name    string
		frame   []byte
		verdict uint32
	}{
		{"ipv4-tcp-not-ours", tcp, tcActUnspec},
		{"ipv6-udp-not-ours", ether(vmMAC, etherIPv6, ipv6(protoUDP, udp(5353, 53, make([]byte, 100)))), tcActUnspec},
		{"arp-not-ours", ether(vmMAC, etherARP, make([]byte, 28)), tcActUnspec},
		{"dhcp-marked", dhcpDiscover(vmMAC), tcActUnspec},
		{"ns-marked", ether(vmMAC, etherIPv6, ipv6(protoICMPv6, icmpv6(135))), tcActUnspec},
		{"dhcp-spoofed", dhcpDiscover(otherMAC), tcActShot},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ret, perRun, err := objs.NfdhcpdClassify.Benchmark(c.frame, b.N, b.ResetTimer)
			if err != nil {
				b.Fatal(err)
			}
			if ret != c.verdict {
				b.Fatalf("verdict = %#x, want %#x", ret, c.verdict)
			}
			b.ReportMetric(float64(perRun.Nanoseconds()), "kernel-ns/op")
		})
	}
}

// BenchmarkAnswer measures the classifier answering an RS or NS itself:
// checks, the template copied out under its lock, patched, written into
// the packet, and the redirect. The packet becomes the reply, so each run
// gets a fresh copy (repeat 1, the kernel's own time summed), where
// BenchmarkClassifier runs one packet over and over.
func BenchmarkAnswer(b *testing.B) {
	rig := newAnswerRig(b, Config{Answer: KindRS | KindNS})
	rig.bind(b, answerSettings(), answerLease())
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"ns-answered", nsReq(vmLL, gw6, true).frame()},
		{"ns-dad-answered", nsReq(unspec, gw6, false).frame()},
		{"rs-answered", rsReq(vmLL, true).frame()},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				ret, d, err := rig.objs.NfdhcpdClassify.Benchmark(c.frame, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				if ret != tcActRedirect {
					b.Fatalf("verdict = %#x, want %#x", ret, tcActRedirect)
				}
				total += d
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "kernel-ns/op")
		})
	}
}
