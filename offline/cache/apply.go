package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"stationdesk/app"
	"stationdesk/offline/syncwire"

	"modernc.org/sqlite/vtab"
)

// Applied counts what one apply did.
type Applied struct {
	Upserts int // rows written or deleted
	Skipped int // rows already applied (idempotent re-apply, or a newer hot-list row)
}

// ErrGap is returned when a segment starts after the applied sequence: the
// station missed changes and must catch up from an earlier segment or a
// snapshot.
var ErrGap = app.NewError(app.CodeConflict, "sync_gap", "同步序号不连续", "segment does not follow the applied sequence")

type digestKey struct {
	kind int
	b    int
}

// applier applies rows in one writer transaction. In the normal mode a
// change is appended to the pending table and, after the commit, folded
// into the overlay (overlay.go); in direct mode (bucket repair) it is
// written straight into the big tables. Either way the per-bucket digests
// are updated in the same transaction: the old effective row is folded
// out and the new one in.
type applier struct {
	ctx     context.Context
	tx      *sql.Tx
	shift   uint
	applied uint64 // the applied sequence before this transaction
	ov      *overlay
	direct  bool

	selC, selP *sql.Stmt
	upP, delP  *sql.Stmt // direct mode

	// normal mode: the big tables' rows of a segment's keys, read in one
	// statement before the rows are applied (prefetch)
	src         *applySources
	mainCards   map[syncwire.CardHash]mainCard
	xAny        bool // card_x has rows: a card missing from mainCards may be there
	mainPersons map[uint64]int64

	digests map[digestKey]*syncwire.Digest
	// this transaction's changes, newest per key, for repeated keys
	cards   map[syncwire.CardHash]ovCard
	persons map[uint64]ovPerson
	rows    []pendingRow
	res     Applied

	forceBucket, forceKnd int // direct mode: only rows of this bucket
	yield                 yielder
}

type mainCard struct {
	person uint64
	flags  uint8
}

// applySources are the writer connection's virtual tables (gorows.go):
// the keys an apply reads or a merge deletes, the pending rows an apply
// appends and the rows a merge writes, one statement per segment or key
// range instead of one per row. The writer is one connection, serialised
// by c.wmu, so each source serves one statement at a time.
type applySources struct {
	hashes, keys, pending, cards, persons *goRows
}

func newApplySources() *applySources {
	return &applySources{hashes: newGoRows("k", "t"), keys: newGoRows("k"), pending: newGoRows("h", "p", "v", "seq"),
		cards: newGoRows("k", "t", "person", "flags"), persons: newGoRows("p", "st")}
}

func (s *applySources) release() {
	for _, r := range []*goRows{s.hashes, s.keys, s.pending, s.cards, s.persons} {
		r.release()
	}
}

func newApplier(ctx context.Context, tx *sql.Tx, st State, ov *overlay, src *applySources) (*applier, error) {
	direct := src == nil
	a := &applier{ctx: ctx, tx: tx, shift: st.PersonShift, applied: st.AppliedSeq, ov: ov, direct: direct, src: src,
		digests: map[digestKey]*syncwire.Digest{}, cards: map[syncwire.CardHash]ovCard{}, persons: map[uint64]ovPerson{}, forceBucket: -1}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	a.selC = prep(`SELECT person, flags FROM card WHERE k = ?1 AND t = ?2 UNION ALL SELECT person, flags FROM card_x WHERE k = ?1 AND t = ?2`)
	a.selP = prep(`SELECT st FROM person WHERE p = ?`)
	if direct {
		a.upP = prep(`INSERT OR REPLACE INTO person(p, st) VALUES(?, ?)`)
		a.delP = prep(`DELETE FROM person WHERE p = ?`)
	}
	if err != nil {
		a.close()
	}
	return a, err
}

func (a *applier) close() {
	for _, s := range []*sql.Stmt{a.selC, a.selP, a.upP, a.delP} {
		if s != nil {
			s.Close()
		}
	}
}

func (a *applier) digest(kind, b int) (*syncwire.Digest, error) {
	k := digestKey{kind, b}
	if d, ok := a.digests[k]; ok {
		return d, nil
	}
	d := &syncwire.Digest{}
	var x int64
	err := a.tx.QueryRowContext(a.ctx, `SELECT n, x FROM digest WHERE kind = ? AND b = ?`, kind, b).Scan(&d.N, &x)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	d.X = uint64(x)
	a.digests[k] = d
	return d, nil
}

// skip reports whether a change is already applied: at or below the
// applied sequence, or older than the pending change of the same key (a
// hot-list row that came first).
func (a *applier) skip(seq, pendingSeq uint64, pending bool) bool {
	if a.direct {
		return false
	}
	return seq <= a.applied || pending && pendingSeq >= seq
}

// oldCard returns the effective card row before this change and the seq of
// its pending change (0 when it has none).
func (a *applier) oldCard(h syncwire.CardHash) (c syncwire.Card, found bool, pseq uint64, pending bool, err error) {
	if v, ok := a.cards[h]; ok {
		return syncwire.Card{Hash: h, Person: v.person, Flags: v.flags}, v.flags&syncwire.FlagDeleted == 0, v.seq, true, nil
	}
	if !a.direct {
		if v, ok := a.ov.cards[h]; ok { // c.wmu is held: the overlay cannot change
			return syncwire.Card{Hash: h, Person: v.person, Flags: v.flags}, v.flags&syncwire.FlagDeleted == 0, v.seq, true, nil
		}
		if a.mainCards != nil {
			m, ok := a.mainCards[h]
			if ok || !a.xAny {
				return syncwire.Card{Hash: h, Person: m.person, Flags: m.flags}, ok, 0, false, nil
			}
		}
	}
	var person, flags int64
	k, t := cardKey(h)
	err = a.selC.QueryRowContext(a.ctx, k, t).Scan(&person, &flags)
	if errors.Is(err, sql.ErrNoRows) {
		return syncwire.Card{}, false, 0, false, nil
	}
	return syncwire.Card{Hash: h, Person: uint64(person), Flags: uint8(flags)}, err == nil, 0, false, err
}

func (a *applier) oldPerson(p uint64) (r syncwire.Person, found bool, pseq uint64, pending bool, err error) {
	if v, ok := a.persons[p]; ok {
		return personRow(p, v.st), !v.del, v.seq, true, nil
	}
	if !a.direct {
		if v, ok := a.ov.persons[p]; ok {
			return personRow(p, v.st), !v.del, v.seq, true, nil
		}
		if a.mainPersons != nil {
			st, ok := a.mainPersons[p]
			return personRow(p, st), ok, 0, false, nil
		}
	}
	var st int64
	err = a.selP.QueryRowContext(a.ctx, int64(p)).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return syncwire.Person{}, false, 0, false, nil
	}
	return personRow(p, st), err == nil, 0, false, err
}

func (a *applier) card(r syncwire.Card) error {
	b := syncwire.CardBucket(r.Hash)
	if a.forceBucket >= 0 && (a.forceKnd != 0 || a.forceBucket != b) {
		return nil
	}
	old, found, pseq, pending, err := a.oldCard(r.Hash)
	if err != nil {
		return err
	}
	if a.skip(r.Seq, pseq, pending) {
		a.res.Skipped++
		return nil
	}
	d, err := a.digest(0, b)
	if err != nil {
		return err
	}
	if found {
		d.Remove(syncwire.CardRowHash(old))
	}
	deleted := r.Flags&syncwire.FlagDeleted != 0
	if !deleted {
		d.Add(syncwire.CardRowHash(r))
	}
	a.res.Upserts++
	switch {
	case a.direct && deleted:
		err = delCard(a.ctx, a.tx, r.Hash)
	case a.direct:
		err = putCard(a.ctx, a.tx, r.Hash, r.Person, r.Flags, false)
	default:
		// A deletion stays in the overlay as a tombstone until merged.
		a.rows = append(a.rows, pendingRow{card: true, h: r.Hash, key: r.Person, val: int64(r.Flags), seq: r.Seq})
	}
	a.cards[r.Hash] = ovCard{person: r.Person, flags: r.Flags, seq: r.Seq}
	return err
}

func (a *applier) person(r syncwire.Person) error {
	b := syncwire.PersonBucket(r.Person, a.shift)
	if a.forceBucket >= 0 && (a.forceKnd != 1 || a.forceBucket != b) {
		return nil
	}
	old, found, pseq, pending, err := a.oldPerson(r.Person)
	if err != nil {
		return err
	}
	if a.skip(r.Seq, pseq, pending) {
		a.res.Skipped++
		return nil
	}
	d, err := a.digest(1, b)
	if err != nil {
		return err
	}
	if found {
		d.Remove(syncwire.PersonRowHash(old))
	}
	deleted := r.Flags&syncwire.FlagDeleted != 0
	st := encodeSt(r)
	if deleted {
		st = -1
	} else {
		d.Add(syncwire.PersonRowHash(personRow(r.Person, st)))
	}
	a.res.Upserts++
	switch {
	case a.direct && deleted:
		_, err = a.delP.ExecContext(a.ctx, int64(r.Person))
	case a.direct:
		_, err = a.upP.ExecContext(a.ctx, int64(r.Person), st)
	default:
		a.rows = append(a.rows, pendingRow{key: r.Person, val: st, seq: r.Seq})
	}
	a.persons[r.Person] = ovPerson{st: max(st, 0), seq: r.Seq, del: deleted}
	return err
}

// applyYieldRows is how many rows an apply writes between yields to the
// scheduler. An apply is CPU-bound for up to tens of milliseconds (a
// catch-up segment of 10 k rows) and shares the CPU with the verify
// handlers; without yields a handler made runnable meanwhile waits for the
// runtime's 10 ms preemption. The write lock is held throughout (WAL
// readers do not need it).
const applyYieldRows = 16

type yielder struct{ rows int }

func (y *yielder) row() {
	if y.rows++; y.rows%applyYieldRows == 0 {
		runtime.Gosched()
	}
}

func (a *applier) segment(s syncwire.Segment) error {
	if !a.direct {
		if err := a.prefetch(s); err != nil {
			return fmt.Errorf("read rows to replace: %w", err)
		}
	}
	for _, r := range s.Cards {
		if err := a.card(r); err != nil {
			return fmt.Errorf("apply card row: %w", err)
		}
		a.yield.row()
	}
	for _, r := range s.Persons {
		if err := a.person(r); err != nil {
			return fmt.Errorf("apply person row: %w", err)
		}
		a.yield.row()
	}
	return nil
}

// prefetch reads, in one statement per table, the big tables' rows of the
// segment's keys that have no pending change.
func (a *applier) prefetch(s syncwire.Segment) error {
	a.mainCards, a.mainPersons = map[syncwire.CardHash]mainCard{}, map[uint64]int64{}
	var hs []syncwire.CardHash
	for _, r := range s.Cards {
		if _, ok := a.ov.cards[r.Hash]; !ok && r.Seq > a.applied {
			hs = append(hs, r.Hash)
		}
	}
	var ks []int64
	for _, r := range s.Persons {
		if _, ok := a.ov.persons[r.Person]; !ok && r.Seq > a.applied {
			ks = append(ks, int64(r.Person))
		}
	}
	// CROSS JOIN keeps the key list as the outer loop: one index look-up
	// per key, never a scan of the big table.
	if len(hs) > 0 {
		var err error
		if a.xAny, err = cardXAny(a.ctx, a.tx); err != nil {
			return err
		}
		err = a.src.hashes.query(a.ctx, a.tx, `SELECT c.k, c.t, c.person, c.flags FROM %s k CROSS JOIN card c ON c.k = k.k`, len(hs),
			func(i, _ int) vtab.Value { k, _ := cardKey(hs[i]); return k },
			func(rows *sql.Rows) error {
				var k, t, p, f int64
				if err := rows.Scan(&k, &t, &p, &f); err != nil {
					return err
				}
				// A row of another card with the same 64-bit key is
				// keyed by its own hash, so it is simply not asked for.
				a.mainCards[cardHashOf(k, t)] = mainCard{person: uint64(p), flags: uint8(f)}
				return nil
			})
		if err != nil {
			return err
		}
	}
	if len(ks) > 0 {
		return a.src.keys.query(a.ctx, a.tx, `SELECT p.p, p.st FROM %s k CROSS JOIN person p ON p.p = k.k`, len(ks),
			func(i, _ int) vtab.Value { return ks[i] },
			func(rows *sql.Rows) error {
				var p, st int64
				if err := rows.Scan(&p, &st); err != nil {
					return err
				}
				a.mainPersons[uint64(p)] = st
				return nil
			})
	}
	return nil
}

// appendPending writes the transaction's pending rows in one statement.
func (a *applier) appendPending() error {
	if a.direct || len(a.rows) == 0 {
		return nil
	}
	rows := a.rows
	return a.src.pending.exec(a.ctx, a.tx, `INSERT INTO pending(h, p, v, seq) SELECT h, p, v, seq FROM %s`, len(rows),
		func(i, col int) vtab.Value {
			r := &rows[i]
			switch col {
			case 0:
				if r.card {
					return r.h[:]
				}
				return nil
			case 1:
				return int64(r.key)
			case 2:
				return r.val
			}
			return int64(r.seq)
		})
}

func (a *applier) flushDigests() error {
	for k, d := range a.digests {
		if _, err := a.tx.ExecContext(a.ctx, `INSERT OR REPLACE INTO digest(kind, b, n, x) VALUES(?, ?, ?, ?)`, k.kind, k.b, d.N, int64(d.X)); err != nil {
			return err
		}
	}
	return nil
}

// writeTx runs fn in one writer transaction (BEGIN IMMEDIATE). After the
// commit, with the write lock still held, it runs the callback fn returned
// (the overlay update) and wakes the merger if enough is pending.
func (c *Cache) writeTx(ctx context.Context, fn func(tx *sql.Tx, st State) (func(), error)) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := readState(ctx, tx)
	if err != nil {
		return err
	}
	committed, err := fn(tx, st)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if committed != nil {
		committed()
	}
	c.loadFreshness(ctx)
	c.kickMerge()
	return nil
}

// apply runs segments through an applier in the normal (pending) mode and
// returns the overlay update to run after the commit.
func (c *Cache) apply(ctx context.Context, tx *sql.Tx, st State, segs ...syncwire.Segment) (*applier, func(), error) {
	a, err := newApplier(ctx, tx, st, c.ov, c.src)
	if err != nil {
		return nil, nil, err
	}
	defer a.close()
	n, np := 0, 0
	for _, s := range segs {
		n, np = n+len(s.Cards)+len(s.Persons), np+len(s.Persons)
	}
	// Sized once: a catch-up segment of 10,000 rows otherwise grows the
	// slice and the map by doubling, which was a third of the bytes a
	// catch-up allocates (and so of its garbage collections).
	a.rows = make([]pendingRow, 0, n)
	a.persons = make(map[uint64]ovPerson, np)
	for _, s := range segs {
		if err := a.segment(s); err != nil {
			return nil, nil, err
		}
	}
	if err := a.appendPending(); err != nil {
		return nil, nil, fmt.Errorf("append pending rows: %w", err)
	}
	if err := a.flushDigests(); err != nil {
		return nil, nil, err
	}
	rows := a.rows
	return a, func() { c.ov.add(rows) }, nil
}

// ApplySegment applies a delta segment covering (seg.From, seg.To] in one
// transaction together with the new applied sequence and freshness, so a
// crash leaves either all of it or none. A segment entirely at or below the
// applied sequence is skipped (idempotent); within a segment, rows at or
// below the applied sequence, or older than a hot-list row already applied
// for the same key, are skipped. A segment starting after the applied
// sequence returns ErrGap. fresh may be zero (freshness then stays
// unchanged).
func (c *Cache) ApplySegment(ctx context.Context, seg syncwire.Segment, fresh time.Time) (res Applied, err error) {
	background(func() { res, err = c.applySegment(ctx, seg, fresh) })
	return res, err
}

func (c *Cache) applySegment(ctx context.Context, seg syncwire.Segment, fresh time.Time) (Applied, error) {
	var res Applied
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) (func(), error) {
		if seg.To <= st.AppliedSeq {
			res.Skipped = len(seg.Cards) + len(seg.Persons)
			return nil, nil
		}
		if seg.From > st.AppliedSeq {
			return nil, ErrGap
		}
		a, committed, err := c.apply(ctx, tx, st, seg)
		if err != nil {
			return nil, err
		}
		q := `UPDATE state SET applied_seq = ? WHERE id = 1`
		args := []any{int64(seg.To)}
		if !fresh.IsZero() {
			q = `UPDATE state SET applied_seq = ?, fresh_ms = ? WHERE id = 1`
			args = append(args, fresh.UnixMilli())
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, err
		}
		res = a.res
		return committed, nil
	})
	return res, err
}

// ApplyHot applies hot-list rows (risk-raising changes not yet in a closed
// segment) in one transaction. It does not move the applied sequence (the
// hot list is partial); it records the highest hot seq so digests are only
// compared when no hot row is ahead of the segments.
func (c *Cache) ApplyHot(ctx context.Context, seg syncwire.Segment) (Applied, error) {
	var res Applied
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) (func(), error) {
		a, committed, err := c.apply(ctx, tx, st, seg)
		if err != nil {
			return nil, err
		}
		if seg.To > st.HotSeq {
			if _, err := tx.ExecContext(ctx, `UPDATE state SET hot_seq = ? WHERE id = 1`, int64(seg.To)); err != nil {
				return nil, err
			}
		}
		res = a.res
		return committed, nil
	})
	return res, err
}

// MarkFresh records that everything up to seq is applied as of the manifest
// issued at fresh (used when a manifest brings no new segment). It never
// moves the applied sequence.
func (c *Cache) MarkFresh(ctx context.Context, seq uint64, fresh time.Time) error {
	return c.writeTx(ctx, func(tx *sql.Tx, st State) (func(), error) {
		if st.AppliedSeq < seq {
			return nil, nil
		}
		if !fresh.After(st.FreshAsOf) {
			return nil, nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE state SET fresh_ms = ? WHERE id = 1`, fresh.UnixMilli())
		return nil, err
	})
}

// ErrHotAhead is returned by RepairBucket while hot-list rows are ahead of
// the applied segments (digests are not comparable then).
var ErrHotAhead = errors.New("gate cache: hot-list rows ahead of the segments; repair after they catch up")

// RepairBucket replaces one bucket (kind 0 = cards, 1 = persons) with the
// rows of its snapshot chunk, then re-applies the given later segments
// filtered to that bucket, in one transaction, straight into the big
// tables; the bucket's pending changes are dropped. Used when the bucket's
// digest disagrees with the manifest; other buckets are untouched.
func (c *Cache) RepairBucket(ctx context.Context, kind, bucket int, cards []syncwire.Card, persons []syncwire.Person, later []syncwire.Segment) (Applied, error) {
	var res Applied
	// The repair rewrites the big tables: the memory index goes before
	// its commit, so no look-up reads the old one after it, and again
	// after it, so an index the indexer was building from an earlier
	// snapshot meanwhile is never put in use (memindex.go); then a new
	// one is built.
	defer c.kickIndex()
	defer c.dropIndex()
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) (func(), error) {
		if st.HotSeq > st.AppliedSeq {
			return nil, ErrHotAhead
		}
		c.dropIndex()
		var err error
		var dropped sql.Result
		if kind == 0 {
			klo, khi := cardKeyRange(bucket)
			if _, err = tx.ExecContext(ctx, `DELETE FROM card WHERE k BETWEEN ? AND ?`, klo, khi); err == nil {
				_, err = tx.ExecContext(ctx, `DELETE FROM card_x WHERE k BETWEEN ? AND ?`, klo, khi)
			}
			lo, hi := make([]byte, syncwire.HashSize), make([]byte, syncwire.HashSize)
			lo[0] = byte(bucket)
			switch {
			case err != nil:
			case bucket == syncwire.Buckets-1:
				dropped, err = tx.ExecContext(ctx, `DELETE FROM pending WHERE h >= ?`, lo)
			default:
				hi[0] = byte(bucket + 1)
				dropped, err = tx.ExecContext(ctx, `DELETE FROM pending WHERE h >= ? AND h < ?`, lo, hi)
			}
		} else {
			lo, hi := int64(bucket)<<st.PersonShift, int64(bucket+1)<<st.PersonShift
			if bucket == syncwire.Buckets-1 {
				hi = 1<<63 - 1
			}
			if _, err = tx.ExecContext(ctx, `DELETE FROM person WHERE p >= ? AND p < ?`, lo, hi); err == nil {
				dropped, err = tx.ExecContext(ctx, `DELETE FROM pending WHERE h IS NULL AND p >= ? AND p < ?`, lo, hi)
			}
		}
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO digest(kind, b, n, x) VALUES(?, ?, 0, 0)`, kind, bucket); err != nil {
			return nil, err
		}
		a, err := newApplier(ctx, tx, st, c.ov, nil)
		if err != nil {
			return nil, err
		}
		defer a.close()
		a.forceBucket, a.forceKnd = bucket, kind
		if err := a.segment(syncwire.Segment{Cards: cards, Persons: persons}); err != nil {
			return nil, err
		}
		for _, s := range later {
			if err := a.segment(s); err != nil {
				return nil, err
			}
		}
		if err := a.flushDigests(); err != nil {
			return nil, err
		}
		res = a.res
		n, _ := dropped.RowsAffected()
		return func() { c.ov.dropBucket(kind, bucket, st.PersonShift, n) }, nil
	})
	return res, err
}
