package cache

import "time"

// SetIndexHold makes the indexer watch changes arrive for window before it
// judges a catch-up, and plan as if a build took at least buildFloor. Call
// it before the first change is applied.
func (c *Cache) SetIndexHold(window, buildFloor time.Duration) {
	c.ixTest.window, c.ixTest.buildFloor = window, buildFloor
}

// MergeBefore is mergeBefore, for its table test.
var MergeBefore = mergeBefore
