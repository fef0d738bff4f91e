package config

import (
	"encoding"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/loader"
)

// setter parses one value into the configuration.
type setter func(c *Config, v string) error

// schema lists every key of every section; queueKeys adds the queues.
var schema = func() map[string]map[string]setter {
	s := map[string]map[string]setter{
		"general": {
			"pidfile":  absPath(func(c *Config) *string { return &c.General.PIDFile }),
			"datapath": absPath(func(c *Config) *string { return &c.General.DataPath }),
			"logdir": func(c *Config, v string) error {
				if v != "" && !filepath.IsAbs(v) {
					return fmt.Errorf("%q is not an absolute path", v)
				}
				c.General.LogDir = v
				return nil
			},
			"user":           func(c *Config, v string) error { c.General.User = v; return nil },
			"steering":       text(func(c *Config) encoding.TextUnmarshaler { return &c.General.Steering }),
			"bpf_pin_path":   absPath(func(c *Config) *string { return &c.General.BPFPinPath }),
			"mark":           u32(func(c *Config) *uint32 { return &c.General.Mark }),
			"mark_mask":      u32(func(c *Config) *uint32 { return &c.General.MarkMask }),
			"attach":         text(func(c *Config) encoding.TextUnmarshaler { return &c.General.Attach }),
			"metrics_listen": metricsListen,
			"rate_limit":     text(func(c *Config) encoding.TextUnmarshaler { return &c.General.RateLimit }),
			"kernel_answers": boolean(func(c *Config) *bool { return &c.General.KernelAnswers }),
			"queue_balance": func(c *Config, v string) error {
				n, err := strconv.ParseUint(v, 10, 16)
				if err != nil || n < 1 || n > 1024 {
					return fmt.Errorf("%q is not a number of queues 1-1024", v)
				}
				c.Queues.Balance = int(n)
				return nil
			},
		},
		"dhcp": {
			"enable_dhcp":    boolean(func(c *Config) *bool { return &c.DHCP.Enable }),
			"lease_lifetime": seconds(func(c *Config) *time.Duration { return &c.DHCP.LeaseLifetime }, 1, 0xffffffff),
			"lease_renewal":  seconds(func(c *Config) *time.Duration { return &c.DHCP.LeaseRenewal }, 1, 0xffffffff),
			"server_ip": func(c *Config, v string) error {
				a, err := netip.ParseAddr(v)
				switch {
				case err != nil || a.Zone() != "":
					return fmt.Errorf("%q is not an IP address", v)
				case !a.Is4():
					return fmt.Errorf("%q is not IPv4", v)
				}
				c.DHCP.ServerIP = a
				return nil
			},
			"server_on_link": boolean(func(c *Config) *bool { return &c.DHCP.ServerOnLink }),
			"nameservers":    addrs(func(c *Config) *[]netip.Addr { return &c.DHCP.Nameservers }, 4),
			"domain": func(c *Config, v string) error {
				if v != "" && !binding.ValidHostname(v) {
					return fmt.Errorf("%q is not a valid domain name", v)
				}
				c.DHCP.Domain = v
				return nil
			},
			"options": func(c *Config, v string) (err error) {
				c.DHCP.Options, err = binding.ParseDHCPOptions(v)
				return err
			},
			// PXE: a binding's NEXT_SERVER and BOOT_FILE win.
			"next_server": func(c *Config, v string) (err error) {
				c.DHCP.NextServer, err = binding.ParseNextServer(v)
				return err
			},
			"boot_file": func(c *Config, v string) (err error) {
				c.DHCP.BootFile, err = binding.ParseBootFile(v)
				return err
			},
		},
		"ipv6": {
			"enable_ipv6": boolean(func(c *Config) *bool { return &c.IPv6.Enable }),
			"mode": func(c *Config, v string) error {
				if v == "auto" {
					c.IPv6.ModeAuto = true
					return nil
				}
				if err := c.IPv6.Mode.UnmarshalText([]byte(v)); err != nil {
					return fmt.Errorf("%q is not one of auto, slaac, slaac+dhcpv6, dhcpv6", v)
				}
				c.IPv6.ModeAuto = false
				return nil
			},
			// The RA's router lifetime is 3 × ra_period, at most 9000 s
			// (RFC 4861): past 3000 s a VM's default route can lapse
			// before the next periodic RA unless the VM solicits one.
			"ra_period":   seconds(func(c *Config) *time.Duration { return &c.IPv6.RAPeriod }, 1, 14400),
			"nameservers": addrs(func(c *Config) *[]netip.Addr { return &c.IPv6.Nameservers }, 6),
			"domains": func(c *Config, v string) (err error) {
				c.IPv6.Domains, err = binding.ParseDomainList(v)
				return err
			},
			"router_address": func(c *Config, v string) (err error) {
				c.IPv6.RouterAddress, err = parseRouterAddress(v)
				return err
			},
			"server_duid": func(c *Config, v string) (err error) {
				c.IPv6.ServerDUID, err = parseDUID(v)
				return err
			},
			// Prefix delegation: 4294967295 is RFC 8415's infinity.
			"pd_lifetime": seconds(func(c *Config) *time.Duration { return &c.IPv6.PDLifetime }, 1, 0xffffffff),
			"pd_routes":   boolean(func(c *Config) *bool { return &c.IPv6.PDRoutes }),
		},
	}
	for i, k := range loader.KindTable {
		section, key := queueKey(k)
		s[section][key] = func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return fmt.Errorf("%q is not a queue number 0-65535", v)
			}
			c.Queues.Num[i] = int(n)
			return nil
		}
	}
	return s
}()

// queueKey is where a kind's queue number is set: dhcp_queue in [dhcp],
// the IPv6 kinds' in [ipv6].
func queueKey(k loader.KindInfo) (section, key string) {
	if k.IPv6 {
		return "ipv6", k.Name + "_queue"
	}
	return "dhcp", k.Name + "_queue"
}

// Keys lists every key of every section, for documentation checks.
func Keys() map[string][]string {
	out := make(map[string][]string)
	for section, keys := range schema {
		for key := range keys {
			out[section] = append(out[section], key)
		}
	}
	return out
}

// Defaults returns the configuration an empty file gives.
func Defaults() *Config { return defaults() }

func text(field func(*Config) encoding.TextUnmarshaler) setter {
	return func(c *Config, v string) error { return field(c).UnmarshalText([]byte(v)) }
}

func absPath(field func(*Config) *string) setter {
	return func(c *Config, v string) error {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		*field(c) = filepath.Clean(v)
		return nil
	}
}

func boolean(field func(*Config) *bool) setter {
	return func(c *Config, v string) (err error) {
		*field(c), err = binding.ParseBool(v)
		return err
	}
}

// u32 accepts decimal or 0x-prefixed hex, as marks are usually written.
func u32(field func(*Config) *uint32) setter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number 0-4294967295 (decimal or 0x hex)", v)
		}
		*field(c) = uint32(n)
		return nil
	}
}

func seconds(field func(*Config) *time.Duration, lo, hi uint64) setter {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not a number of seconds %d-%d", v, lo, hi)
		}
		*field(c) = time.Duration(n) * time.Second
		return nil
	}
}

func addrs(field func(*Config) *[]netip.Addr, family int) setter {
	return func(c *Config, v string) (err error) {
		*field(c), err = binding.ParseAddrList(v, family)
		return err
	}
}

func metricsListen(c *Config, v string) error {
	if v != "" {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("%q is not host:port", v)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("%q: port %q is not a number 0-65535", v, port)
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil {
				return fmt.Errorf("%q: %q is not an IP address or localhost", v, host)
			}
		}
	}
	c.General.MetricsListen = v
	return nil
}
