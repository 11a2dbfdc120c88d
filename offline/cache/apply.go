package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"stationdesk/app"
	"stationdesk/offline/syncpub/wire"
)

// Applied counts what one apply did.
type Applied struct {
	Upserts int // rows written or deleted
	Skipped int // rows already at this seq or newer (idempotent re-apply)
}

// ErrGap is returned when a segment starts after the applied sequence: the
// station missed changes and must catch up from an earlier segment or a
// snapshot.
var ErrGap = app.NewError(app.CodeConflict, "sync_gap", "同步序号不连续", "segment does not follow the applied sequence")

type digestKey struct {
	kind int
	b    int
}

type applier struct {
	ctx                   context.Context
	tx                    *sql.Tx
	shift                 uint
	selC, upC, delC       *sql.Stmt
	selP, upP, delP       *sql.Stmt
	digests               map[digestKey]*wire.Digest
	res                   Applied
	forceBucket, forceKnd int // repair: only rows of this bucket (-1 = all)
	yield                 yielder
}

func newApplier(ctx context.Context, tx *sql.Tx, shift uint) (*applier, error) {
	a := &applier{ctx: ctx, tx: tx, shift: shift, digests: map[digestKey]*wire.Digest{}, forceBucket: -1}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	a.selC = prep(`SELECT person, flags, seq FROM card WHERE h = ?`)
	a.upC = prep(`INSERT OR REPLACE INTO card(h, person, flags, seq) VALUES(?, ?, ?, ?)`)
	a.delC = prep(`DELETE FROM card WHERE h = ?`)
	a.selP = prep(`SELECT st, seq FROM person WHERE p = ?`)
	a.upP = prep(`INSERT OR REPLACE INTO person(p, st, seq) VALUES(?, ?, ?)`)
	a.delP = prep(`DELETE FROM person WHERE p = ?`)
	return a, err
}

func (a *applier) close() {
	for _, s := range []*sql.Stmt{a.selC, a.upC, a.delC, a.selP, a.upP, a.delP} {
		if s != nil {
			s.Close()
		}
	}
}

func (a *applier) digest(kind, b int) (*wire.Digest, error) {
	k := digestKey{kind, b}
	if d, ok := a.digests[k]; ok {
		return d, nil
	}
	d := &wire.Digest{}
	var x int64
	err := a.tx.QueryRowContext(a.ctx, `SELECT n, x FROM digest WHERE kind = ? AND b = ?`, kind, b).Scan(&d.N, &x)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	d.X = uint64(x)
	a.digests[k] = d
	return d, nil
}

func (a *applier) card(r wire.Card) error {
	b := wire.CardBucket(r.Hash)
	if a.forceBucket >= 0 && (a.forceKnd != 0 || a.forceBucket != b) {
		return nil
	}
	var person, flags, seq int64
	err := a.selC.QueryRowContext(a.ctx, r.Hash[:]).Scan(&person, &flags, &seq)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if found && uint64(seq) >= r.Seq {
		a.res.Skipped++
		return nil
	}
	d, err := a.digest(0, b)
	if err != nil {
		return err
	}
	if found {
		d.Remove(wire.CardRowHash(wire.Card{Hash: r.Hash, Person: uint64(person), Flags: uint8(flags), Seq: uint64(seq)}))
	}
	if r.Flags&wire.FlagDeleted != 0 {
		if found {
			if _, err := a.delC.ExecContext(a.ctx, r.Hash[:]); err != nil {
				return err
			}
		}
		// A deleted row leaves no tombstone: a later re-apply of an older
		// upsert is prevented by segment ordering (applied_seq), and the
		// hot list carries only risk-raising upserts.
		a.res.Upserts++
		return nil
	}
	if _, err := a.upC.ExecContext(a.ctx, r.Hash[:], int64(r.Person), int64(r.Flags), int64(r.Seq)); err != nil {
		return err
	}
	d.Add(wire.CardRowHash(r))
	a.res.Upserts++
	return nil
}

func (a *applier) person(r wire.Person) error {
	b := wire.PersonBucket(r.Person, a.shift)
	if a.forceBucket >= 0 && (a.forceKnd != 1 || a.forceBucket != b) {
		return nil
	}
	var st, seq int64
	err := a.selP.QueryRowContext(a.ctx, int64(r.Person)).Scan(&st, &seq)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if found && uint64(seq) >= r.Seq {
		a.res.Skipped++
		return nil
	}
	d, err := a.digest(1, b)
	if err != nil {
		return err
	}
	if found {
		d.Remove(wire.PersonRowHash(wire.Person{Person: r.Person, Color: uint8(st & 3), TestMin: uint32(st >> 2), Seq: uint64(seq)}))
	}
	if r.Flags&wire.FlagDeleted != 0 {
		if found {
			if _, err := a.delP.ExecContext(a.ctx, int64(r.Person)); err != nil {
				return err
			}
		}
		a.res.Upserts++
		return nil
	}
	if _, err := a.upP.ExecContext(a.ctx, int64(r.Person), encodeSt(r), int64(r.Seq)); err != nil {
		return err
	}
	d.Add(wire.PersonRowHash(r))
	a.res.Upserts++
	return nil
}

// applyYieldRows is how many rows an apply writes between yields to the
// scheduler. An apply is CPU-bound for up to hundreds of milliseconds (a
// catch-up segment of 10 k rows) and shares the CPU with the verify
// handlers; without yields a handler made runnable meanwhile waits for the
// runtime's 10 ms preemption. The write lock is held throughout (WAL
// readers do not need it). SQLite's commit and checkpoint of a large
// segment still run as one stretch.
const applyYieldRows = 16

type yielder struct{ rows int }

func (y *yielder) row() {
	if y.rows++; y.rows%applyYieldRows == 0 {
		runtime.Gosched()
	}
}

func (a *applier) segment(s wire.Segment) error {
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

func (a *applier) flushDigests() error {
	for k, d := range a.digests {
		if _, err := a.tx.ExecContext(a.ctx, `INSERT OR REPLACE INTO digest(kind, b, n, x) VALUES(?, ?, ?, ?)`, k.kind, k.b, d.N, int64(d.X)); err != nil {
			return err
		}
	}
	return nil
}

// writeTx runs fn in one writer transaction (BEGIN IMMEDIATE).
func (c *Cache) writeTx(ctx context.Context, fn func(tx *sql.Tx, st State) error) error {
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
	if err := fn(tx, st); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.loadFreshness(ctx)
	return nil
}

// ApplySegment applies a delta segment covering (seg.From, seg.To] in one
// transaction together with the new applied sequence and freshness, so a
// crash leaves either all of it or none. A segment entirely at or below the
// applied sequence is skipped (idempotent); rows are written only when
// their seq is newer than the stored row's (so the hot list and segments
// may overlap). A segment starting after the applied sequence returns
// ErrGap. fresh may be zero (freshness then stays unchanged).
func (c *Cache) ApplySegment(ctx context.Context, seg wire.Segment, fresh time.Time) (Applied, error) {
	var res Applied
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) error {
		if seg.To <= st.AppliedSeq {
			res.Skipped = len(seg.Cards) + len(seg.Persons)
			return nil
		}
		if seg.From > st.AppliedSeq {
			return ErrGap
		}
		a, err := newApplier(ctx, tx, st.PersonShift)
		if err != nil {
			return err
		}
		defer a.close()
		if err := a.segment(seg); err != nil {
			return err
		}
		if err := a.flushDigests(); err != nil {
			return err
		}
		q := `UPDATE state SET applied_seq = ? WHERE id = 1`
		args := []any{int64(seg.To)}
		if !fresh.IsZero() {
			q = `UPDATE state SET applied_seq = ?, fresh_ms = ? WHERE id = 1`
			args = append(args, fresh.UnixMilli())
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		res = a.res
		return nil
	})
	return res, err
}

// ApplyHot applies hot-list rows (risk-raising changes not yet in a closed
// segment) in one transaction. It does not move the applied sequence (the
// hot list is partial); it records the highest hot seq so digests are only
// compared when no hot row is ahead of the segments.
func (c *Cache) ApplyHot(ctx context.Context, seg wire.Segment) (Applied, error) {
	var res Applied
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) error {
		a, err := newApplier(ctx, tx, st.PersonShift)
		if err != nil {
			return err
		}
		defer a.close()
		if err := a.segment(seg); err != nil {
			return err
		}
		if err := a.flushDigests(); err != nil {
			return err
		}
		if seg.To > st.HotSeq {
			if _, err := tx.ExecContext(ctx, `UPDATE state SET hot_seq = ? WHERE id = 1`, int64(seg.To)); err != nil {
				return err
			}
		}
		res = a.res
		return nil
	})
	return res, err
}

// MarkFresh records that everything up to seq is applied as of the manifest
// issued at fresh (used when a manifest brings no new segment). It never
// moves the applied sequence.
func (c *Cache) MarkFresh(ctx context.Context, seq uint64, fresh time.Time) error {
	return c.writeTx(ctx, func(tx *sql.Tx, st State) error {
		if st.AppliedSeq < seq {
			return nil
		}
		if !fresh.After(st.FreshAsOf) {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE state SET fresh_ms = ? WHERE id = 1`, fresh.UnixMilli())
		return err
	})
}

// RepairBucket replaces one bucket (kind 0 = cards, 1 = persons) with the
// rows of its snapshot chunk, then re-applies the given later segments
// filtered to that bucket, in one transaction. Used when the bucket's
// digest disagrees with the manifest; other buckets are untouched.
func (c *Cache) RepairBucket(ctx context.Context, kind, bucket int, cards []wire.Card, persons []wire.Person, later []wire.Segment) (Applied, error) {
	var res Applied
	err := c.writeTx(ctx, func(tx *sql.Tx, st State) error {
		if kind == 0 {
			lo := make([]byte, wire.HashSize)
			lo[0] = byte(bucket)
			var err error
			if bucket == wire.Buckets-1 {
				_, err = tx.ExecContext(ctx, `DELETE FROM card WHERE h >= ?`, lo)
			} else {
				hi := make([]byte, wire.HashSize)
				hi[0] = byte(bucket + 1)
				_, err = tx.ExecContext(ctx, `DELETE FROM card WHERE h >= ? AND h < ?`, lo, hi)
			}
			if err != nil {
				return err
			}
		} else {
			lo := int64(bucket) << st.PersonShift
			var err error
			if bucket == wire.Buckets-1 {
				_, err = tx.ExecContext(ctx, `DELETE FROM person WHERE p >= ?`, lo)
			} else {
				_, err = tx.ExecContext(ctx, `DELETE FROM person WHERE p >= ? AND p < ?`, lo, int64(bucket+1)<<st.PersonShift)
			}
			if err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO digest(kind, b, n, x) VALUES(?, ?, 0, 0)`, kind, bucket); err != nil {
			return err
		}
		a, err := newApplier(ctx, tx, st.PersonShift)
		if err != nil {
			return err
		}
		defer a.close()
		a.forceBucket, a.forceKnd = bucket, kind
		if err := a.segment(wire.Segment{Cards: cards, Persons: persons}); err != nil {
			return err
		}
		for _, s := range later {
			if err := a.segment(s); err != nil {
				return err
			}
		}
		res = a.res
		return a.flushDigests()
	})
	return res, err
}
