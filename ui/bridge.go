package ui

import (
	"fyne.io/fyne/v2"
)

// Background decides how the screens run their background work. The zero
// value is production: work on its own goroutine, tickers on. Tests hand a
// Background in Deps so that each desk is driven deterministically without
// package-level switches, and tests with separate desks can run in parallel.
type Background struct {
	// Spawn starts background work; nil starts a goroutine. Fyne's test
	// driver runs fyne.Do inline on the calling goroutine instead of a UI
	// thread, so tests run spawned work inline too: the screens are then
	// driven from one goroutine, and the use cases' own concurrency is
	// tested (with -race) in their packages.
	Spawn func(func())
	// Wait starts a reader wait (it blocks until a card is placed or the
	// screen is left); nil: Spawn.
	Wait func(func())
	// Do hands a result to the UI goroutine; nil: fyne.Do.
	Do func(func())
	// NoTickers turns the background tickers off (idle-lock watch, screen
	// refreshes, reader retries); tests call the checks directly.
	NoTickers bool
}

func (b Background) spawn(f func()) {
	if b.Spawn != nil {
		b.Spawn(f)
		return
	}
	go f()
}

func (b Background) wait(f func()) {
	if b.Wait != nil {
		b.Wait(f)
		return
	}
	b.spawn(f)
}

func (b Background) do(f func()) {
	if b.Do != nil {
		b.Do(f)
		return
	}
	fyne.Do(f)
}

func (b Background) tickers() bool { return !b.NoTickers }

// async runs work on its own goroutine and hands the result to done on the
// Fyne UI goroutine. Every call that can touch the disk, a device or the
// network goes through it, so the window never freezes behind a slow reader
// or a central timeout (the rymdport bridge pattern).
func async[T any](b Background, work func() (T, error), done func(T, error)) {
	b.spawn(func() {
		v, err := work()
		b.do(func() { done(v, err) })
	})
}
