//go:build linux

package gatesim

import (
	"time"

	"golang.org/x/sys/unix"
)

// absClock sleeps until absolute times with clock_nanosleep(TIMER_ABSTIME)
// on CLOCK_MONOTONIC (the clock behind Go's monotonic time), so an open-loop
// schedule keeps its spacing to tens of microseconds instead of the
// runtime's millisecond-rounded timers.
type absClock struct {
	base     time.Time
	baseMono int64
}

func newAbsClock(base time.Time) absClock {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return absClock{base: base, baseMono: ts.Nano() - int64(time.Since(base))}
}

func (c absClock) sleepUntil(t time.Time) {
	if time.Until(t) <= 0 {
		return
	}
	ts := unix.NsecToTimespec(c.baseMono + int64(t.Sub(c.base)))
	for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
	}
}

// preciseTimerSlack drops the calling thread's timer slack (default 50 µs)
// to 1 ns; the scheduler thread is locked, so it keeps it.
func preciseTimerSlack() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) }
