// Package e2e runs nfdhcpd against real, unmodified clients (udhcpc, dhclient,
// dhcpcd, rdisc6, ndisc6) in network-namespace labs, once per steering mode.
// It needs root; without it every test skips.
package e2e
