package lab

import (
	"os"
	"strconv"
	"time"
)

// Within stretches a wall-clock bound the suite asserts (exit within 1 s of
// SIGTERM, ready within 5 s) by $NFDHCPD_E2E_TIME_SCALE, default 1. The
// bounds are promises about a hypervisor's CPU; make vmtest sets a scale
// because its VMs run under software emulation, many times slower, where
// spawning iptables-restore alone takes half a second.
func Within(d time.Duration) time.Duration {
	s, err := strconv.ParseFloat(os.Getenv("NFDHCPD_E2E_TIME_SCALE"), 64)
	if err != nil || s < 1 {
		return d
	}
	return time.Duration(float64(d) * s)
}
