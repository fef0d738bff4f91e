// Package lab builds the network labs the end-to-end tests and benchmarks run
// in: a host network namespace where nfdhcpd runs, VM namespaces joined to it
// by veth pairs whose host ends are named like TAPs, real TAPs opened through
// /dev/net/tun, and the real clients run inside the VMs.
//
// Everything a lab makes carries the lab's prefix and is removed by name in
// t.Cleanup, also when the test fails. Labs skip, never pass, when not root.
package lab
