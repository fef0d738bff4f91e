package responder

const (
	defaultLease    = 604800 // the original's lease_lifetime default, one week
	defaultRAPeriod = 300
	// defaultPDLifetime is [ipv6] pd_lifetime's default, one day.
	defaultPDLifetime = 86400
	maxRouterLife     = 9000 // RFC 4861 §6.2.1 AdvDefaultLifetime upper bound
)

// leaseTimers gives the lease time, T1 and T2 (DHCPv4 options 51, 58, 59;
// DHCPv6 IA_NA): T1 is lease_renewal, T2 is 7/8 of the lease, and T1 is
// halved to the lease's middle when the configured renewal would not come
// before T2, so that 0 < T1 <= T2 < lease always holds (RFC 2131 §4.4.5).
func leaseTimers(s *Settings) (lease, t1, t2 uint32) {
	lease = s.LeaseLifetime
	if lease == 0 {
		lease = defaultLease
	}
	if lease == 0xffffffff {
		return lease, lease, lease // infinite: never renew
	}
	t2 = uint32(uint64(lease) * 7 / 8)
	t1 = s.LeaseRenewal
	if t1 == 0 || t1 > t2 {
		t1 = lease / 2
	}
	return lease, t1, t2
}

// pdTimers gives the delegated prefixes' lifetime, T1 and T2: half and
// four fifths of the lifetime, as RFC 8415 §21.21 recommends.
func pdTimers(s *Settings) (life, t1, t2 uint32) {
	life = s.PDLifetime
	if life == 0 {
		life = defaultPDLifetime
	}
	if life == 0xffffffff {
		return life, life, life // infinite: never renew
	}
	return life, life / 2, uint32(uint64(life) * 4 / 5)
}

// raTimers gives the RA's router lifetime and the RDNSS/DNSSL lifetime:
// three RA periods (RFC 4861's default AdvDefaultLifetime, RFC 8106's
// recommended floor), the router lifetime capped at 9000 s.
func raTimers(s *Settings) (router uint16, dns uint32) {
	p := uint64(s.RAPeriod)
	if p == 0 {
		p = defaultRAPeriod
	}
	r := min(3*p, maxRouterLife)
	return uint16(r), uint32(min(3*p, 0xffffffff))
}
