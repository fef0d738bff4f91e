// Package bench is `make bench`: a load generator that plays many VMs on
// real TAPs and measures, in one run on the same TAPs and frames, dnsmasq
// (the reference), nfdhcpd with iptables steering and nfdhcpd with tc
// steering; and the scale of the daemon with 10,000 bindings.
//
// The harness is a pair of Go tests that skip unless NFDHCPD_BENCH=1, so
// that `make test` never runs them; they need root. They fail when a server
// answers wrongly, never because a number is slow: the numbers go to stdout
// and to a JSON file for the README.
package bench
