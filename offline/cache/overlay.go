package cache

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/offline/syncwire"

	"modernc.org/sqlite/vtab"
)

// The cache is log-structured. An applied change does not rewrite the page
// of the big card or person table its key lives on (a random page of a
// 1 GiB file for every change: about one 4 KiB page per change in the WAL
// and again in the checkpoint). It is appended to the pending table, whose
// pages fill in order, and held in the overlay, an in-memory map that
// look-ups consult first. When MergeAt changes are pending, a merge writes
// them into the big tables in key order, a key range per transaction, so
// each page is written once for all the changes that fall on it; then the
// pending rows go. A day of the city's changes (20 M) costs a few merges
// instead of 20 M page writes.
//
// Invariants (all changes of the overlay and the pending table happen with
// c.wmu held; look-ups only read):
//   - the overlay holds, per key, the newest pending change (the same rows
//     as the pending table, newest per key);
//   - a key's effective row is its overlay entry if any, else its row in
//     the big table;
//   - an overlay entry leaves the map only after the big table holds its
//     value in a committed transaction, so a look-up that misses the
//     overlay and then reads the big table (a read transaction that starts
//     after the miss) sees that value;
//   - only entries at or below the applied sequence are merged. A hot-list
//     change ahead of the segments stays in the overlay until the segments
//     catch up, so an older change of the same key arriving later in a
//     segment is recognised (overlay seq ≥ its seq) and skipped. This is
//     why the big tables need no per-row sequence.

// ovCard is a pending card change (flags carries FlagDeleted for an
// unbinding).
type ovCard struct {
	person uint64
	flags  uint8
	seq    uint64
}

// ovPerson is a pending person change (del: the person row is removed).
type ovPerson struct {
	st  int64
	seq uint64
	del bool
}

type overlay struct {
	// gen counts removals of merged entries. A card look-up reads the big
	// tables before it knows the holder's key, so it checks the holder's
	// overlay entry afterwards; if a removal happened in between, the big
	// table it read may predate the merge, and it looks up again.
	gen     atomic.Uint64
	mu      sync.RWMutex
	cards   map[syncwire.CardHash]ovCard
	persons map[uint64]ovPerson
	rows    int64 // pending table rows (≥ len(cards)+len(persons))
	// added counts the rows ever folded in (never decreases): the rate
	// changes arrive at, which tells when the next merge is due.
	added atomic.Int64
}

func newOverlay() *overlay {
	return &overlay{cards: map[syncwire.CardHash]ovCard{}, persons: map[uint64]ovPerson{}}
}

func (o *overlay) card(h syncwire.CardHash) (ovCard, bool) {
	o.mu.RLock()
	v, ok := o.cards[h]
	o.mu.RUnlock()
	return v, ok
}

func (o *overlay) person(p uint64) (ovPerson, bool) {
	o.mu.RLock()
	v, ok := o.persons[p]
	o.mu.RUnlock()
	return v, ok
}

// pendingRow is one row of the pending table as written by an apply and
// folded into the overlay after its commit.
type pendingRow struct {
	card bool
	h    syncwire.CardHash
	key  uint64 // person key (person rows) or card holder (card rows)
	val  int64  // card flags, or person st (-1: person deleted)
	seq  uint64
}

// overlayBatch is how many entries an overlay update changes per write
// lock, so look-ups interleave with a large segment's update.
const overlayBatch = 256

// add folds committed pending rows into the overlay (newest seq wins).
func (o *overlay) add(rows []pendingRow) {
	defer o.added.Add(int64(len(rows)))
	for i := 0; i < len(rows); i += overlayBatch {
		o.mu.Lock()
		for _, r := range rows[i:min(i+overlayBatch, len(rows))] {
			o.rows++
			if r.card {
				if old, ok := o.cards[r.h]; ok && old.seq >= r.seq {
					continue
				}
				o.cards[r.h] = ovCard{person: r.key, flags: uint8(r.val), seq: r.seq}
			} else {
				if old, ok := o.persons[r.key]; ok && old.seq >= r.seq {
					continue
				}
				o.persons[r.key] = ovPerson{st: max(r.val, 0), seq: r.seq, del: r.val < 0}
			}
		}
		o.mu.Unlock()
	}
}

const pendingSchema = `CREATE TABLE IF NOT EXISTS pending(id INTEGER PRIMARY KEY, h BLOB, p INTEGER NOT NULL, v INTEGER NOT NULL, seq INTEGER NOT NULL);`

// loadOverlay reads the pending table into a new overlay.
func loadOverlay(ctx context.Context, db *sql.DB) (*overlay, error) {
	o := newOverlay()
	rows, err := db.QueryContext(ctx, `SELECT h, p, v, seq FROM pending ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%w: pending: %v", errDamaged, err)
	}
	defer rows.Close()
	var batch []pendingRow
	for rows.Next() {
		var h []byte
		var p, v, seq int64
		if err := rows.Scan(&h, &p, &v, &seq); err != nil {
			return nil, fmt.Errorf("%w: pending row: %v", errDamaged, err)
		}
		r := pendingRow{key: uint64(p), val: v, seq: uint64(seq)}
		if h != nil {
			if len(h) != syncwire.HashSize {
				return nil, fmt.Errorf("%w: pending card hash of %d bytes", errDamaged, len(h))
			}
			r.card = true
			copy(r.h[:], h)
		}
		batch = append(batch, r)
		if len(batch) == 4096 {
			o.add(batch)
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	o.add(batch)
	return o, nil
}

// MergeStats describes the merges of an open cache file.
type MergeStats struct {
	Pending    int64         // changes in the pending table now
	Merges     int64         // merges completed since open
	Merged     int64         // changes written into the big tables since open
	MergeTime  time.Duration // wall time spent merging since open, rests excluded
	MergeRest  time.Duration // time background merges rested between transactions (Options.MergeDuty)
	LastMerge  time.Time
	LastMerged int64
	// LookupBegins counts the read transactions a look-up had to begin
	// itself (a reader's first, or one a repair made stale): each remaps
	// the file inside a gate's answer. Merges and the renewal ticker
	// begin theirs off the look-up path, so this stays near the number
	// of readers.
	LookupBegins int64
}

// MergeStats returns the merge counters.
func (c *Cache) MergeStats() MergeStats {
	c.statsMu.Lock()
	s := c.stats
	c.statsMu.Unlock()
	s.LookupBegins = c.lookupBegins.Load()
	c.mu.RLock()
	if !c.closed {
		c.ov.mu.RLock()
		s.Pending = c.ov.rows
		c.ov.mu.RUnlock()
	}
	c.mu.RUnlock()
	return s
}

// mergeRetry is the pause after a failed merge.
const mergeRetry = time.Minute

// mergeChunk is how many changes one merge transaction writes: one key
// range of the sorted changes, so the write lock is free between chunks
// for segments and the hot list (a chunk takes tens of milliseconds).
const mergeChunk = 20_000

type mergeCard struct {
	h syncwire.CardHash
	ovCard
}

type mergePerson struct {
	p uint64
	ovPerson
}

// Flush merges every pending change at or below the applied sequence into
// the big tables and checkpoints the WAL. The background merger does the
// same on its own once MergeAt changes are pending; Flush is for a clean
// shutdown, tests and measurements.
func (c *Cache) Flush(ctx context.Context) error {
	if err := c.merge(ctx, false); err != nil {
		return err
	}
	return c.Checkpoint(ctx)
}

// merge writes the mergeable overlay entries into the big tables in key
// order, then drops them from the pending table and the overlay. A paced
// merge (the background one) rests after each transaction so that its
// work is Options.MergeDuty of the time.
func (c *Cache) merge(ctx context.Context, paced bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.mergeMu.Lock()
	defer c.mergeMu.Unlock()
	start := time.Now()

	// 1. What to merge: entries at or below the applied sequence, and the
	// pending rows that exist now.
	c.wmu.Lock()
	st, err := readState(ctx, c.w)
	var maxID int64
	if err == nil {
		err = c.w.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM pending`).Scan(&maxID)
	}
	if err != nil {
		c.wmu.Unlock()
		return err
	}
	limit := st.AppliedSeq
	cards := make([]mergeCard, 0, len(c.ov.cards))
	for h, v := range c.ov.cards {
		if v.seq <= limit {
			cards = append(cards, mergeCard{h, v})
		}
	}
	persons := make([]mergePerson, 0, len(c.ov.persons))
	for p, v := range c.ov.persons {
		if v.seq <= limit {
			persons = append(persons, mergePerson{p, v})
		}
	}
	c.wmu.Unlock()
	if maxID == 0 {
		return nil
	}
	slices.SortFunc(cards, func(a, b mergeCard) int { return bytes.Compare(a.h[:], b.h[:]) })
	slices.SortFunc(persons, func(a, b mergePerson) int { return cmp.Compare(a.p, b.p) })

	// 2. Write them, one key range per transaction. A crash here leaves
	// the pending rows in place; the next open reloads them and the next
	// merge writes the same values again.
	var rested time.Duration
	rest := func(work time.Duration) error {
		if !paced || c.opts.MergeDuty >= 1 {
			return nil
		}
		t := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(float64(work) * (1/c.opts.MergeDuty - 1))):
		}
		rested += time.Since(t)
		return nil
	}
	for i := 0; i < len(cards); i += mergeChunk {
		part := cards[i:min(i+mergeChunk, len(cards))]
		t := time.Now()
		if err := c.mergeTx(ctx, func(tx *sql.Tx) error { return c.mergeCards(ctx, tx, part) }); err != nil {
			return err
		}
		if err := rest(time.Since(t)); err != nil {
			return err
		}
	}
	for i := 0; i < len(persons); i += mergeChunk {
		part := persons[i:min(i+mergeChunk, len(persons))]
		t := time.Now()
		if err := c.mergeTx(ctx, func(tx *sql.Tx) error { return c.mergePersons(ctx, tx, part) }); err != nil {
			return err
		}
		if err := rest(time.Since(t)); err != nil {
			return err
		}
	}

	// 3. Patch the memory index; drop the merged pending rows; then the
	// overlay entries that were not replaced meanwhile (their values are
	// committed in the big tables). The patch, and the index with it, are
	// made here, with no lock held (only merges add patches, one at a
	// time).
	patch := newPatch(cards, persons)
	from := c.ix.Load()
	var next *memIndex
	if from != nil && patch.rows() > 0 {
		next = from.with(patch)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// Not cancellable: a statement whose context ends as it completes may
	// report the end although its delete was committed, and the overlay
	// would then keep entries the pending table no longer has.
	res, err := c.w.ExecContext(context.WithoutCancel(ctx), `DELETE FROM pending WHERE id <= ? AND seq <= ?`, maxID, int64(limit))
	if err != nil {
		return fmt.Errorf("merge: drop pending rows: %w", err)
	}
	gone, _ := res.RowsAffected()
	// Move every reader to a read transaction that sees the merged big
	// tables before the overlay entries go, here on the merger's thread,
	// so the remap that follows (cache.go, readRefresh) is not paid
	// inside a gate's look-up; the look-ups then find their reader
	// current for the new generation.
	c.advanceReads(c.ov.gen.Load() + 1)
	// The memory index holds the big tables as they were before this
	// merge: the merge's patch goes on it before the overlay entries go
	// (memindex.go).
	c.patchIndex(from, next, patch)
	c.ov.gen.Add(1)
	for i := 0; i < len(cards); i += overlayBatch {
		c.ov.mu.Lock()
		for _, m := range cards[i:min(i+overlayBatch, len(cards))] {
			if v, ok := c.ov.cards[m.h]; ok && v.seq == m.seq {
				delete(c.ov.cards, m.h)
			}
		}
		c.ov.mu.Unlock()
	}
	for i := 0; i < len(persons); i += overlayBatch {
		c.ov.mu.Lock()
		for _, m := range persons[i:min(i+overlayBatch, len(persons))] {
			if v, ok := c.ov.persons[m.p]; ok && v.seq == m.seq {
				delete(c.ov.persons, m.p)
			}
		}
		c.ov.mu.Unlock()
	}
	c.ov.mu.Lock()
	c.ov.rows -= gone
	c.ov.mu.Unlock()
	c.statsMu.Lock()
	c.stats.Merges++
	c.stats.Merged += int64(len(cards) + len(persons))
	c.stats.MergeTime += time.Since(start) - rested
	c.stats.MergeRest += rested
	c.stats.LastMerge, c.stats.LastMerged = time.Now(), int64(len(cards)+len(persons))
	c.statsMu.Unlock()
	c.opts.Logger.Info("gate cache merge", "changes", len(cards)+len(persons), "pending_rows_dropped", gone, "took", time.Since(start).Round(time.Millisecond), "rested", rested.Round(time.Millisecond))
	return nil
}

func (c *Cache) mergeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	runtime.Gosched()
	return nil
}

// mergeCards writes one key range of card changes: the upserts with one
// INSERT … SELECT and the deletions with one DELETE … IN, each from a Go
// virtual table (gorows.go) rather than a statement per row.
func (c *Cache) mergeCards(ctx context.Context, tx *sql.Tx, part []mergeCard) error {
	var ups, dels []mergeCard
	for _, m := range part {
		if m.flags&syncwire.FlagDeleted != 0 {
			dels = append(dels, m)
		} else {
			ups = append(ups, m)
		}
	}
	if len(ups) > 0 {
		// The common case in one statement: a new key is inserted, a
		// key holding this card is updated; a key holding another
		// card with the same first 64 bits (cardkey.go) is left alone
		// by the WHERE and the shortfall in changed rows sends the
		// part row by row through putCard.
		var changed int64
		err := c.src.cards.execN(ctx, tx, `INSERT INTO card(k, t, person, flags) SELECT k, t, person, flags FROM %s WHERE true
			ON CONFLICT(k) DO UPDATE SET person = excluded.person, flags = excluded.flags WHERE card.t = excluded.t`, len(ups),
			func(i, col int) vtab.Value {
				k, t := cardKey(ups[i].h)
				switch col {
				case 0:
					return k
				case 1:
					return t
				case 2:
					return int64(ups[i].person)
				}
				return int64(ups[i].flags)
			}, &changed)
		if err != nil {
			return err
		}
		if changed != int64(len(ups)) {
			for _, m := range ups {
				if err := putCard(ctx, tx, m.h, m.person, m.flags, false); err != nil {
					return err
				}
			}
		}
	}
	if len(dels) == 0 {
		return nil
	}
	var gone int64
	err := c.src.hashes.execN(ctx, tx, `DELETE FROM card WHERE k IN (SELECT c.k FROM %s d CROSS JOIN card c ON c.k = d.k AND c.t = d.t)`, len(dels),
		func(i, col int) vtab.Value {
			k, t := cardKey(dels[i].h)
			if col == 0 {
				return k
			}
			return t
		}, &gone)
	if err != nil {
		return err
	}
	if gone == int64(len(dels)) {
		return fixCollisions(ctx, tx)
	}
	// Some were not in card (in card_x, or never there): row by row.
	for _, m := range dels {
		if err := delCard(ctx, tx, m.h); err != nil {
			return err
		}
	}
	return nil
}

// mergePersons is mergeCards for person changes.
func (c *Cache) mergePersons(ctx context.Context, tx *sql.Tx, part []mergePerson) error {
	var ups, dels []mergePerson
	for _, m := range part {
		if m.del {
			dels = append(dels, m)
		} else {
			ups = append(ups, m)
		}
	}
	if len(ups) > 0 {
		err := c.src.persons.exec(ctx, tx, `INSERT OR REPLACE INTO person(p, st) SELECT p, st FROM %s`, len(ups),
			func(i, col int) vtab.Value {
				if col == 0 {
					return int64(ups[i].p)
				}
				return ups[i].st
			})
		if err != nil {
			return err
		}
	}
	if len(dels) == 0 {
		return nil
	}
	return c.src.keys.exec(ctx, tx, `DELETE FROM person WHERE p IN (SELECT k FROM %s)`, len(dels),
		func(i, _ int) vtab.Value { return int64(dels[i].p) })
}

// merger runs merges in the background whenever an apply leaves MergeAt or
// more changes pending, and renews readers' old read transactions. It
// stops when stop is closed.
func (c *Cache) merger(stop <-chan struct{}, kick <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := lowWorker(stop)
	defer cancel()
	// Readers keep read transactions open (cache.go, readRefresh); old
	// ones are renewed here, so an idle reader cannot pin the WAL.
	tick := time.NewTicker(readRefresh / 4)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			c.mu.RLock()
			if !c.closed {
				c.renewReads()
			}
			c.mu.RUnlock()
			continue
		case <-kick:
		}
		if err := c.merge(ctx, true); err != nil && ctx.Err() == nil {
			// A disk that is full stays full for a while: wait before the
			// next attempt rather than re-sorting the overlay on every
			// apply. The changes stay pending and answered meanwhile.
			c.opts.Logger.Warn("gate cache merge failed; retrying in a minute", "err", err)
			select {
			case <-stop:
				return
			case <-time.After(mergeRetry):
			}
		}
	}
}

// lowWorker makes the calling goroutine a background worker (the merger,
// the indexer): locked to an OS thread at a lower priority than the gates'
// look-ups (see background; the thread ends with the goroutine), with a
// context that ends when stop is closed.
func lowWorker(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	runtime.LockOSThread()
	lowerThreadPriority()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// kickMerge wakes the merger when enough changes are pending.
func (c *Cache) kickMerge() {
	c.ov.mu.RLock()
	n := c.ov.rows
	c.ov.mu.RUnlock()
	if n < int64(c.opts.MergeAt) || c.kick == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// dropBucket removes a repaired bucket's entries (its pending rows, n of
// them, were deleted in the repair's transaction).
func (o *overlay) dropBucket(kind, bucket int, shift uint, n int64) {
	o.gen.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows -= n
	if kind == 0 {
		for h := range o.cards {
			if syncwire.CardBucket(h) == bucket {
				delete(o.cards, h)
			}
		}
		return
	}
	for p := range o.persons {
		if syncwire.PersonBucket(p, shift) == bucket {
			delete(o.persons, p)
		}
	}
}
