package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nfdhcpd/nfdhcpd/internal/manpage"
)

// Every key the parser knows has an entry in nfdhcpd.conf(5), in its
// section, that states its default; the defaults stated are the parser's.
func TestManConfKeys(t *testing.T) {
	entries, err := manpage.Entries("../man/nfdhcpd.conf.5.scd")
	if err != nil {
		t.Fatal(err)
	}
	for section, keys := range Keys() {
		for _, key := range keys {
			e := manpage.Find(entries, "["+section+"]", key)
			if e == "" {
				t.Errorf("nfdhcpd.conf(5): [%s] %s is not documented", section, key)
				continue
			}
			if !strings.Contains(e, "Default") {
				t.Errorf("nfdhcpd.conf(5): [%s] %s states no default:\n%s", section, key, e)
			}
		}
	}
	d := defaults()
	for _, tt := range []struct{ section, key, want string }{
		{"general", "pidfile", d.General.PIDFile},
		{"general", "datapath", d.General.DataPath},
		{"general", "logdir", d.General.LogDir},
		{"general", "user", d.General.User},
		{"general", "steering", string(d.General.Steering)},
		{"general", "bpf_pin_path", d.General.BPFPinPath},
		{"general", "attach", d.General.Attach.String()},
		{"general", "mark_mask", fmt.Sprintf("%#08x", d.General.MarkMask)},
		{"general", "queue_balance", fmt.Sprint(d.Queues.Balance)},
		{"general", "rate_limit", d.General.RateLimit.String()},
		{"dhcp", "enable_dhcp", "yes"},
		{"dhcp", "lease_lifetime", fmt.Sprint(int(d.DHCP.LeaseLifetime / time.Second))},
		{"dhcp", "lease_renewal", fmt.Sprint(int(d.DHCP.LeaseRenewal / time.Second))},
		{"ipv6", "enable_ipv6", "yes"},
		{"ipv6", "mode", "auto"},
		{"ipv6", "ra_period", fmt.Sprint(int(d.IPv6.RAPeriod / time.Second))},
		{"ipv6", "pd_lifetime", fmt.Sprint(int(d.IPv6.PDLifetime / time.Second))},
		{"ipv6", "pd_routes", "yes"},
	} {
		e := manpage.Find(entries, "["+tt.section+"]", tt.key)
		_, def, _ := strings.Cut(e, "Default")
		if !strings.Contains(def, tt.want) {
			t.Errorf("nfdhcpd.conf(5): [%s] %s: default should say %q:\n%s", tt.section, tt.key, tt.want, e)
		}
	}
	if !d.IPv6.ModeAuto {
		t.Error("the default mode is not auto")
	}
}
