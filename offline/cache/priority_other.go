//go:build !linux

package cache

// background runs fn (thread priorities are set on Linux only).
func background(fn func()) { fn() }

func lowerThreadPriority() {}
