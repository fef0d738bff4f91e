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

// Capabilities the daemon keeps after dropping to its user (none of them
// inheritable or ambient):
//   - CAP_NET_ADMIN: set NFQUEUE verdicts, attach and detach TC programs and
//     filters for TAPs that appear later, add and remove the routes of
//     delegated prefixes, remove its netfilter rules at exit;
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
// caps in its permitted and effective sets, and sets NO_NEW_PRIVS. No
// capability stays inheritable or ambient: the daemon's only child is the
// iptables it runs at exit, which gets what it needs raised for it alone
// (loader/rules.go). Started as acct already (the systemd unit), it drops
// what the start needed beyond caps (CAP_DAC_READ_SEARCH, to reach its pin
// folder through a bpffs mounted 0700).
func dropPrivileges(acct account, caps []uintptr) error {
	if acct.uid == 0 {
		return noNewPrivs() // user = root keeps root
	}
	if syscall.Getuid() != acct.uid || syscall.Geteuid() != acct.uid {
		if err := switchUser(acct); err != nil {
			return err
		}
	}
	if err := limitCaps(caps); err != nil {
		return err
	}
	return noNewPrivs()
}

// switchUser changes every thread's user and groups to acct's, keeping the
// permitted capabilities across the change (PR_SET_KEEPCAPS).
func switchUser(acct account) error {
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
	return nil
}

// limitCaps leaves every thread with caps (those of them it has) permitted
// and effective, none inheritable, and an empty ambient set.
func limitCaps(caps []uintptr) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var have [2]unix.CapUserData
	if err := unix.Capget(&hdr, &have[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	var set [2]uint32
	for _, c := range caps {
		set[c/32] |= 1 << (c % 32)
	}
	data := [2]unix.CapUserData{}
	for i := range data {
		keep := set[i] & have[i].Permitted // started unprivileged: only what the unit gave
		data[i] = unix.CapUserData{Effective: keep, Permitted: keep}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("clear ambient capabilities: %w", e)
	}
	return nil
}

// noNewPrivs sets NO_NEW_PRIVS on every thread: no exec can gain
// privileges again (set-user-ID programs, file capabilities).
func noNewPrivs() error {
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return errors.New("this binary was built with cgo, which cannot change every thread's settings: build with CGO_ENABLED=0")
		}
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	return nil
}
