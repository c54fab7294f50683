//go:build unix

package sflow

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used.
// On a shared machine wall-clock ns/op includes time spent waiting for a
// core; the benchmarks also report CPU time, which does not.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
