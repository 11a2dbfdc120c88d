package cache

import "time"

// SetIndexHold makes the indexer judge a catch-up every window, plan as if
// a build took at least buildFloor, and take the rate changes arrive at
// from rate instead of measuring it. Call it before the first change is
// applied.
func (c *Cache) SetIndexHold(window, buildFloor time.Duration, rate func() float64) {
	c.ixTest.window, c.ixTest.buildFloor, c.ixTest.rate = window, buildFloor, rate
}

// MergeBefore is mergeBefore, for its table test.
var MergeBefore = mergeBefore
