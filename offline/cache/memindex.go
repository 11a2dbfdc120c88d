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
// statement through SQLite's C API"). The arrays hold what the big tables
// held when the indexer read them and are never changed. What a merge
// writes into the big tables afterwards goes on top of them as a patch
// (ixPatch): the merge puts a new index in use, the same arrays with its
// patch added, before it drops its changes from the overlay, so the index
// stays in use through merges, and through a catch-up. The overlay stays in
// front of it, as it stays in front of the file. Once the patches hold
// many changes the indexer reads the arrays again, when no merge is near
// (holdIndex). A repair or a swap rewrites the big tables outside a merge:
// it drops the index, and until the indexer has built a new one the
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
	// patches are the merges since the arrays were read, oldest first
	// (with): a look-up reads them newest first, before the arrays.
	patches []*ixPatch
}

// ixPatch is what one or more merges wrote into the big tables: per card
// its holder and flags (FlagDeleted: unbound), per person the status or
// its removal.
type ixPatch struct {
	cards   map[syncwire.CardHash]patchCard
	persons map[uint64]patchPerson
}

type patchCard struct {
	person uint64
	flags  uint8
}

type patchPerson struct {
	st  int64
	del bool
}

// rows is how many changes the patch holds.
func (p *ixPatch) rows() int { return len(p.cards) + len(p.persons) }

// newPatch is the patch of one merge's changes.
func newPatch(cards []mergeCard, persons []mergePerson) *ixPatch {
	p := &ixPatch{cards: make(map[syncwire.CardHash]patchCard, len(cards)), persons: make(map[uint64]patchPerson, len(persons))}
	for _, m := range cards {
		p.cards[m.h] = patchCard{m.person, m.flags}
	}
	for _, m := range persons {
		p.persons[m.p] = patchPerson{m.st, m.del}
	}
	return p
}

// foldPatches is one patch holding older with newer on top.
func foldPatches(older, newer *ixPatch) *ixPatch {
	p := &ixPatch{cards: make(map[syncwire.CardHash]patchCard, len(older.cards)+len(newer.cards)),
		persons: make(map[uint64]patchPerson, len(older.persons)+len(newer.persons))}
	for _, q := range []*ixPatch{older, newer} {
		for h, v := range q.cards {
			p.cards[h] = v
		}
		for k, v := range q.persons {
			p.persons[k] = v
		}
	}
	return p
}

// with returns a new index: ix's arrays and patches with p on top. ix is
// not changed (look-ups may be reading it). Patches are folded so that
// each is larger than the next newer one, as the digits of a binary
// counter: a catch-up of m merges leaves at most about log2(m) patches for
// a look-up to read, and each change is copied about log2(m) times.
func (ix *memIndex) with(p *ixPatch) *memIndex {
	n := *ix
	n.patches = append(slices.Clip(ix.patches), p)
	for k := len(n.patches); k >= 2 && n.patches[k-2].rows() <= n.patches[k-1].rows(); k = len(n.patches) {
		n.patches = append(n.patches[:k-2:k-2], foldPatches(n.patches[k-2], n.patches[k-1]))
	}
	return &n
}

// patchRows is how many changes the patches hold.
func (ix *memIndex) patchRows() int {
	n := 0
	for _, p := range ix.patches {
		n += p.rows()
	}
	return n
}

const (
	maxDirBits = 22
	noPerson   = ^uint32(0)
	// memIndexBytesPerCard and …PerPerson are what the arrays take.
	memIndexBytesPerCard   = 8 + 4 + 4 + 1
	memIndexBytesPerPerson = 8 + 8
)

// patchBytesPerRow is about what a patch entry takes (a map slot of key
// and value, at the maps' usual load).
const patchBytesPerRow = 40

// bytes is about the memory the arrays and patches hold.
func (ix *memIndex) bytes() int64 {
	return int64(len(ix.keys))*memIndexBytesPerCard + int64(len(ix.dir))*4 + int64(len(ix.pkeys))*memIndexBytesPerPerson +
		int64(ix.patchRows())*patchBytesPerRow
}

// card finds h: its holder, flags and, when hasSt, the holder's status.
// inFile reports a card the index cannot answer for: the row of its first
// 64 bits belongs to another card (this one is then in card_x), or its
// holder had no status row when the arrays were read (the arrays keep a
// holder's key only with a status); the file answers those rare ones.
func (ix *memIndex) card(h syncwire.CardHash) (person uint64, flags uint8, st int64, hasSt, found, inFile bool) {
	for i := len(ix.patches) - 1; i >= 0; i-- {
		if pc, ok := ix.patches[i].cards[h]; ok {
			if pc.flags&syncwire.FlagDeleted != 0 {
				return 0, 0, 0, false, false, false
			}
			st, hasSt = ix.person(pc.person)
			return pc.person, pc.flags, st, hasSt, true, false
		}
	}
	u := binary.BigEndian.Uint64(h[0:8])
	k, t := int64(u^1<<63), binary.BigEndian.Uint32(h[8:12])
	b := u >> (64 - ix.bits)
	for i := ix.dir[b]; i < ix.dir[b+1]; i++ {
		if ix.keys[i] != k {
			continue
		}
		pi := ix.pidx[i]
		if ix.tails[i] != t || pi == noPerson {
			return 0, 0, 0, false, false, true
		}
		person, st, hasSt = uint64(ix.pkeys[pi]), ix.st[pi], true
		if pp, ok := ix.patchedPerson(person); ok {
			st, hasSt = pp.st, !pp.del
		}
		return person, ix.flags[i], st, hasSt, true, false
	}
	return 0, 0, 0, false, false, false
}

// patchedPerson is a person's newest patch entry, if any.
func (ix *memIndex) patchedPerson(p uint64) (patchPerson, bool) {
	for i := len(ix.patches) - 1; i >= 0; i-- {
		if pp, ok := ix.patches[i].persons[p]; ok {
			return pp, true
		}
	}
	return patchPerson{}, false
}

// person finds a person's status.
func (ix *memIndex) person(p uint64) (st int64, found bool) {
	if pp, ok := ix.patchedPerson(p); ok {
		return pp.st, !pp.del
	}
	i, ok := slices.BinarySearch(ix.pkeys, int64(p))
	if !ok {
		return 0, false
	}
	return ix.st[i], true
}

// buildMemIndex reads the big tables of the file at path, in one read
// transaction of a connection of its own, into a new index. read, if not
// nil, is called once the transaction has its snapshot of the file (tests).
func buildMemIndex(ctx context.Context, path string, o store.PoolOptions, read func()) (*memIndex, error) {
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
	if read != nil {
		read()
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
	Cards, Persons int           // what its arrays hold
	Bytes          int64         // about the memory its arrays and patches take
	Builds         int64         // arrays read and put in use since open
	LastBuild      time.Duration // how long the last read took
	// Patches and PatchRows are the merges' patches on top of the arrays
	// and the changes they hold; Patched counts the merges that patched
	// the index in use instead of dropping it.
	Patches, PatchRows int
	Patched            int64
	// Held counts the times a rebuild of patched arrays was put off
	// because, at the rate changes were arriving, a merge was due before
	// it would be done (a catch-up: the CPU is the gates').
	Held int64
}

// IndexStats returns the memory index's state.
func (c *Cache) IndexStats() IndexStats {
	c.ixMu.Lock()
	s := c.ixStats
	c.ixMu.Unlock()
	if ix := c.ix.Load(); ix != nil {
		s.Ready, s.Cards, s.Persons, s.Bytes = true, len(ix.keys), len(ix.pkeys), ix.bytes()
		s.Patches, s.PatchRows = len(ix.patches), ix.patchRows()
	}
	return s
}

// dropIndex stops look-ups using the memory index, before the big tables
// change under it outside a merge (a repair, a swap, closing); the caller
// asks for a new one.
func (c *Cache) dropIndex() {
	c.ixMu.Lock()
	c.ix.Store(nil)
	c.ixEpoch++
	c.ixSince = nil
	c.ixMu.Unlock()
}

// patchIndex puts in use the index with a merge's changes on top, once
// they are committed in the big tables and before the overlay drops them
// (overlay.go, merge): next is the index in use when the merge ended
// (from) with p added, made by the caller outside the locks. An arrays
// read under way gets p too, for the index it will put in use. When the
// patches have grown to the rebuild size, the indexer is asked to read
// the arrays again.
func (c *Cache) patchIndex(from, next *memIndex, p *ixPatch) {
	if p.rows() == 0 {
		return
	}
	c.ixMu.Lock()
	if c.ixBuilding {
		c.ixSince = append(c.ixSince, p)
	}
	cur := c.ix.Load()
	if cur != nil && cur != from {
		next = cur.with(p) // the indexer put new arrays in use meanwhile
	}
	if cur != nil {
		c.ix.Store(next)
		c.ixStats.Patched++
	}
	c.ixMu.Unlock()
	if cur != nil && next.patchRows() >= c.rebuildAt() {
		c.kickIndex()
	}
}

// rebuildAt is the patch size at which the indexer reads the arrays again:
// four merges' worth (some 160 MB of patches at the default MergeAt).
func (c *Cache) rebuildAt() int {
	if c.ixTest.rebuildAt > 0 {
		return c.ixTest.rebuildAt
	}
	return 4 * c.opts.MergeAt
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

// indexer reads the arrays of the memory index whenever it is asked to: at
// open, after a drop (at once: the file answers meanwhile) and when the
// patches have grown to rebuildAt (once no merge is near, holdIndex; the
// patched index answers meanwhile), on a low-priority thread, until stop
// is closed. The merges that end while the arrays are read patch the new
// index before it is put in use. It is put in use only if nothing dropped
// the index meanwhile; otherwise it is read again.
func (c *Cache) indexer(stop <-chan struct{}, kick <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := lowWorker(stop)
	defer cancel()
	var lastTry time.Duration // how long the last read took, put in use or not
	for {
		select {
		case <-stop:
			return
		case <-kick:
		}
		if cur := c.ix.Load(); cur != nil {
			if cur.patchRows() < c.rebuildAt() {
				continue
			}
			if err := c.holdIndex(ctx, lastTry); err != nil {
				return
			}
		}
		// The epoch is read, and patches collected, before the file is
		// read: a drop at any time after this is seen, and a merge that
		// ends meanwhile is patched onto the new arrays (its changes may
		// or may not be in what is read; the patch holds their values
		// either way).
		c.ixMu.Lock()
		epoch := c.ixEpoch
		c.ixBuilding, c.ixSince = true, nil
		c.ixMu.Unlock()
		t := time.Now()
		ix, err := buildMemIndex(ctx, c.path, store.PoolOptions{QueryOnly: true, CacheKiB: 2048, MmapSize: -1}, c.ixTest.read)
		lastTry = time.Since(t)
		c.ixMu.Lock()
		since := c.ixSince
		c.ixBuilding, c.ixSince = false, nil
		again := err == nil && c.ixEpoch != epoch
		if err == nil && !again {
			for _, p := range since {
				ix = ix.with(p)
			}
			c.ix.Store(ix)
			c.ixStats.Builds++
			c.ixStats.LastBuild = lastTry
		}
		c.ixMu.Unlock()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				c.opts.Logger.Warn("gate cache: memory index not built; look-ups read the file", "err", err)
			}
		case again:
			c.kickIndex()
		default:
			c.opts.Logger.Info("gate cache: memory index ready", "cards", len(ix.keys), "persons", len(ix.pkeys), "merges_patched", len(since), "MiB", ix.bytes()>>20, "took", lastTry.Round(time.Millisecond))
		}
	}
}

// indexRateWindow is how long the indexer watches changes arrive before
// it judges whether a merge is due before a new index would be ready.
const indexRateWindow = 2 * time.Second

// holdIndex waits, before a rebuild of patched arrays, while a merge is
// expected before the rebuild would be done: during a catch-up (a merge
// every 20 s at 50,000 changes/s against a 35 s read at 30 M cards) the
// CPU is the gates', and the patched index answers meanwhile. At the
// city's rate the next merge is hours away and the rebuild starts after
// one window. build is how long the last read took (0: no wait). A
// catch-up so long that the patches reach four times the rebuild size
// (some 640 MB at the default MergeAt) is not waited out any longer.
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
		if ix := c.ix.Load(); ix == nil || ix.patchRows() >= 4*c.rebuildAt() || !mergeBefore(left, rate, build) {
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
