package nfq

import "testing"

func TestFanoutCPU(t *testing.T) {
	all := func(int) bool { return true }
	only := func(cpus ...int) func(int) bool {
		return func(c int) bool {
			for _, x := range cpus {
				if x == c {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name                 string
		index, balance, ncpu int
		allowed              func(int) bool
		cpu                  int
		ok                   bool
	}{
		{"one queue per CPU", 1, 4, 4, all, 1, true},
		{"fewer queues than CPUs: the first of its CPUs", 1, 2, 8, all, 1, true},
		{"first CPU not allowed: the next one of the queue", 1, 2, 8, only(3, 5), 3, true},
		{"more queues than CPUs: a queue no CPU feeds", 5, 8, 4, all, 0, false},
		{"none of its CPUs allowed", 0, 2, 4, only(1, 3), 0, false},
		{"not balanced", 0, 1, 4, all, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpu, ok := fanoutCPU(tt.index, tt.balance, tt.allowed, tt.ncpu)
			if cpu != tt.cpu || ok != tt.ok {
				t.Fatalf("fanoutCPU(%d, %d) = %d, %v; want %d, %v", tt.index, tt.balance, cpu, ok, tt.cpu, tt.ok)
			}
		})
	}
}
