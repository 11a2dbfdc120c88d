package cache

import (
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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

// TestBackgroundAsksForAShortSlice: the background thread's slice is
// backgroundSlice on a kernel that reports fair tasks' slices (Linux 6.12
// and later report the default one, not 0, for an ordinary thread).
func TestBackgroundAsksForAShortSlice(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	base, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Skipf("sched_getattr: %v", err)
	}
	var inside *unix.SchedAttr
	background(func() { inside, err = unix.SchedGetAttr(0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if inside.Nice != 10 {
		t.Fatalf("background thread at nice %d, want 10", inside.Nice)
	}
	if base.Runtime == 0 {
		t.Skipf("this kernel does not report slices (ordinary thread: %+v)", base)
	}
	if inside.Runtime != uint64(backgroundSlice) {
		t.Fatalf("background thread's slice %d ns, want %d (an ordinary thread's: %d)", inside.Runtime, backgroundSlice, base.Runtime)
	}
	if after, err := unix.SchedGetAttr(0, 0); err != nil || after.Runtime != base.Runtime {
		t.Fatalf("caller's slice went from %d to %+v (%v)", base.Runtime, after, err)
	}
}
