package e2e

import (
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// badInputSeed makes the frames the same on every run; a failure names it.
const badInputSeed = 0x6e66646863706421

// frameTemplate builds a valid frame of one kind around payload, with
// lengths and checksums fixed, so that the kernel and the steering rules
// pass it on and the daemon has to read payload.
type frameTemplate struct {
	kind  string
	valid []byte // a well-formed request's payload
	build func(t *testing.T, mac net.HardwareAddr, payload []byte) []byte
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func linkLocal(mac net.HardwareAddr) net.IP {
	return net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
}

func udp4Frame(t *testing.T, mac net.HardwareAddr, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, udp, gopacket.Payload(payload))
}

func udp6Frame(t *testing.T, mac net.HardwareAddr, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 1, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: linkLocal(mac), DstIP: net.ParseIP("ff02::1:2")}
	udp := &layers.UDP{SrcPort: 546, DstPort: 547}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, udp, gopacket.Payload(payload))
}

func icmp6Frame(typ uint8, dst net.IP) func(t *testing.T, mac net.HardwareAddr, payload []byte) []byte {
	return func(t *testing.T, mac net.HardwareAddr, payload []byte) []byte {
		eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: linkLocal(mac), DstIP: dst}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
		icmp.SetNetworkLayerForChecksum(ip)
		return serialize(t, eth, ip, icmp, gopacket.Payload(payload))
	}
}

func badInputTemplates(t *testing.T, mac net.HardwareAddr) []frameTemplate {
	dhcp := discover(t, mac, 0xbad)[14+20+8:]
	dhcp6 := serialize(t, &layers.DHCPv6{MsgType: layers.DHCPv6MsgTypeSolicit, TransactionID: []byte{1, 2, 3},
		Options: layers.DHCPv6Options{
			layers.NewDHCPv6Option(layers.DHCPv6OptClientID, []byte{0, 3, 0, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]}),
			layers.NewDHCPv6Option(layers.DHCPv6OptOro, []byte{0, 23, 0, 24}),
			layers.NewDHCPv6Option(layers.DHCPv6OptIANA, make([]byte, 12)),
		}})
	rs := routerSolicit(t, mac)[14+40+4:]
	gw6 := net.ParseIP("2001:db8:aaaa:bbbb::1")
	ns := append(append([]byte{0, 0, 0, 0}, gw6...), 1, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	return []frameTemplate{
		{"dhcpv4", dhcp, udp4Frame},
		{"dhcpv6", dhcp6, udp6Frame},
		{"rs", rs, icmp6Frame(layers.ICMPv6TypeRouterSolicitation, net.ParseIP("ff02::2"))},
		{"ns", ns, icmp6Frame(layers.ICMPv6TypeNeighborSolicitation, net.ParseIP("ff02::1:ff00:1"))},
	}
}

// mutate returns one bad payload derived from valid: cut short, bytes
// flipped, bytes overwritten with extremes (lengths, option codes), random
// bytes appended, or all random.
func mutate(r *rand.Rand, valid []byte) []byte {
	p := append([]byte(nil), valid...)
	switch r.IntN(6) {
	case 0: // truncated anywhere, including to nothing
		return p[:r.IntN(len(p)+1)]
	case 1: // a few random bytes changed
		for range 1 + r.IntN(8) {
			p[r.IntN(len(p))] = byte(r.Uint32())
		}
	case 2: // extremes, where lengths and codes live
		for range 1 + r.IntN(4) {
			p[r.IntN(len(p))] = []byte{0, 1, 0x7f, 0x80, 0xfe, 0xff}[r.IntN(6)]
		}
	case 3: // truncated and mutated
		p = p[:r.IntN(len(p)+1)]
		if len(p) > 0 {
			p[r.IntN(len(p))] ^= 0xff
		}
	case 4: // trailing garbage
		extra := make([]byte, r.IntN(600))
		for i := range extra {
			extra[i] = byte(r.Uint32())
		}
		p = append(p, extra...)
	case 5: // random
		p = make([]byte, r.IntN(1200))
		for i := range p {
			p[i] = byte(r.Uint32())
		}
	}
	return p
}

// queuedPackets sums the packet counters of every NFQUEUE rule in the lab's
// mangle tables (the seed's rules, or the daemon's own chain in tc mode).
func queuedPackets(t *testing.T, l *lab.Lab) int {
	t.Helper()
	n := 0
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, line := range strings.Split(l.Host(cmd, "-w", "-t", "mangle", "-nvxL"), "\n") {
			f := strings.Fields(line)
			if len(f) > 2 && f[2] == "NFQUEUE" {
				c, err := strconv.Atoi(f[0])
				if err != nil {
					t.Fatalf("%s counters: %q", cmd, line)
				}
				n += c
			}
		}
	}
	return n
}

// Tens of thousands of truncated, mutated and random DHCPv4, DHCPv6, RS
// and NS frames from a VM's TAP, then valid requests: the daemon is still
// running and answers them correctly.
func TestBadInput(t *testing.T) {
	forEachMode(t, func(t *testing.T, m steering) {
		l := lab.New(t)
		tap := l.OpenTAP("tap40")
		// No rate limit: every bad frame must reach the daemon, not the
		// classifier's bucket.
		conf, datapath := l.SeedConfig(append(m.setup(l), "rate_limit", "0")...)
		mac, _ := net.ParseMAC(lab.SeedMAC)
		lab.WriteBinding(datapath, "tap40", strings.Replace(lab.SeedBinding, "INDEV=tap10", "INDEV=tap40", 1))
		d := l.StartDaemon(conf)
		if !waitOffer(t, tap, mac, 0x100, 5) {
			t.Fatal("not served before the bad input")
		}

		r := rand.New(rand.NewPCG(badInputSeed, 0))
		const perKind = 10000
		sent := map[string]int{}
		start := time.Now()
		for _, tpl := range badInputTemplates(t, mac) {
			for i := range perKind {
				frame := tpl.build(t, mac, mutate(r, tpl.valid))
				if i%10 == 9 { // now and then, break the headers too
					frame = mutate(r, frame)
				}
				for {
					_, err := tap.Write(frame)
					if err == nil || !strings.Contains(err.Error(), "resource temporarily unavailable") {
						break
					}
					time.Sleep(time.Millisecond)
				}
				sent[tpl.kind]++
			}
		}
		t.Logf("sent %v bad frames in %v (seed %#x)", sent, time.Since(start).Round(time.Millisecond), badInputSeed)
		// Nine in ten kept valid headers: those must all have been queued
		// to the daemon, or the test proves nothing about its parsers.
		if q := queuedPackets(t, l); q < 9*4*perKind/10 {
			t.Errorf("only %d packets were queued to the daemon", q)
		} else {
			t.Logf("%d packets queued to the daemon", q)
		}

		// Let the queues drain: answers to whatever was half-valid are
		// read and discarded by waitOffer below.
		time.Sleep(500 * time.Millisecond)
		if !running(d.Pid()) {
			t.Fatalf("the daemon died:\n%s", d.Log())
		}
		var offer *layers.DHCPv4
		for i := range 10 {
			xid := uint32(0x900 + i)
			tap.Write(discover(t, mac, xid))
			if offer = readDHCP(t, tap, xid, time.Second); offer != nil {
				break
			}
		}
		if offer == nil {
			t.Fatal("no OFFER after the bad input")
		}
		if !offer.YourClientIP.Equal(net.ParseIP("192.0.2.100")) {
			t.Errorf("OFFER yiaddr %v, want 192.0.2.100", offer.YourClientIP)
		}
		gotRA := false
		for range 5 {
			tap.Write(routerSolicit(t, mac))
			if gotRA = readRA(t, tap, time.Second); gotRA {
				break
			}
		}
		if !gotRA {
			t.Error("no RA after the bad input")
		}
		if log := d.Log(); strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
			t.Errorf("the daemon's log shows a panic")
		}
	})
}
