package app

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyedOnce(t *testing.T) {
	t.Run("SameKeyRunsOnce", func(t *testing.T) {
		var o keyedOnce[int]
		var runs atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]int, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], _ = o.do(context.Background(), "k", func() (int, error) {
					runs.Add(1)
					<-release
					return 42, nil
				})
			}()
		}
		// Release the first call only once the seven others wait on it.
		waitFor(t, "seven callers sharing the first call", func() bool { return o.sharing("k") == 7 })
		close(release)
		wg.Wait()
		if runs.Load() != 1 {
			t.Fatalf("fn ran %d times for one key", runs.Load())
		}
		for _, r := range results {
			if r != 42 {
				t.Fatalf("a caller got %d, want the first call's 42", r)
			}
		}
	})
	t.Run("DifferentKeysBothRun", func(t *testing.T) {
		var o keyedOnce[string]
		a, _ := o.do(context.Background(), "a", func() (string, error) { return "a", nil })
		b, _ := o.do(context.Background(), "b", func() (string, error) { return "b", nil })
		if a != "a" || b != "b" {
			t.Fatalf("got %q %q", a, b)
		}
	})
	t.Run("KeyFreeAfterDone", func(t *testing.T) {
		var o keyedOnce[int]
		n := 0
		for range 3 {
			o.do(context.Background(), "k", func() (int, error) { n++; return n, nil })
		}
		if n != 3 {
			t.Fatalf("sequential calls ran %d times, want 3 (only concurrent ones share)", n)
		}
	})
	t.Run("CancelledWaiter", func(t *testing.T) {
		var o keyedOnce[int]
		release := make(chan struct{})
		started := make(chan struct{})
		go o.do(context.Background(), "k", func() (int, error) { close(started); <-release; return 1, nil })
		<-started // the first call is in flight
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := o.do(ctx, "k", func() (int, error) { t.Error("second fn ran"); return 0, nil })
		close(release)
		if ErrorCode(err) != CodeUnavailable || ErrorReason(err) != "cancelled" {
			t.Fatalf("cancelled waiter: %v", err)
		}
	})
}

// waitFor polls cond until it holds or fails the test after 30 s: long
// enough for a slow machine, and a passing run does not wait at all.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // poll interval; the deadline decides
	}
}
