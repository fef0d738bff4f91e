// Package soak holds the churn and leak soak (`make soak`, minutes, not part
// of `make test`): thousands of VMs coming and going through a running
// daemon, a burst of binding writes that overflows inotify, and a storm of
// link changes that overruns the netlink socket. Each ends with the
// daemon's table, maps, pins and rules exactly as they should be, and its
// memory, file descriptors and goroutines flat.
//
// The tests skip unless NFDHCPD_SOAK=1. SOAK_CYCLES sets the number of
// churn cycles (default 10000), SOAK_STEERING the steering mode (tc, the
// default, or iptables).
package soak
