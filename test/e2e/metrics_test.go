package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nfdhcpd/nfdhcpd/metrics"
	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// routerSolicit builds an RS frame from mac's link-local address.
func routerSolicit(t *testing.T, mac net.HardwareAddr) []byte {
	t.Helper()
	src := net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: src, DstIP: net.ParseIP("ff02::2")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)}
	icmp.SetNetworkLayerForChecksum(ip)
	rs := &layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac}}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, icmp, rs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readRA reads frames from the TAP until a Router Advertisement arrives.
func readRA(t *testing.T, f *os.File, timeout time.Duration) bool {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return false
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
		if p.Layer(layers.LayerTypeICMPv6RouterAdvertisement) != nil {
			return true
		}
	}
}

// notifySocket listens where the daemon's $NOTIFY_SOCKET points, as systemd
// does for a Type=notify service; like systemd's, anyone may write to it,
// since the daemon notifies after dropping root.
func notifySocket(t *testing.T) *net.UnixConn {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o777)
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func readNotify(c *net.UnixConn, timeout time.Duration) string {
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(buf[:n])
}

// TestMetrics scrapes the metrics endpoint around requests a test-played VM
// writes into a real TAP, and checks that the counters moved by exactly
// those requests, and nothing else did. It also checks that the daemon
// tells systemd READY=1 and STOPPING=1.
func TestMetrics(t *testing.T) {
	forEachMode(t, func(t *testing.T, m steering) {
		notify := notifySocket(t)
		l := lab.New(t)
		tap := l.OpenTAP("tap20")
		other := l.OpenTAP("tap21") // no binding: its requests are not ours
		const listen = "127.0.0.1:9367"
		conf, datapath := l.SeedConfig(append(m.setup(l), "metrics_listen", listen)...)
		lab.WriteBinding(datapath, "tap20", strings.Replace(lab.SeedBinding, "INDEV=tap10", "INDEV=tap20", 1))
		d := l.StartDaemon(conf)
		if got := readNotify(notify, 2*time.Second); got != "READY=1" {
			t.Errorf("notify socket: %q, want READY=1", got)
		}

		get := func(path string) string {
			t.Helper()
			code, body, err := l.HTTPGet("http://" + listen + path)
			if err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v\n%s", path, code, err, body)
			}
			return body
		}
		scrape := func() map[string]float64 {
			t.Helper()
			s, err := metrics.ParseExposition(strings.NewReader(get("/metrics")))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if body := get("/healthz"); body != "ok\n" {
			t.Errorf("/healthz: %q", body)
		}

		// Until the first answer, so that what follows is measured on a
		// served TAP.
		mac, _ := net.ParseMAC(lab.SeedMAC)
		served := false
		for i := 0; i < 5 && !served; i++ {
			tap.Write(discover(t, mac, 0x100+uint32(i)))
			served = readDHCP(t, tap, 0x100+uint32(i), time.Second) != nil
		}
		if !served {
			t.Fatal("tap20 is not served")
		}

		// A warm-up request still queued would be answered inside the
		// measured window: start once nothing waits and the counters rest.
		before := scrape()
		for settle := time.Now(); ; {
			waiting := 0.0
			for k, v := range before {
				if strings.HasPrefix(k, "nfdhcpd_nfqueue_waiting") {
					waiting += v
				}
			}
			time.Sleep(50 * time.Millisecond)
			again := scrape()
			if waiting == 0 && again["nfdhcpd_replies_total"] == before["nfdhcpd_replies_total"] {
				break
			}
			if time.Since(settle) > 3*time.Second {
				t.Fatalf("the daemon did not settle before the measured requests")
			}
			before = again
		}
		for i := range uint32(3) {
			tap.Write(discover(t, mac, 0x200+i))
			if readDHCP(t, tap, 0x200+i, 2*time.Second) == nil {
				t.Fatalf("no OFFER for xid %#x", 0x200+i)
			}
		}
		tap.Write(routerSolicit(t, mac))
		if !readRA(t, tap, 2*time.Second) {
			t.Fatal("no RA for the RS")
		}
		spoofed, _ := net.ParseMAC("aa:6b:39:22:33:99")
		tap.Write(discover(t, spoofed, 0x300))
		tap.Write(discover(t, spoofed, 0x301))
		other.Write(discover(t, mac, 0x400))
		if d := readDHCP(t, tap, 0x300, 500*time.Millisecond); d != nil {
			t.Errorf("a spoofed request was answered")
		}
		after := scrape()

		want := map[string]float64{
			`nfdhcpd_requests_total{kind="dhcp-discover",outcome="answered"}`: 3,
		}
		tc := strings.HasPrefix(m.name, "tc")
		switch {
		case !tc:
			// The daemon answers the RS, and sees the spoofed requests
			// and the unbound TAP's.
			want[`nfdhcpd_requests_total{kind="rs",outcome="answered"}`] = 1
			want[`nfdhcpd_replies_total`] = 4
			want[`nfdhcpd_reply_duration_seconds_count`] = 4
			want[`nfdhcpd_requests_total{kind="dhcp-discover",outcome="spoofed"}`] = 2
			want[`nfdhcpd_requests_total{kind="unknown",outcome="unbound"}`] = 1
		default:
			// The classifier marks the bound TAP's DHCP requests, answers
			// the RS itself (kernel_answers) and drops the spoofed ones in
			// the kernel; the unbound TAP has no classifier.
			want[`nfdhcpd_replies_total`] = 3
			want[`nfdhcpd_reply_duration_seconds_count`] = 3
			want[`nfdhcpd_classifier_packets_total{kind="dhcp",result="marked"}`] = 3
			want[`nfdhcpd_classifier_packets_total{kind="dhcp",result="spoofed"}`] = 2
			want[`nfdhcpd_classifier_packets_total{kind="rs",result="answered"}`] = 1
		}
		for s, v := range after {
			if !strings.HasPrefix(s, "nfdhcpd_") || strings.HasPrefix(s, "nfdhcpd_reply_duration_seconds_sum") {
				continue
			}
			if got := v - before[s]; got != want[s] {
				t.Errorf("%s moved by %v, want %v", s, got, want[s])
			}
		}
		for s := range want {
			if _, ok := after[s]; !ok {
				t.Errorf("%s is missing", s)
			}
		}
		for s, v := range map[string]float64{
			`nfdhcpd_bindings{state="loaded"}`:                                          1,
			`nfdhcpd_bindings{state="active"}`:                                          1,
			`nfdhcpd_bindings{state="rejected"}`:                                        0,
			`nfdhcpd_nfqueue_dropped_total{kind="dhcp",queue="42",reason="queue_full"}`: 0,
			`nfdhcpd_nfqueue_dropped_total{kind="rs",queue="43",reason="socket"}`:       0,
			`nfdhcpd_nfqueue_waiting{kind="dhcpv6",queue="45"}`:                         0,
		} {
			if got, ok := after[s]; !ok || got != v {
				t.Errorf("%s = %v (present: %v), want %v", s, got, ok, v)
			}
		}
		mode := "iptables"
		if tc {
			mode = "tc"
		}
		info := 0
		for s, v := range after {
			if strings.HasPrefix(s, `nfdhcpd_info{steering="`+mode+`",version=`) && v == 1 {
				info++
			}
		}
		if info != 1 {
			t.Errorf("no nfdhcpd_info{steering=%q} 1", mode)
		}
		if tc && after[`nfdhcpd_attached_taps{method="tcx"}`]+after[`nfdhcpd_attached_taps{method="cls_bpf"}`] != 1 {
			t.Errorf("attached_taps: tcx %v, cls_bpf %v, want one TAP attached",
				after[`nfdhcpd_attached_taps{method="tcx"}`], after[`nfdhcpd_attached_taps{method="cls_bpf"}`])
		}

		var rows []metrics.BindingRow
		if err := json.Unmarshal([]byte(get("/bindings")), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].TAP != "tap20" || !rows[0].Active || rows[0].IP != "192.0.2.100" ||
			rows[0].Ifindex != l.Ifindex("tap20") || tc != (rows[0].Attach != "") {
			t.Errorf("/bindings: %+v", rows)
		}

		if _, err := d.Stop(); err != nil {
			t.Error(err)
		}
		if got := readNotify(notify, time.Second); got != "STOPPING=1" {
			t.Errorf("notify socket at exit: %q, want STOPPING=1", got)
		}
	})
}
