package ui

import (
	"fyne.io/fyne/v2"
)

// async runs work on its own goroutine and hands the result to done on the
// Fyne UI goroutine. Every call that can touch the disk, a device or the
// network goes through it, so the window never freezes behind a slow reader
// or a central timeout (the rymdport bridge pattern).
func async[T any](work func() (T, error), done func(T, error)) {
	spawn(func() {
		v, err := work()
		fyne.Do(func() { done(v, err) })
	})
}

// spawn starts background work. Fyne's test driver runs fyne.Do inline on
// the calling goroutine instead of a UI thread, so the package's tests set
// spawn to run inline too: the screens are then driven deterministically
// from one goroutine, and the use cases' own concurrency is tested (with
// -race) in their packages.
var spawn = func(f func()) { go f() }

// tickers reports whether background tickers (the idle-lock watch) run;
// tests turn them off and call the checks directly.
var tickers = true
