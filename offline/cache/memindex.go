package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"time"

	"stationdesk/offline/store"
	"stationdesk/offline/syncwire"
)

// The memory index: the big tables copied into flat arrays, so a gate's
// look-up descends no B-tree (docs/decisions.md, "The gate look-up: one
// statement through SQLite's C API"). It holds what the big tables held at
// the last merge; the overlay stays in front of it, as it stays in front of
// the file. It is never changed in place: a merge, a repair or a swap drops
// it before the big tables' new content can be missed, and the indexer
// builds a new one from the file in the background. Until it is ready the
// look-ups read the file, as they do when Options.NoMemIndex is set.
type memIndex struct {
	// Cards in key order: the first 64 bits of the hash (the card table's
	// rowid, cardkey.go), the next 32, the holder's position in the person
	// arrays (noPerson: no status row) and the flags.
	keys  []int64
	tails []uint32
	pidx  []uint32
	flags []uint8
	// dir[b] is the first card whose hash starts with the bits bits b (as
	// an unsigned number): a look-up searches only that bucket, a few
	// cards (bits grows with the city, up to maxDirBits: about seven cards
	// a bucket at 30 M).
	dir  []uint32
	bits uint
	// Persons in key order and their encoded status (encodeSt).
	pkeys []int64
	st    []int64
}

const (
	maxDirBits = 22
	noPerson   = ^uint32(0)
	// memIndexBytesPerCard and …PerPerson are what the arrays take.
	memIndexBytesPerCard   = 8 + 4 + 4 + 1
	memIndexBytesPerPerson = 8 + 8
)

// bytes is the memory the arrays hold.
func (ix *memIndex) bytes() int64 {
	return int64(len(ix.keys))*memIndexBytesPerCard + int64(len(ix.dir))*4 + int64(len(ix.pkeys))*memIndexBytesPerPerson
}

// card finds h. inFile reports a card the index cannot answer for: the
// row of its first 64 bits belongs to another card (this one is then in
// card_x), or its holder has no status row (the index keeps a holder's
// key only with a status); the file answers those rare ones.
func (ix *memIndex) card(h syncwire.CardHash) (person uint64, flags uint8, st int64, found, inFile bool) {
	u := binary.BigEndian.Uint64(h[0:8])
	k, t := int64(u^1<<63), binary.BigEndian.Uint32(h[8:12])
	b := u >> (64 - ix.bits)
	for i := ix.dir[b]; i < ix.dir[b+1]; i++ {
		if ix.keys[i] != k {
			continue
		}
		pi := ix.pidx[i]
		if ix.tails[i] != t || pi == noPerson {
			return 0, 0, 0, false, true
		}
		return uint64(ix.pkeys[pi]), ix.flags[i], ix.st[pi], true, false
	}
	return 0, 0, 0, false, false
}

// person finds a person's status.
func (ix *memIndex) person(p uint64) (st int64, found bool) {
	i, ok := slices.BinarySearch(ix.pkeys, int64(p))
	if !ok {
		return 0, false
	}
	return ix.st[i], true
}

// buildMemIndex reads the big tables of the file at path, in one read
// transaction of a connection of its own, into a new index.
func buildMemIndex(ctx context.Context, path string, o store.PoolOptions) (*memIndex, error) {
	conn, err := store.OpenRaw(path, o)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.Begin(); err != nil {
		return nil, err
	}
	defer conn.Rollback()
	stmt := func(q string) *store.RawStmt {
		if err != nil {
			return nil
		}
		var s *store.RawStmt
		s, err = conn.Prepare(q)
		return s
	}
	count, persons, cards := stmt(`SELECT (SELECT count(*) FROM card), (SELECT count(*) FROM person)`),
		stmt(`SELECT p, st FROM person ORDER BY p`), stmt(`SELECT k, t, person, flags FROM card ORDER BY k`)
	if err != nil {
		return nil, err
	}
	var n [4]int64
	if _, err := count.QueryRow(nil, n[:2], nil); err != nil {
		return nil, err
	}
	nc, np := int(n[0]), int(n[1])
	if nc >= int(noPerson) || np >= int(noPerson) {
		return nil, fmt.Errorf("memory index: %d cards, %d persons: too many", nc, np)
	}
	ix := &memIndex{
		keys: make([]int64, 0, nc), tails: make([]uint32, 0, nc), pidx: make([]uint32, 0, nc), flags: make([]uint8, 0, nc),
		pkeys: make([]int64, 0, np), st: make([]int64, 0, np)}
	// Every 64 k rows the build looks at ctx and lets other goroutines
	// have its processor: it runs on a low-priority thread, which the
	// kernel may leave waiting while it holds one of the runtime's few
	// processors.
	rows := 0
	cancelled := func() error {
		if rows++; rows%65536 == 0 {
			runtime.Gosched()
			return ctx.Err()
		}
		return nil
	}
	if err := persons.Each(n[:2], func() error {
		ix.pkeys, ix.st = append(ix.pkeys, n[0]), append(ix.st, n[1])
		return cancelled()
	}); err != nil {
		return nil, err
	}
	if err := cards.Each(n[:4], func() error {
		pi := noPerson
		if i, ok := slices.BinarySearch(ix.pkeys, n[2]); ok {
			pi = uint32(i)
		}
		ix.keys, ix.tails, ix.pidx, ix.flags = append(ix.keys, n[0]), append(ix.tails, uint32(n[1])), append(ix.pidx, pi), append(ix.flags, uint8(n[3]))
		return cancelled()
	}); err != nil {
		return nil, err
	}
	if len(ix.keys) != nc || len(ix.pkeys) != np {
		return nil, fmt.Errorf("memory index: read %d cards and %d persons, counted %d and %d", len(ix.keys), len(ix.pkeys), nc, np)
	}
	ix.bits = 1
	for ix.bits < maxDirBits && nc>>ix.bits > 4 {
		ix.bits++
	}
	ix.dir = make([]uint32, 1<<ix.bits+1)
	b := 0
	for i, k := range ix.keys {
		for top := int(uint64(k)>>(64-ix.bits) ^ 1<<(ix.bits-1)); b <= top; b++ {
			ix.dir[b] = uint32(i)
		}
	}
	for ; b <= 1<<ix.bits; b++ {
		ix.dir[b] = uint32(len(ix.keys))
	}
	return ix, nil
}

// IndexStats describe the memory index.
type IndexStats struct {
	Ready          bool          // look-ups use it now
	Cards, Persons int           // what it holds
	Bytes          int64         // the memory its arrays take
	Builds         int64         // indexes built and put in use since open
	LastBuild      time.Duration // how long the last one took
	// Held counts the times a rebuild was put off because, at the rate
	// changes were arriving, a merge would drop the index before it was
	// built (a catch-up).
	Held int64
}

// IndexStats returns the memory index's state.
func (c *Cache) IndexStats() IndexStats {
	c.ixMu.Lock()
	s := c.ixStats
	c.ixMu.Unlock()
	if ix := c.ix.Load(); ix != nil {
		s.Ready, s.Cards, s.Persons, s.Bytes = true, len(ix.keys), len(ix.pkeys), ix.bytes()
	}
	return s
}

// dropIndex stops look-ups using the memory index, before the big tables
// change under it (a merge's end, a repair), and asks for a new one.
func (c *Cache) dropIndex() {
	c.ixMu.Lock()
	c.ix.Store(nil)
	c.ixEpoch++
	c.ixMu.Unlock()
}

// kickIndex asks the indexer for a new index.
func (c *Cache) kickIndex() {
	c.lifeMu.Lock()
	kick := c.ixKick
	c.lifeMu.Unlock()
	if kick == nil {
		return
	}
	select {
	case kick <- struct{}{}:
	default:
	}
}

// indexer builds the memory index whenever it is asked to (at open and
// after every drop), on a low-priority thread, until stop is closed. An
// index is put in use only if nothing dropped the index while it was
// built; otherwise it is built again.
func (c *Cache) indexer(stop <-chan struct{}, kick <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := lowWorker(stop)
	defer cancel()
	var lastTry time.Duration // how long the last build took, put in use or not
	for {
		select {
		case <-stop:
			return
		case <-kick:
		}
		if c.ix.Load() != nil {
			continue
		}
		if err := c.holdIndex(ctx, lastTry); err != nil {
			return
		}
		// The epoch is read before the file is, so a drop at any time
		// after this (a merge ending while the index is read) is seen.
		c.ixMu.Lock()
		epoch := c.ixEpoch
		c.ixMu.Unlock()
		t := time.Now()
		ix, err := buildMemIndex(ctx, c.path, store.PoolOptions{QueryOnly: true, CacheKiB: 2048, MmapSize: -1})
		lastTry = time.Since(t)
		if err != nil {
			if ctx.Err() == nil {
				c.opts.Logger.Warn("gate cache: memory index not built; look-ups read the file", "err", err)
			}
			continue
		}
		c.ixMu.Lock()
		if c.ixEpoch == epoch {
			c.ix.Store(ix)
			c.ixStats.Builds++
			c.ixStats.LastBuild = time.Since(t)
		}
		again := c.ixEpoch != epoch
		c.ixMu.Unlock()
		if again {
			c.kickIndex()
			continue
		}
		c.opts.Logger.Info("gate cache: memory index ready", "cards", len(ix.keys), "persons", len(ix.pkeys), "MiB", ix.bytes()>>20, "took", time.Since(t).Round(time.Millisecond))
	}
}

// indexRateWindow is how long the indexer watches changes arrive before
// it judges whether a merge is due before a new index would be ready.
const indexRateWindow = 2 * time.Second

// holdIndex waits, before a rebuild, while a merge is expected before an
// index built now would be ready. A merge drops the index, so during a
// catch-up (a merge every 20 s at 50,000 changes/s against a 35 s build
// at 30 M cards) every build was thrown away, and its CPU taken from the
// gates' core for nothing; the file answers meanwhile either way. At the
// city's rate the next merge is hours away and the rebuild starts after
// one window. build is how long the last build took (0 at open: no wait).
func (c *Cache) holdIndex(ctx context.Context, build time.Duration) error {
	if build <= 0 {
		return nil
	}
	window := indexRateWindow
	if c.ixTest.window > 0 {
		window = c.ixTest.window
	}
	build = max(build, c.ixTest.buildFloor)
	for {
		a0 := c.ov.added.Load()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		rate := float64(c.ov.added.Load()-a0) / window.Seconds()
		if c.ixTest.rate != nil {
			rate = c.ixTest.rate()
		}
		c.ov.mu.RLock()
		left := int64(c.opts.MergeAt) - c.ov.rows
		c.ov.mu.RUnlock()
		if !mergeBefore(left, rate, build) {
			return nil
		}
		c.ixMu.Lock()
		c.ixStats.Held++
		c.ixMu.Unlock()
	}
}

// mergeBefore reports whether, with left changes to go before a merge and
// changes arriving at rate a second, the merge comes before a build of
// the given length (with half of it again to spare) would end.
func mergeBefore(left int64, rate float64, build time.Duration) bool {
	if rate <= 0 {
		return false
	}
	return float64(max(left, 0))/rate < 1.5*build.Seconds()
}
