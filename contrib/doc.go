// Package contrib holds no Go code: its folders are files for operators
// (packet-filter rules for iptables steering, logrotate, a Ganeti hook that
// writes binding files), and its tests check them with the real tools.
package contrib
