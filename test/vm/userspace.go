package main

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"

	"github.com/nfdhcpd/nfdhcpd/test/vmimage"
)

// Tools are the host's programs the VM gets, with their shared libraries:
// what the labs and the daemon run (test/lab, loader/rules.go). busybox
// supplies the rest (sh, mount, sysctl, kill, env, mv, udhcpc, poweroff).
// A test that needs a new program needs it here too: busybox's applet of
// the same name, where there is one, may lack options (setpriv does).
var Tools = []string{
	"ip", "tc", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore",
	"iptables-save", "ip6tables-save", "dhclient", "dhcpcd", "rdisc6", "ndisc6",
	"dnsmasq", "modprobe", "insmod", "lsmod", "depmod", "bpftool", "setpriv", "prlimit",
}

// hostFiles are copied when the host has them.
var hostFiles = []string{
	"/etc/protocols", "/etc/services", "/etc/ethertypes", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/usr/lib/x86_64-linux-gnu/xtables", "/usr/lib/dhcpcd",
}

// Modules are what the labs need of the VM's kernel, and what nothing
// would load on demand (the 9p share, bridge netfilter, which the labs
// only modprobe when /proc/sys/net/bridge is missing); whole folders
// besides, for what iptables or tc asks the kernel to load.
var Modules = vmimage.Modules{
	Preload: []string{
		"virtio_pci", "9pnet_virtio", "9p",
		"virtio_rng", "veth", "tun", "bridge", "br_netfilter",
		"sch_ingress", "cls_bpf", "crc32c_generic",
		"nfnetlink_queue", "nf_tables", "nft_compat", "x_tables",
		"ip_tables", "ip6_tables", "iptable_mangle", "ip6table_mangle",
		"xt_NFQUEUE", "xt_mark", "xt_physdev", "xt_comment", "xt_tcpudp",
	},
	Dirs: []string{
		"net/netfilter", "net/ipv4/netfilter", "net/ipv6/netfilter", "net/bridge",
		"net/sched", "net/9p", "fs/9p", "drivers/virtio", "drivers/net/veth",
		"drivers/net/tun", "drivers/char/hw_random",
	},
}

// e2eTestdata is the e2e package's testdata folder, from the module root
// (go run ./test/vm runs there).
const e2eTestdata = "test/e2e/testdata"

// e2eReads are the files outside testdata the e2e tests read, by their
// path from the module root: the VM's root stands for it, /e2e for
// test/e2e (the unit tests read ../../contrib/systemd/nfdhcpd.service).
var e2eReads = []string{"contrib/systemd/nfdhcpd.service"}

//go:embed init.sh
var initScript []byte

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"dhcpcd:x:102:65534:dhcpcd:/usr/lib/dhcpcd:/bin/false\n" +
		"dnsmasq:x:999:65534:dnsmasq:/var/lib/misc:/bin/false\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\ndip:x:30:\nnogroup:x:65534:\n"
)

// stageUserspace fills root with the VM's programs: busybox, the host's
// tools and their libraries, the daemon and the e2e test binary.
func stageUserspace(root, daemon, e2e string) error {
	s, err := vmimage.NewStager(root, "out", "e2e", "etc/netns", "var/lib/dhcp", "var/lib/dhcpcd", "var/lib/misc")
	if err != nil {
		return err
	}
	if err := s.Tools(Tools...); err != nil {
		return err
	}
	for _, f := range hostFiles {
		if err := s.Tree(f); err != nil {
			return err
		}
	}
	if err := s.Busybox(); err != nil {
		return err
	}
	if err := s.WriteFiles(0o755, map[string][]byte{"init": initScript}); err != nil {
		return err
	}
	if err := s.WriteFiles(0o644, map[string][]byte{"etc/passwd": []byte(passwd), "etc/group": []byte(group),
		"etc/nsswitch.conf": []byte("passwd: files\ngroup: files\nhosts: files\n"),
		"etc/hosts":         []byte("127.0.0.1 localhost\n::1 localhost\n")}); err != nil {
		return err
	}
	for src, dst := range map[string]string{daemon: "usr/local/bin/nfdhcpd", e2e: "usr/local/bin/e2e.test"} {
		if err := vmimage.CopyFile(src, filepath.Join(root, dst)); err != nil {
			return err
		}
	}
	for _, f := range e2eReads {
		if err := vmimage.CopyFile(f, filepath.Join(root, f)); err != nil {
			return err
		}
	}
	// The suite runs in /e2e as go test runs it in its package's folder:
	// tests open testdata/ relative to it.
	if err := filepath.Walk(e2eTestdata, func(f string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return vmimage.CopyFile(f, filepath.Join(root, "e2e", "testdata", strings.TrimPrefix(f, e2eTestdata)))
	}); err != nil && !os.IsNotExist(err) {
		return err
	}
	return s.Finish()
}
