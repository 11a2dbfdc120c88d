package rounds

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffDoublesWithinJitterAndCaps(t *testing.T) {
	for _, tc := range []struct {
		doublings int
		want      time.Duration
	}{{0, 2 * time.Second}, {1, 4 * time.Second}, {3, 16 * time.Second}, {20, 2 * time.Minute}} {
		for i := 0; i < 200; i++ {
			d := Backoff(2*time.Second, 2*time.Minute, tc.doublings)
			if d < tc.want*3/4 || d > tc.want*5/4 {
				t.Fatalf("%d doublings: %s, want %s ± 25 %%", tc.doublings, d, tc.want)
			}
		}
	}
}

// TestRunKicksFullBatchesAndErrors: the first round runs at once, a kick
// starts another before the (long) interval, a round reporting more runs
// again at once, and errors are reported without stopping the loop.
func TestRunKicksFullBatchesAndErrors(t *testing.T) {
	l := New(Timing{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	var failures atomic.Int32
	started := make(chan int32, 10)
	done := make(chan error)
	go func() {
		done <- l.Run(ctx, func(context.Context) (bool, error) {
			k := n.Add(1)
			started <- k
			switch k {
			case 2:
				return true, nil // a full batch: round 3 follows at once
			case 3:
				return false, errors.New("central unreachable")
			}
			return false, nil
		}, func(error) { failures.Add(1) })
	}()
	wait := func(want int32) {
		t.Helper()
		select {
		case k := <-started:
			if k != want {
				t.Fatalf("round %d, want %d", k, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d did not run", want)
		}
	}
	wait(1)
	l.Kick()
	wait(2)
	wait(3)
	l.Kick()
	wait(4)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if failures.Load() != 1 {
		t.Fatalf("%d failures reported, want 1", failures.Load())
	}
}

// TestNewFillsDefaultsAndRetrySpaces: zero timing takes the defaults, a
// set field is kept, and Retry doubles from RetryMin within the jitter up
// to RetryMax.
func TestNewFillsDefaultsAndRetrySpaces(t *testing.T) {
	if got := New(Timing{}).Timing(); got != (Timing{DefaultInterval, DefaultRetryMin, DefaultRetryMax}) {
		t.Fatalf("zero timing became %+v", got)
	}
	l := New(Timing{RetryMin: time.Second, RetryMax: 8 * time.Second})
	if got := l.Timing(); got.Interval != DefaultInterval || got.RetryMin != time.Second || got.RetryMax != 8*time.Second {
		t.Fatalf("timing %+v", got)
	}
	for _, tc := range []struct {
		doublings int
		want      time.Duration
	}{{0, time.Second}, {2, 4 * time.Second}, {9, 8 * time.Second}} {
		if d := l.Retry(tc.doublings); d < tc.want*3/4 || d > tc.want*5/4 {
			t.Fatalf("Retry(%d) = %s, want %s ± 25 %%", tc.doublings, d, tc.want)
		}
	}
}
