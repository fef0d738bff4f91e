package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestSeedSampleConfig loads the seed README's sample configuration unchanged.
func TestSeedSampleConfig(t *testing.T) {
	cfg, err := Load("testdata/nfdhcpd.conf")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Path: "testdata/nfdhcpd.conf",
		General: General{
			PIDFile: "/var/run/nfdhcpd/nfdhcpd.pid", DataPath: "/var/lib/nfdhcpd", LogDir: "/var/log/nfdhcpd",
			User: "nobody", Steering: SteeringAuto, BPFPinPath: "/sys/fs/bpf/nfdhcpd",
			Mark: 0, MarkMask: 0x0e000000, Attach: loader.AttachAuto,
			RateLimit: loader.RateLimit{PerSecond: 200, Burst: 50}, KernelAnswers: true,
		},
		DHCP: DHCP{
			Enable: true, LeaseLifetime: 604800 * time.Second, LeaseRenewal: 3600 * time.Second,
			ServerIP: netip.MustParseAddr("192.0.2.1"), ServerOnLink: false,
			Nameservers: []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
			Domain:      "example.com",
		},
		IPv6: IPv6{
			Enable: true, Mode: responder.ModeSLAACDHCPv6, ModeAuto: true, RAPeriod: 300 * time.Second,
			PDLifetime: 86400 * time.Second, PDRoutes: true,
			Nameservers: []netip.Addr{netip.MustParseAddr("2001:db8:100::1"), netip.MustParseAddr("2001:db8:200::2")},
			Domains:     []string{"example.com"},
		},
		Queues: loader.Queues{Num: [4]int{42, 43, 44, 45}, Balance: 1},
	}
	if diff := cmp.Diff(want, cfg, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
	if got := cfg.Loader().Answer; got != loader.Answerable {
		t.Errorf("Loader().Answer = %v, want the classifier to answer %v (kernel_answers defaults to yes)", got, loader.Answerable)
	}
}

const base = `[general]
datapath = /var/lib/nfdhcpd
[dhcp]
server_ip = 192.0.2.1
dhcp_queue = 42
[ipv6]
rs_queue = 43
ns_queue = 44
`

func TestConfigValues(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(*Config) string
	}{
		{"defaults and auto -> slaac", base, func(c *Config) string {
			if c.IPv6.Mode != responder.ModeSLAAC || c.Queues.Of(loader.KindDHCPv6) != loader.NoQueue || c.DHCP.LeaseLifetime != 604800*time.Second || c.General.User != "nobody" {
				return "defaults"
			}
			return ""
		}},
		{"auto -> dhcpv6", "[dhcp]\nenable_dhcp = no\n[ipv6]\ndhcpv6_queue = 45\n", func(c *Config) string {
			if c.IPv6.Mode != responder.ModeDHCPv6 || c.DHCP.Enable {
				return "mode"
			}
			return ""
		}},
		{"new general keys, quotes, booleans", "[general]\nsteering = tc\nbpf_pin_path = /sys/fs/bpf/x/\nmark = 0x80000000\nmark_mask = 0xf0000000\nattach = tcx\nmetrics_listen = 127.0.0.1:9100\nrate_limit = 20\nkernel_answers = off\nuser = \"daemon\"\n[dhcp]\nenable_dhcp = FALSE\n[ipv6]\nenable_ipv6 = 0\n",
			func(c *Config) string {
				g := c.General
				if g.Steering != SteeringTC || g.BPFPinPath != "/sys/fs/bpf/x" || g.Mark != 0x80000000 || g.MarkMask != 0xf0000000 ||
					g.Attach != loader.AttachTCX || g.MetricsListen != "127.0.0.1:9100" || g.RateLimit != (loader.RateLimit{PerSecond: 20, Burst: 5}) || g.KernelAnswers || c.Loader().Answer != 0 || g.User != "daemon" || c.DHCP.Enable || c.IPv6.Enable {
					return "general"
				}
				return ""
			}},
		{"server_on_link without server_ip, options", "[dhcp]\nserver_on_link = true\ndhcp_queue = 1\noptions = 42=192.0.2.5; 66=tftp.example\n[ipv6]\nenable_ipv6 = no\n",
			func(c *Config) string {
				if !c.DHCP.ServerOnLink || c.DHCP.ServerIP.IsValid() ||
					!cmp.Equal(c.DHCP.Options, []binding.DHCPOption{{Code: 42, Data: []byte{192, 0, 2, 5}}, {Code: 66, Data: []byte("tftp.example")}}) {
					return "dhcp"
				}
				return ""
			}},
		{"PXE", strings.Replace(base, "dhcp_queue = 42\n", "dhcp_queue = 42\nnext_server = 192.0.2.69\nboot_file = \"http://boot.example.com/menu.ipxe?mac=${net0/mac}\"\n", 1), func(c *Config) string {
			s := c.Responder()
			if c.DHCP.NextServer != netip.MustParseAddr("192.0.2.69") || c.DHCP.BootFile != "http://boot.example.com/menu.ipxe?mac=${net0/mac}" ||
				s.NextServer != c.DHCP.NextServer || s.BootFile != c.DHCP.BootFile {
				return "next_server, boot_file"
			}
			return ""
		}},
		{"prefix delegation", base + "pd_lifetime = 4294967295\npd_routes = off\n", func(c *Config) string {
			if c.IPv6.PDLifetime != 0xffffffff*time.Second || c.IPv6.PDRoutes || c.Responder().PDLifetime != 0xffffffff {
				return "pd_lifetime, pd_routes"
			}
			return ""
		}},
		{"empty value keeps default", base + "ra_period =\n", func(c *Config) string {
			if c.IPv6.RAPeriod != 300*time.Second {
				return "ra_period"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("nfdhcpd.conf", strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if what := tt.check(c); what != "" {
				t.Errorf("%s wrong: %+v", what, c)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"the issue's example", base + "[dhcp]\n",
			"nfdhcpd.conf:9: [dhcp]: section given twice (first on line 3)"},
		{"v6 nameserver in dhcp", strings.Replace(base, "dhcp_queue = 42\n", "dhcp_queue = 42\nnameservers = 192.0.2.2, 2001:db8::1\n", 1),
			`nfdhcpd.conf:6: [dhcp] nameservers: "2001:db8::1" is not IPv4`},
		{"v4 nameserver in ipv6", base + "nameservers = 192.0.2.2\n",
			`nfdhcpd.conf:9: [ipv6] nameservers: "192.0.2.2" is not IPv6`},
		{"server_ip v6", strings.Replace(base, "192.0.2.1", "2001:db8::1", 1),
			`nfdhcpd.conf:4: [dhcp] server_ip: "2001:db8::1" is not IPv4`},
		{"unknown key", base + "ra_perid = 5\n",
			"nfdhcpd.conf:9: [ipv6] ra_perid: unknown key (did you mean ra_period?)"},
		{"key in the wrong section", base + "domain = example.com\n",
			"nfdhcpd.conf:9: [ipv6] domain: unknown key (did you mean domain in [dhcp]?)"},
		{"unknown section", base + "[dchp]\nfoo = 1\n",
			"nfdhcpd.conf:9: [dchp]: unknown section (did you mean [dhcp]?)"},
		{"key outside section", "datapath = /x\n" + base,
			"nfdhcpd.conf:1: datapath: key outside any section"},
		{"not key = value", base + "mode\n", `nfdhcpd.conf:9: [ipv6]: "mode" is not key = value`},
		{"bad header", "[general\n", `nfdhcpd.conf:1: "[general" is not a [section] header` + "\n" +
			"nfdhcpd.conf: [dhcp] dhcp_queue: required when enable_dhcp = yes\n" +
			"nfdhcpd.conf: [dhcp] server_ip: required unless server_on_link = yes\n" +
			"nfdhcpd.conf: [ipv6] mode: auto (no rs_queue and ns_queue, so dhcpv6) needs dhcpv6_queue"},
		{"duplicate key", base + "rs_queue = 50\n", "nfdhcpd.conf:9: [ipv6] rs_queue: given twice (first on line 7)"},
		{"queue range", base + "dhcpv6_queue = 65536\n", `nfdhcpd.conf:9: [ipv6] dhcpv6_queue: "65536" is not a queue number 0-65535`},
		{"queues distinct", base + "dhcpv6_queue = 42\n", "nfdhcpd.conf:9: [ipv6] dhcpv6_queue: queue 42 is also [dhcp] dhcp_queue"},
		{"queue_balance ranges overlap", "[general]\nqueue_balance = 2\n" + base[len("[general]\n"):],
			"nfdhcpd.conf:8: [ipv6] rs_queue: queues 43-44 (queue_balance 2) overlap [dhcp] dhcp_queue's at 43"},
		{"queue_balance past the last queue", "[general]\nqueue_balance = 4\n" + strings.Replace(base[len("[general]\n"):], "dhcp_queue = 42", "dhcp_queue = 65533", 1),
			"nfdhcpd.conf:6: [dhcp] dhcp_queue: queue 65533 with queue_balance 4 runs past queue 65535\n" +
				"nfdhcpd.conf:9: [ipv6] ns_queue: queues 44-47 (queue_balance 4) overlap [ipv6] rs_queue's at 44"},
		{"queue_balance zero", "[general]\nqueue_balance = 0\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] queue_balance: "0" is not a number of queues 1-1024`},
		{"renewal < lifetime", strings.Replace(base, "[dhcp]\n", "[dhcp]\nlease_lifetime = 60\nlease_renewal = 60\n", 1),
			"nfdhcpd.conf:5: [dhcp] lease_renewal: 60 must be less than lease_lifetime 60"},
		{"ra_period zero", base + "ra_period = 0\n", `nfdhcpd.conf:9: [ipv6] ra_period: "0" is not a number of seconds 1-14400`},
		{"mode unknown", base + "mode = stateful\n", `nfdhcpd.conf:9: [ipv6] mode: "stateful" is not one of auto, slaac, slaac+dhcpv6, dhcpv6`},
		{"mode needs queues", base + "mode = slaac+dhcpv6\n", "nfdhcpd.conf:9: [ipv6] mode: slaac+dhcpv6 needs dhcpv6_queue"},
		{"boolean", base + "enable_ipv6 = maybe\n", `nfdhcpd.conf:9: [ipv6] enable_ipv6: "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)`},
		{"steering", "[general]\nsteering = ebpf\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] steering: "ebpf" is not one of auto, tc, iptables`},
		{"attach", "[general]\nattach = xdp\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] attach: "xdp" is not one of auto, tcx, tc`},
		{"relative path", "[general]\nbpf_pin_path = bpf\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] bpf_pin_path: "bpf" is not an absolute path`},
		{"mark outside mask", "[general]\nmark = 0x1\n" + base[len("[general]\n"):],
			"nfdhcpd.conf:2: [general] mark: 0x1 has bits outside mark_mask 0xe000000"},
		{"mark on kind bits", "[general]\nmark = 0x2000000\nmark_mask = 0xf000000\n" + base[len("[general]\n"):],
			"nfdhcpd.conf:2: [general] mark: 0x2000000 overlaps the kind bits 0x7000000 of mark_mask 0xf000000"},
		{"mask too narrow", "[general]\nmark_mask = 0x5\n" + base[len("[general]\n"):],
			"nfdhcpd.conf:2: [general] mark_mask: 0x5: its lowest three bits must be contiguous (they hold the packet kind)"},
		{"metrics", "[general]\nmetrics_listen = :http\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] metrics_listen: ":http": port "http" is not a number 0-65535`},
		{"rate_limit", "[general]\nrate_limit = -1\n" + base[len("[general]\n"):],
			`nfdhcpd.conf:2: [general] rate_limit: "-1": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{"dhcp options", base + "[dhcp]\n", "nfdhcpd.conf:9: [dhcp]: section given twice (first on line 3)"},
		{"dhcp option refused", strings.Replace(base, "dhcp_queue = 42\n", "dhcp_queue = 42\noptions = 51=0x00000001\n", 1),
			"nfdhcpd.conf:6: [dhcp] options: option 51: set by the daemon itself (the lease time comes from lease_lifetime)"},
		{"domain", strings.Replace(base, "dhcp_queue = 42\n", "dhcp_queue = 42\ndomain = exa mple\n", 1),
			`nfdhcpd.conf:6: [dhcp] domain: "exa mple" is not a valid domain name`},
		{"every error at once", "[general]\nuser\n[dhcp]\nlease_lifetime = x\ndhcp_queue = -1\n[ipv6]\nmode = slaac\n",
			"nfdhcpd.conf:2: [general]: \"user\" is not key = value\n" +
				"nfdhcpd.conf:4: [dhcp] lease_lifetime: \"x\" is not a number of seconds 1-4294967295\n" +
				"nfdhcpd.conf:5: [dhcp] dhcp_queue: \"-1\" is not a queue number 0-65535\n" +
				"nfdhcpd.conf: [dhcp] server_ip: required unless server_on_link = yes\n" +
				"nfdhcpd.conf:7: [ipv6] mode: slaac needs rs_queue and ns_queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("nfdhcpd.conf", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load("testdata/nope.conf")
	if !os.IsNotExist(err) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"rs_queue", "ns_queue", "dhcpv6_queue", "ra_period", "mode"}
	for in, want := range map[string]string{"rs_que": "rs_queue", "dhcp6_queue": "dhcpv6_queue", "mod": "mode", "ns_queues": "ns_queue"} {
		if got := closest(in, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d", d)
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/nfdhcpd.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add(base + "[dhcp]\noptions = 121=0.0.0.0/0 192.0.2.1\n")
	f.Add("[general]\nmark = 0x10000000\nmark_mask=0x70000000 # x\n[x]\n=\n")
	f.Add(base + "router_address = fe80::1\nserver_duid = 00:03:00:01:ee:ee:ee:ee:ee:ee\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("f.conf", strings.NewReader(s))
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned %v and %v", c, err)
		}
		if c == nil {
			return
		}
		if c.DHCP.LeaseRenewal >= c.DHCP.LeaseLifetime || loader.ValidateMark(c.General.Mark, c.General.MarkMask) != nil {
			t.Fatalf("accepted config breaks invariants: %+v", c)
		}
		if c.DHCP.Enable && c.Queues.Of(loader.KindDHCP) == loader.NoQueue {
			t.Fatalf("DHCP enabled without a queue")
		}
		if r := c.IPv6.RouterAddress; r.IsValid() && (!r.Is6() || !r.IsLinkLocalUnicast() || r.Zone() != "") {
			t.Fatalf("router_address %v accepted", r)
		}
		if n := len(c.IPv6.ServerDUID); n != 0 && (n < 3 || n > maxDUID) {
			t.Fatalf("server_duid of %d bytes accepted", n)
		}
		if c.IPv6.Enable && needs(c.IPv6.Mode)&^c.Steered().Kinds() != 0 {
			t.Fatalf("IPv6 mode %v without its queues: %v", c.IPv6.Mode, c.Steered())
		}
	})
}
