package serial

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestNormaliser(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	const timeout = 100 * time.Millisecond
	type read struct {
		elapsed time.Duration
		n       int
		err     error
	}
	tests := []struct {
		name  string
		gone  bool
		reads []read
		want  []error // per read: nil (data), ErrTimeout, ErrDisconnected
	}{
		{"DataIsData", false, []read{{1 * time.Millisecond, 5, nil}}, []error{nil}},
		{"DataWithTrailingEOFIsData", false, []read{{1 * time.Millisecond, 5, io.EOF}}, []error{nil}},
		{"LinuxTimeoutIsTimeout", false, []read{{timeout, 0, io.EOF}}, []error{ErrTimeout}},
		{"WindowsTimeoutIsTimeout", false, []read{{timeout, 0, nil}}, []error{ErrTimeout}},
		{"ManyLinuxTimeoutsStayTimeouts", false,
			[]read{{timeout, 0, io.EOF}, {timeout, 0, io.EOF}, {timeout, 0, io.EOF}, {timeout, 0, io.EOF}},
			[]error{ErrTimeout, ErrTimeout, ErrTimeout, ErrTimeout}},
		{"EarlyEOFWithNodeGoneIsDisconnected", true, []read{{0, 0, io.EOF}}, []error{ErrDisconnected}},
		// A starved process measures an instant hang-up EOF as slow: the
		// vanished or replaced node still says disconnected.
		{"SlowEOFWithNodeGoneIsDisconnected", true, []read{{timeout, 0, io.EOF}}, []error{ErrDisconnected}},
		{"OneEarlyEOFWithNodePresentIsTimeout", false, []read{{0, 0, io.EOF}}, []error{ErrTimeout}},
		{"RepeatedEarlyEOFIsDisconnected", false,
			[]read{{0, 0, io.EOF}, {1 * time.Millisecond, 0, io.EOF}, {0, 0, io.EOF}},
			[]error{ErrTimeout, ErrTimeout, ErrDisconnected}},
		{"EarlyEOFsInterruptedByDataAreNotCounted", false,
			[]read{{0, 0, io.EOF}, {0, 0, io.EOF}, {0, 3, nil}, {0, 0, io.EOF}, {0, 0, io.EOF}},
			[]error{ErrTimeout, ErrTimeout, nil, ErrTimeout, ErrTimeout}},
		{"EIOIsDisconnected", false, []read{{0, 0, &os.PathError{Op: "read", Path: "/dev/ttyUSB0", Err: syscall.EIO}}}, []error{ErrDisconnected}},
		{"ClosedFileIsDisconnected", false, []read{{0, 0, os.ErrClosed}}, []error{ErrDisconnected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			z := normaliser{timeout: timeout, now: func() time.Time { return now }, gone: func() bool { return tt.gone }}
			for i, r := range tt.reads {
				start := now
				now = now.Add(r.elapsed)
				n, err := z.classify(start, r.n, r.err)
				want := tt.want[i]
				switch {
				case want == nil && (err != nil || n != r.n):
					t.Fatalf("read %d: got (%d, %v), want (%d, nil)", i, n, err, r.n)
				case want != nil && !errors.Is(err, want):
					t.Fatalf("read %d: got (%d, %v), want %v", i, n, err, want)
				case want != nil && n != 0:
					t.Fatalf("read %d: got n=%d with %v", i, n, err)
				}
			}
		})
	}
}
