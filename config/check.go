package config

import (
	"errors"
	"strings"
	"time"

	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// check enforces what holds between keys, and resolves mode = auto. A key
// whose own value was refused is not judged again against others.
func (p *parser) check() {
	p.checkMark()
	p.checkDHCP()
	p.resolveMode()
	p.checkIPv6Queues()
	p.checkQueueRanges()
}

func (p *parser) at(section, key string) int { return p.lines[section+"."+key] }

func (p *parser) failed(section, key string) bool {
	for _, e := range p.errs {
		var ce *Error
		if errors.As(e, &ce) && ce.Section == section && ce.Key == key {
			return true
		}
	}
	return false
}

// checkMark: the kind codes must fit under mark_mask (the loader's rule).
func (p *parser) checkMark() {
	if p.failed("general", "mark") || p.failed("general", "mark_mask") {
		return
	}
	g := p.cfg.General
	var me *loader.MarkError
	if err := loader.ValidateMark(g.Mark, g.MarkMask); errors.As(err, &me) {
		p.errf(p.at("general", me.Key), "general", me.Key, "%v", me.Err)
	}
}

func (p *parser) checkDHCP() {
	d := p.cfg.DHCP
	if d.Enable {
		if p.cfg.Queues.Of(loader.KindDHCP) == loader.NoQueue && !p.failed("dhcp", "dhcp_queue") {
			p.errf(p.at("dhcp", "enable_dhcp"), "dhcp", "dhcp_queue", "required when enable_dhcp = yes")
		}
		if !d.ServerIP.IsValid() && !d.ServerOnLink && !p.failed("dhcp", "server_ip") {
			p.errf(p.at("dhcp", "enable_dhcp"), "dhcp", "server_ip", "required unless server_on_link = yes")
		}
	}
	if d.LeaseRenewal >= d.LeaseLifetime && !p.failed("dhcp", "lease_renewal") && !p.failed("dhcp", "lease_lifetime") {
		p.errf(p.at("dhcp", "lease_renewal"), "dhcp", "lease_renewal", "%d must be less than lease_lifetime %d",
			int64(d.LeaseRenewal/time.Second), int64(d.LeaseLifetime/time.Second))
	}
}

// resolveMode turns mode = auto into the mode its queues serve:
// slaac+dhcpv6 with rs, ns and dhcpv6 queues, slaac with rs and ns, else
// dhcpv6.
func (p *parser) resolveMode() {
	v6, q := &p.cfg.IPv6, p.cfg.Queues
	if !v6.ModeAuto {
		return
	}
	has := func(k loader.Kinds) bool { return q.Of(k) != loader.NoQueue }
	switch {
	case has(loader.KindRS) && has(loader.KindNS) && has(loader.KindDHCPv6):
		v6.Mode = responder.ModeSLAACDHCPv6
	case has(loader.KindRS) && has(loader.KindNS):
		v6.Mode = responder.ModeSLAAC
	default:
		v6.Mode = responder.ModeDHCPv6
	}
}

// needs are the kinds whose queues a mode cannot do without.
func needs(m responder.IPv6Mode) loader.Kinds {
	switch m {
	case responder.ModeSLAAC:
		return loader.KindRS | loader.KindNS
	case responder.ModeSLAACDHCPv6:
		return loader.KindRS | loader.KindNS | loader.KindDHCPv6
	}
	return loader.KindDHCPv6
}

func (p *parser) checkIPv6Queues() {
	v6 := p.cfg.IPv6
	if !v6.Enable || p.failed("ipv6", "mode") {
		return
	}
	var missing []string
	for _, k := range loader.KindTable {
		section, key := queueKey(k)
		if needs(v6.Mode)&k.Kind != 0 && p.cfg.Queues.Of(k.Kind) == loader.NoQueue && !p.failed(section, key) {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		how := v6.Mode.String()
		if v6.ModeAuto {
			how = "auto (no rs_queue and ns_queue, so dhcpv6)"
		}
		p.errf(p.at("ipv6", "mode"), "ipv6", "mode", "%s needs %s", how, strings.Join(missing, " and "))
	}
}

// checkQueueRanges: queues must be distinct, one reader per queue and one
// kind per reader; with queue_balance each kind takes the range from its
// number up.
func (p *parser) checkQueueRanges() {
	q := p.cfg.Queues
	nq := max(q.Balance, 1)
	owner := map[int]loader.KindInfo{}
	for i, k := range loader.KindTable {
		num := q.Num[i]
		if num == loader.NoQueue {
			continue
		}
		section, key := queueKey(k)
		if last := num + nq - 1; last > 65535 {
			p.errf(p.at(section, key), section, key, "queue %d with queue_balance %d runs past queue 65535", num, nq)
			continue
		}
		clash := -1
		for n := num; n < num+nq && clash < 0; n++ {
			if _, dup := owner[n]; dup {
				clash = n
			}
		}
		if clash < 0 {
			for n := num; n < num+nq; n++ {
				owner[n] = k
			}
			continue
		}
		prevSection, prevKey := queueKey(owner[clash])
		if nq == 1 {
			p.errf(p.at(section, key), section, key, "queue %d is also [%s] %s", clash, prevSection, prevKey)
		} else {
			p.errf(p.at(section, key), section, key, "queues %d-%d (queue_balance %d) overlap [%s] %s's at %d",
				num, num+nq-1, nq, prevSection, prevKey, clash)
		}
	}
}
