//go:build unix

package allocator

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the test process has used so far (user
// plus system, all threads), or false where unknown.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
