package app

import (
	"testing"
	"time"
)

// TestStatusBoardPutKeepsSince: Since moves only when what is shown
// changes, the fields of a phrase and the error's message included.
func TestStatusBoardPutKeepsSince(t *testing.T) {
	clock := NewFakeClock(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	b := NewStatusBoard(clock)
	var calls int
	b.Subscribe(func(Status) { calls++ })
	put := func(v int, err error) {
		clock.Advance(time.Minute)
		b.Put(Status{Component: CompGateCache, State: StateReady, Detail: "version {{.Version}}, {{.Age}} old",
			Args: map[string]any{"Version": v, "Age": time.Second}, Err: err})
	}
	put(1, nil)
	since := b.Get(CompGateCache).Since
	put(1, nil)
	if calls != 1 || !b.Get(CompGateCache).Since.Equal(since) {
		t.Fatalf("the same status again: %d calls, since %v → %v", calls, since, b.Get(CompGateCache).Since)
	}
	put(2, nil)
	put(2, NewError(CodeUnavailable, "x", "甲", "a"))
	put(2, NewError(CodeUnavailable, "x", "乙", "b"))
	if calls != 4 {
		t.Errorf("a new version and two new errors made %d calls, want 4 in all", calls)
	}
}
