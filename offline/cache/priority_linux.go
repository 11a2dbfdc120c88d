package cache

import (
	"runtime"
	"syscall"
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

// lowerThreadPriority sets the calling OS thread to nice 10 (Linux nice
// values are per thread); callers have locked their goroutine to it.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 10)
}
