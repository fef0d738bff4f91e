#!/bin/sh
# The VM's init: mount what the labs need, load the modules, run the e2e
# suite in the steering modes the kernel command line names
# (nfdhcpd.modes=tc,iptables), write the results to the host's 9p share and
# power off. Everything it prints goes to the serial console.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /run/netns /var/run
mount -t devpts devpts /dev/pts
mount -t bpf bpf /sys/fs/bpf
ip link set lo up
hostname vmtest

fail() { echo "vmtest: $*"; poweroff -f; }

# busybox's shell prefers its own applets: name kmod's modprobe by path.
failed=
for m in $(cat /etc/preload-modules); do
	/usr/sbin/modprobe "$m" || failed="$failed $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out || fail "cannot mount the 9p share (modprobe failed:$failed)"
# The host fails the run on any line here.
for m in $failed; do echo "modprobe $m failed" >> /out/setup-errors; done

modes=$(sed -n 's/.*nfdhcpd\.modes=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
timeout=$(sed -n 's/.*nfdhcpd\.timeout=\([^ ]*\).*/\1/p' /proc/cmdline)
run=$(sed -n 's/.*nfdhcpd\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
skip=$(sed -n 's/.*nfdhcpd\.skip=\([^ ]*\).*/\1/p' /proc/cmdline)
# Software emulation is many times slower than the hardware the suite's
# wall-clock bounds promise (lab.Within).
export NFDHCPD_E2E_TIME_SCALE=$(sed -n 's/.*nfdhcpd\.timescale=\([^ ]*\).*/\1/p' /proc/cmdline)
uname -r > /out/release
cd /e2e
for mode in $modes; do
	echo "vmtest: $(uname -r): e2e in $mode steering"
	NFDHCPD_BIN=/usr/local/bin/nfdhcpd NFDHCPD_E2E_STEERING=$mode \
		e2e.test -test.v=test2json -test.count=1 -test.timeout="${timeout:-15m}" ${run:+-test.run="$run"} ${skip:+-test.skip="$skip"} \
		> /out/e2e-$mode.out 2>&1
	echo $? > /out/exit-$mode
	echo "vmtest: $mode exit $(cat /out/exit-$mode)"
done
dmesg > /out/dmesg
sync
umount /out
poweroff -f
