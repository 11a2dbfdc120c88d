package cache

import (
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// background runs fn on an OS thread of its own at nice 10 and waits for
// it. Applying a catch-up segment or merging is CPU work of tens of
// milliseconds at a time that shares the station's cores with the gates'
// look-ups; at a lower priority the kernel runs a handler thread first
// whenever both are runnable, and the apply still gets every cycle the
// handlers leave. The thread ends with the goroutine (it is never
// unlocked), so no other goroutine inherits the lower priority.
func background(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		lowerThreadPriority()
		defer close(done)
		fn()
	}()
	<-done
}

// backgroundSlice is the time slice the background threads ask the
// kernel for (sched_setattr's sched_runtime, which Linux 6.12 and later
// take as a fair task's slice; the smallest it accepts is 0.1 ms). Linux's
// EEVDF scheduler lets the running task finish its slice before a woken
// one of the same class runs, whatever their nice values, so with the
// default slice (0.75 ms and up) a gate's handler waited for most of one
// whenever an apply held the core; with a 0.1 ms slice it waits at most
// that. Older kernels ignore it.
const backgroundSlice = 100 * time.Microsecond

// lowerThreadPriority sets the calling OS thread to nice 10 with a short
// time slice (Linux nice values and slices are per thread); callers have
// locked their goroutine to it.
func lowerThreadPriority() {
	tid := unix.Gettid()
	attr := unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: 10, Runtime: uint64(backgroundSlice)}
	if unix.SchedSetAttr(tid, &attr, 0) != nil {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 10)
	}
}
