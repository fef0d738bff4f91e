package guest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nfdhcpd/nfdhcpd/test/lab"
	"github.com/nfdhcpd/nfdhcpd/test/vmimage"
)

// KernelName is the kernel the guests boot, one of vmimage.Kernels: the
// current Debian stable's, as its cloud images run.
const KernelName = "6.12"

// tools are the host's programs the guest gets, with their libraries:
// ip for its JSON output (busybox's ip has none), Debian's udhcpc and
// dhclient, kmod's modprobe, and the chown and chmod dhclient-script
// calls with options busybox lacks. busybox supplies the rest (sh, mount,
// ping, sysctl, poweroff).
var tools = []string{"ip", "udhcpc", "dhclient", "modprobe", "chown", "chmod"}

// hostFiles are the distribution's client scripts and configuration,
// copied as they are: the guest runs what a Debian machine runs.
var hostFiles = []string{
	"/etc/udhcpc/default.script", "/sbin/dhclient-script", "/etc/dhcp/dhclient.conf",
	lab.NetworkdPath,
}

// modules are what the guest's kernel needs beyond its built-ins: the NIC,
// the 9p share the results come back on, and the entropy source.
var modules = vmimage.Modules{
	Preload: []string{"virtio_pci", "virtio_net", "9pnet_virtio", "9p", "virtio_rng"},
	Dirs:    []string{"net/9p", "fs/9p", "drivers/char/hw_random"},
}

//go:embed init.sh
var initScript []byte

// networkdConfig is what netplan writes for a cloud image's DHCP NIC
// (Ubuntu's cloud-init, `dhcp4: true, dhcp6: true`), matching eth0 rather
// than a MAC; UseDomains puts the DHCP domain in the link's state, where
// the test reads it.
const networkdConfig = `[Match]
Name=eth0

[Network]
DHCP=yes
LinkLocalAddressing=ipv6

[DHCP]
RouteMetric=100
UseMTU=true
UseDomains=true
`

// udhcpcHook records what udhcpc hands its script on "bound" (the lease
// time and hostname, which Debian's script does not apply), then runs that
// script.
const udhcpcHook = `#!/bin/sh
[ "$1" = bound ] && env > /out/udhcpc.env
exec /etc/udhcpc/default.script "$@"
`

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\nsystemd-network:x:998:\nnogroup:x:65534:\n"
)

// Image is what a guest boots.
type Image struct {
	Kernel  string // vmlinuz
	Release string // its uname -r
	Initrd  string
}

// BuildImage fetches the guest kernel (once: it is cached in cache) and
// builds the initramfs in dir.
func BuildImage(cache, dir string, logf vmimage.Logf) (*Image, error) {
	ks, err := vmimage.Pick(KernelName)
	if err != nil {
		return nil, err
	}
	tree, err := vmimage.Fetch(cache, ks[0], false, logf)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	s, err := vmimage.NewStager(root, "out", "var/lib/dhcp", "etc/systemd/network")
	if err != nil {
		return nil, err
	}
	if err := s.Tools(tools...); err != nil {
		return nil, err
	}
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("the guest needs %s from the host: %w", f, err)
		}
		if err := s.Tree(f); err != nil {
			return nil, err
		}
	}
	if err := s.Busybox(); err != nil {
		return nil, err
	}
	if err := s.WriteFiles(0o755, map[string][]byte{"init": initScript, "usr/local/bin/udhcpc-hook": []byte(udhcpcHook)}); err != nil {
		return nil, err
	}
	if err := s.WriteFiles(0o644, map[string][]byte{
		"etc/passwd": []byte(passwd), "etc/group": []byte(group),
		"etc/nsswitch.conf": []byte("passwd: files\ngroup: files\nhosts: files\n"),
		"etc/hosts":         []byte("127.0.0.1 localhost\n::1 localhost\n"),
		// dhclient-script reads it to learn whether / is read-only.
		"etc/fstab":       nil,
		"etc/resolv.conf": nil,
		// networkd derives its DHCP client identifiers (DUID) from it.
		"etc/machine-id":                      []byte("9f3c0e7a5b1d4c2e8a6f0b9d7c5e3a1f\n"),
		"etc/systemd/network/10-eth0.network": []byte(networkdConfig),
	}); err != nil {
		return nil, err
	}
	if err := s.Finish(); err != nil {
		return nil, err
	}
	user := filepath.Join(dir, "userspace.cpio")
	if err := vmimage.WriteCPIO(root, user); err != nil {
		return nil, err
	}
	initrd, err := vmimage.Initrd(dir, tree, modules, user)
	if err != nil {
		return nil, err
	}
	return &Image{Kernel: tree.Vmlinuz, Release: tree.Release, Initrd: initrd}, nil
}
