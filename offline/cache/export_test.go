package cache

import (
	"context"
	"time"
)

// SetIndexHold makes the indexer judge a catch-up every window, plan as if
// a build took at least buildFloor, and take the rate changes arrive at
// from rate instead of measuring it. Call it before the first change is
// applied.
func (c *Cache) SetIndexHold(window, buildFloor time.Duration, rate func() float64) {
	c.ixTest.window, c.ixTest.buildFloor, c.ixTest.rate = window, buildFloor, rate
}

// MergeBefore is mergeBefore, for its table test.
var MergeBefore = mergeBefore

// SetIndexRebuild makes the indexer read the arrays again once the merges'
// patches hold rows changes, and call read (if not nil) in each read of
// the arrays once it has its snapshot of the file. Call it before the
// first change is applied.
func (c *Cache) SetIndexRebuild(rows int, read func()) {
	c.ixTest.rebuildAt, c.ixTest.read = rows, read
}

// Merge is Flush without the checkpoint (which waits for a read of the
// arrays to end).
func (c *Cache) Merge(ctx context.Context) error { return c.merge(ctx, false) }

// PagedTables is how many of the build's tables still go to leaf pages
// (the others are built with statements).
func (b *Builder) PagedTables() int {
	n := 0
	for _, tw := range b.tw {
		if tw != nil {
			n++
		}
	}
	return n
}
