package cache

import (
	"runtime"
	"syscall"
	"testing"
)

// niceOfThread returns the nice value of the calling thread (the raw
// getpriority system call returns 20 - nice).
func niceOfThread(t *testing.T) int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

// TestBackgroundRunsAtLowerPriority: the work runs at nice 10 and the
// caller's thread keeps its priority.
func TestBackgroundRunsAtLowerPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := niceOfThread(t)
	var inside int
	background(func() { inside = niceOfThread(t) })
	if inside != 10 && inside != max(before, 10) {
		t.Fatalf("background work at nice %d, want 10", inside)
	}
	if after := niceOfThread(t); after != before {
		t.Fatalf("caller's thread went from nice %d to %d", before, after)
	}
}
