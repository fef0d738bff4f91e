package nfq

import "golang.org/x/sys/unix"

// fanoutCPU is the CPU a balanced queue's reader should run on. With
// --queue-cpu-fanout the kernel queues a packet handled on CPU c to the
// (c % balance)-th queue of the range, so the index-th reader serves the
// CPUs c with c % balance == index: it takes the first of them it may run
// on, and then wakes on the CPU that queued the packet, with no
// cross-CPU wake-up and the packet still in that CPU's cache.
func fanoutCPU(index, balance int, allowed func(cpu int) bool, ncpu int) (int, bool) {
	if balance < 2 || index < 0 || index >= balance {
		return 0, false
	}
	for c := index; c < ncpu; c += balance {
		if allowed(c) {
			return c, true
		}
	}
	return 0, false
}

// pinThread keeps the calling (locked) thread on the CPU of the index-th
// of balance queues; false when the thread may not run on any of them.
func pinThread(index, balance int) (int, bool, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, false, err
	}
	cpu, ok := fanoutCPU(index, balance, set.IsSet, len(set)*64)
	if !ok {
		return 0, false, nil
	}
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return 0, false, err
	}
	return cpu, true, nil
}
