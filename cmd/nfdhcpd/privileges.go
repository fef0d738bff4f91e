package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capabilities the daemon keeps after dropping to its user:
//   - CAP_NET_ADMIN: set NFQUEUE verdicts, attach and detach TC programs and
//     filters for TAPs that appear later, remove its netfilter rules at exit;
//   - CAP_NET_RAW: send replies on the AF_PACKET socket (iptables-legacy
//     needs it too);
//   - CAP_BPF and CAP_PERFMON (tc steering only): load, pin and update the
//     classifier's maps after start.
var (
	capsIptables = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW}
	capsTC       = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_BPF, unix.CAP_PERFMON}
)

// account is a user from /etc/passwd. Parsed by hand: os/user would need cgo,
// and the binary is built without it so that the credential changes below
// apply to every thread.
type account struct {
	name     string
	uid, gid int
}

func lookupUser(name string) (account, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return account{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 || fields[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(fields[2])
		gid, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			return account{}, fmt.Errorf("/etc/passwd: bad entry for %q", name)
		}
		return account{name: name, uid: uid, gid: gid}, nil
	}
	if err := sc.Err(); err != nil {
		return account{}, err
	}
	if uid, err := strconv.Atoi(name); err == nil {
		return account{name: name, uid: uid, gid: uid}, nil
	}
	return account{}, fmt.Errorf("user %q: no such user in /etc/passwd", name)
}

// dropPrivileges switches every thread of the process to acct, keeping only
// caps (permitted, effective, inheritable and ambient, so that the iptables
// the daemon runs at exit has them too).
func dropPrivileges(acct account, caps []uintptr) error {
	if acct.uid == 0 {
		return nil // user = root keeps root
	}
	if syscall.Getuid() == acct.uid && syscall.Geteuid() == acct.uid {
		// Started as that user already (systemd's User= with
		// AmbientCapabilities=): the unit's capability sets hold what
		// the steering needs, and changing credentials is not allowed.
		return nil
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return errors.New("this binary was built with cgo, which cannot change every thread's credentials: build with CGO_ENABLED=0")
		}
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", e)
	}
	if err := syscall.Setgroups([]int{acct.gid}); err != nil {
		return fmt.Errorf("setgroups(%d): %w", acct.gid, err)
	}
	if err := syscall.Setgid(acct.gid); err != nil {
		return fmt.Errorf("setgid(%d): %w", acct.gid, err)
	}
	if err := syscall.Setuid(acct.uid); err != nil {
		return fmt.Errorf("setuid(%d): %w", acct.uid, err)
	}
	var set [2]uint32
	for _, c := range caps {
		set[c/32] |= 1 << (c % 32)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: set[0], Permitted: set[0], Inheritable: set[0]},
		{Effective: set[1], Permitted: set[1], Inheritable: set[1]},
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	for _, c := range caps {
		if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0, 0); e != 0 {
			if errors.Is(e, unix.EINVAL) {
				continue // a capability this kernel does not know (CAP_BPF before 5.8)
			}
			return fmt.Errorf("raise ambient capability %d: %w", c, e)
		}
	}
	return nil
}
