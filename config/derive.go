package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// enabled reports whether the section that configures k is switched on.
func (c *Config) enabled(k loader.KindInfo) bool {
	if k.IPv6 {
		return c.IPv6.Enable
	}
	return c.DHCP.Enable
}

// Steered returns the queues the daemon reads: those of the kinds whose
// section is enabled.
func (c *Config) Steered() loader.Queues {
	q := c.Queues
	for i, k := range loader.KindTable {
		if !c.enabled(k) {
			q.Num[i] = loader.NoQueue
		}
	}
	return q
}

// Loader returns the [general] settings of tc steering.
func (c *Config) Loader() loader.Config {
	g := c.General
	lc := loader.Config{PinPath: g.BPFPinPath, Mark: g.Mark, MarkMask: g.MarkMask,
		Attach: g.Attach, Limit: g.RateLimit}
	if g.KernelAnswers {
		lc.Answer = loader.Answerable
	}
	return lc
}

// Responder returns the daemon-wide part of every reply.
func (c *Config) Responder() *responder.Settings {
	s := &responder.Settings{
		ServerIP:      c.DHCP.ServerIP,
		ServerOnLink:  c.DHCP.ServerOnLink,
		LeaseLifetime: uint32(c.DHCP.LeaseLifetime / time.Second),
		LeaseRenewal:  uint32(c.DHCP.LeaseRenewal / time.Second),
		Nameservers:   c.DHCP.Nameservers,
		Domain:        c.DHCP.Domain,
		RAPeriod:      uint32(c.IPv6.RAPeriod / time.Second),
		Nameservers6:  c.IPv6.Nameservers,
		Domains6:      c.IPv6.Domains,
		Mode:          c.IPv6.Mode,
		NextServer:    c.DHCP.NextServer,
		BootFile:      c.DHCP.BootFile,
		RouterAddress: c.IPv6.RouterAddress,
		ServerDUID:    c.IPv6.ServerDUID,
		PDLifetime:    uint32(c.IPv6.PDLifetime / time.Second),
	}
	for _, o := range c.DHCP.Options {
		s.Options = append(s.Options, responder.Option{Code: o.Code, Data: o.Data})
	}
	return s
}

// Summary is one line of what the configuration turns on, as `nfdhcpd -t`
// prints it: "dhcp queue 42, ipv6 slaac+dhcpv6 rs 43 ns 44 dhcpv6 45,
// steering auto, datapath /var/lib/nfdhcpd".
func (c *Config) Summary() string {
	q := c.Steered()
	var dhcp, ipv6 []string
	for i, k := range loader.KindTable {
		if q.Num[i] == loader.NoQueue {
			continue
		}
		if k.IPv6 {
			ipv6 = append(ipv6, fmt.Sprintf("%s %d", k.Name, q.Num[i]))
		} else {
			dhcp = append(dhcp, fmt.Sprintf("queue %d", q.Num[i]))
		}
	}
	parts := []string{"dhcp off", "ipv6 off"}
	if c.DHCP.Enable {
		parts[0] = strings.Join(append([]string{"dhcp"}, dhcp...), " ")
	}
	if c.IPv6.Enable {
		parts[1] = strings.Join(append([]string{"ipv6", c.IPv6.Mode.String()}, ipv6...), " ")
	}
	return strings.Join(append(parts, "steering "+string(c.General.Steering), "datapath "+c.General.DataPath), ", ")
}
