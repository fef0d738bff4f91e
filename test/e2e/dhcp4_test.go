package e2e

import (
	"testing"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
)

// want compares the variables a client handed its script with what the seed
// configuration and binding say, key by key.
func want(t *testing.T, client string, got lab.Vars, exp map[string]string) {
	t.Helper()
	for k, v := range exp {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", client, k, got[k], v)
		}
	}
}

func TestUdhcpc(t *testing.T) {
	lab.RequireTools(t, "udhcpc")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		got, err := vm.Udhcpc()
		if err != nil {
			t.Fatal(err)
		}
		want(t, "udhcpc", got, map[string]string{
			"ip":        "192.0.2.100",
			"subnet":    "255.255.255.0",
			"mask":      "24",
			"broadcast": "192.0.2.255",
			"router":    "192.0.2.1",
			"dns":       "192.0.2.2 192.0.2.3",
			"domain":    "example.com",
			"hostname":  "testing-vm",
			"lease":     "604800",
			"serverid":  "192.0.2.1",
			"mtu":       "1450",
			"search":    "example.com",
			"opt58":     "00000e10", // renewal: 3600
			"opt59":     "00081330", // rebinding: 7/8 of 604800
			// RFC 3442: the default route travels in option 121 too.
			"staticroutes": "0.0.0.0/0 192.0.2.1",
		})
	})
}

// iscVars is what the seed configuration and binding give, in the variable
// names dhclient and dhcpcd both hand their scripts.
var iscVars = map[string]string{
	"new_ip_address":             "192.0.2.100",
	"new_subnet_mask":            "255.255.255.0",
	"new_broadcast_address":      "192.0.2.255",
	"new_routers":                "192.0.2.1",
	"new_domain_name_servers":    "192.0.2.2 192.0.2.3",
	"new_domain_name":            "example.com",
	"new_host_name":              "testing-vm",
	"new_dhcp_lease_time":        "604800",
	"new_dhcp_renewal_time":      "3600",
	"new_dhcp_rebinding_time":    "529200",
	"new_dhcp_server_identifier": "192.0.2.1",
	"new_interface_mtu":          "1450",
}

func TestDhclient4(t *testing.T) {
	lab.RequireTools(t, "dhclient")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		got, err := vm.Dhclient4()
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhclient", got, iscVars)
	})
}

func TestDhcpcd(t *testing.T) {
	lab.RequireTools(t, "dhcpcd")
	forEachMode(t, func(t *testing.T, m steering) {
		_, vm, _, _ := seedLab(t, m)
		got, err := vm.Dhcpcd()
		if err != nil {
			t.Fatal(err)
		}
		want(t, "dhcpcd", got, iscVars)
	})
}
