package cache

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"

	"stationdesk/offline/store"
	"stationdesk/offline/syncwire"

	"modernc.org/sqlite/vtab"
)

// Builder fills a new cache file from key-sorted snapshot chunks while the
// live cache keeps answering gates. Each chunk goes in with its own
// transaction together with a build_done row, so a build killed at any
// point resumes with the chunks not yet recorded, and no chunk is inserted
// twice. The build file carries its build id (snapshot seq and card key);
// a leftover file from another snapshot is discarded.
//
// Writes use synchronous=OFF (an application crash is still safe in WAL
// mode; after a power cut the unfinished build is simply redone: it is
// never served before Finish and the digest check).
type Builder struct {
	path  string
	id    string
	db    *sql.DB
	shift uint
	cardD [syncwire.Buckets]syncwire.Digest
	persD [syncwire.Buckets]syncwire.Digest
	done  map[string]int64
	// chunk sources for INSERT … SELECT (one each; used from the
	// builder's goroutine only)
	cardRows, personRows *goRows
}

// OpenBuilder opens or creates the build file at path for the snapshot
// identified by buildID (any string that changes when the snapshot or the
// card key changes).
func OpenBuilder(ctx context.Context, path, buildID, cardKeyID string, personShift uint, opts Options) (*Builder, error) {
	opts.defaults()
	b := &Builder{path: path, id: buildID, shift: personShift, done: map[string]int64{}}
	for attempt := 0; attempt < 2; attempt++ {
		db, err := store.OpenPool(path, writerPool())
		if err != nil {
			return nil, err
		}
		err = initFile(ctx, db, opts.PageSize, "OFF")
		var st State
		if err == nil {
			st, err = readState(ctx, db)
		}
		if err == nil && (st.BuildID == buildID || st.BuildID == "" && st.SnapshotSeq == 0 && st.AppliedSeq == 0) {
			if st.BuildID == "" {
				_, err = db.ExecContext(ctx, `UPDATE state SET build_id = ?, card_key_id = ?, person_shift = ? WHERE id = 1`, buildID, cardKeyID, int64(personShift))
			}
			if err == nil {
				b.db = db
				break
			}
		}
		db.Close()
		if attempt == 1 {
			return nil, fmt.Errorf("open build file: %v", err)
		}
		// Another snapshot's leftovers, or a damaged file: start over.
		for _, s := range []string{"", "-wal", "-shm"} {
			if rerr := os.Remove(path + s); rerr != nil && !os.IsNotExist(rerr) {
				return nil, rerr
			}
		}
	}
	for _, p := range []string{"PRAGMA cache_size=-262144", "PRAGMA synchronous=OFF"} {
		if _, err := b.db.ExecContext(ctx, p); err != nil {
			b.db.Close()
			return nil, err
		}
	}
	rows, err := b.db.QueryContext(ctx, `SELECT name, rows FROM build_done`)
	if err != nil {
		b.db.Close()
		return nil, err
	}
	for rows.Next() {
		var n string
		var r int64
		if err := rows.Scan(&n, &r); err != nil {
			rows.Close()
			b.db.Close()
			return nil, err
		}
		b.done[n] = r
	}
	rows.Close()
	b.cardD, b.persD, err = readDigests(ctx, b.db)
	if err != nil {
		b.db.Close()
		return nil, err
	}
	b.cardRows, b.personRows = newGoRows("k", "t", "person", "flags"), newGoRows("p", "st")
	return b, nil
}

// Done reports whether the named chunk is already in the file.
func (b *Builder) Done(name string) bool { _, ok := b.done[name]; return ok }

// Rows returns the number of rows inserted so far (including earlier runs).
func (b *Builder) Rows() int64 {
	var n int64
	for _, r := range b.done {
		n += r
	}
	return n
}

// AddCards inserts one chunk of key-sorted card rows (deleted rows are not
// expected in a snapshot and are skipped) with one INSERT … SELECT from the
// chunk in memory (gorows.go): no statement per row or per 100 rows.
func (b *Builder) AddCards(ctx context.Context, name string, rows []syncwire.Card) error {
	if b.Done(name) {
		return nil
	}
	rows = slices.DeleteFunc(slices.Clone(rows), func(r syncwire.Card) bool { return r.Flags&syncwire.FlagDeleted != 0 })
	return b.chunkTx(ctx, name, int64(len(rows)), func(tx *sql.Tx) error {
		var touched [syncwire.Buckets]syncwire.Digest
		var touchedAny [syncwire.Buckets]bool
		for _, r := range rows {
			bk := syncwire.CardBucket(r.Hash)
			touched[bk].Add(syncwire.CardRowHash(r))
			touchedAny[bk] = true
		}
		// One INSERT OR IGNORE … SELECT; a row it skipped shares its
		// 64-bit key with a card already in (cardkey.go) or is a
		// duplicate, both found row by row only then.
		var inserted int64
		err := b.cardRows.execN(ctx, tx, `INSERT OR IGNORE INTO card(k, t, person, flags) SELECT k, t, person, flags FROM %s`, len(rows),
			func(i, col int) vtab.Value {
				switch col {
				case 0:
					k, _ := cardKey(rows[i].Hash)
					return k
				case 1:
					_, t := cardKey(rows[i].Hash)
					return t
				case 2:
					return int64(rows[i].Person)
				}
				return int64(rows[i].Flags)
			}, &inserted)
		if err != nil {
			return err
		}
		if inserted != int64(len(rows)) {
			if err := b.addCollisions(ctx, tx, rows); err != nil {
				return err
			}
		}
		return b.writeDigests(ctx, tx, 0, &b.cardD, &touched, &touchedAny)
	})
}

// addCollisions finds the rows of a chunk the bulk insert skipped and puts
// them into card_x, or fails on a duplicate hash.
func (b *Builder) addCollisions(ctx context.Context, tx *sql.Tx, rows []syncwire.Card) error {
	seen := make(map[syncwire.CardHash]bool, len(rows))
	for _, r := range rows {
		if seen[r.Hash] {
			return fmt.Errorf("%w in the chunk", errDuplicateCard)
		}
		seen[r.Hash] = true
		k, t := cardKey(r.Hash)
		var have, person, flags int64
		if err := tx.QueryRowContext(ctx, `SELECT t, person, flags FROM card WHERE k = ?`, k).Scan(&have, &person, &flags); err != nil {
			return err
		}
		if have == t {
			continue // the bulk insert's own row, or a duplicate caught by seen
		}
		if err := putCard(ctx, tx, r.Hash, r.Person, r.Flags, true); err != nil {
			return err
		}
	}
	return nil
}

// AddPersons inserts one chunk of key-sorted person rows.
func (b *Builder) AddPersons(ctx context.Context, name string, rows []syncwire.Person) error {
	if b.Done(name) {
		return nil
	}
	rows = slices.DeleteFunc(slices.Clone(rows), func(r syncwire.Person) bool { return r.Flags&syncwire.FlagDeleted != 0 })
	return b.chunkTx(ctx, name, int64(len(rows)), func(tx *sql.Tx) error {
		var touched [syncwire.Buckets]syncwire.Digest
		var touchedAny [syncwire.Buckets]bool
		for _, r := range rows {
			bk := syncwire.PersonBucket(r.Person, b.shift)
			touched[bk].Add(syncwire.PersonRowHash(r))
			touchedAny[bk] = true
		}
		err := b.personRows.exec(ctx, tx, `INSERT INTO person(p, st) SELECT p, st FROM %s`, len(rows),
			func(i, col int) vtab.Value {
				if col == 0 {
					return int64(rows[i].Person)
				}
				return encodeSt(rows[i])
			})
		if err != nil {
			return err
		}
		return b.writeDigests(ctx, tx, 1, &b.persD, &touched, &touchedAny)
	})
}

// writeDigests folds a chunk's digests into the running ones, in the
// chunk's transaction; the in-memory copy is updated only after commit
// (chunkTx reloads on failure by reopening).
func (b *Builder) writeDigests(ctx context.Context, tx *sql.Tx, kind int, cur, add *[syncwire.Buckets]syncwire.Digest, any *[syncwire.Buckets]bool) error {
	for i := range add {
		if !any[i] {
			continue
		}
		d := cur[i]
		d.N += add[i].N
		d.X ^= add[i].X
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO digest(kind, b, n, x) VALUES(?, ?, ?, ?)`, kind, i, d.N, int64(d.X)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Builder) chunkTx(ctx context.Context, name string, rows int64, fn func(tx *sql.Tx) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("build chunk %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO build_done(name, rows) VALUES(?, ?)`, name, rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Committed: reload the running digests from the file (cheap: ≤ 512 rows).
	b.cardD, b.persD, err = readDigests(ctx, b.db)
	b.done[name] = rows
	return err
}

// Digests returns the digests of what has been built so far.
func (b *Builder) Digests() (cards, persons [syncwire.Buckets]syncwire.Digest) {
	return b.cardD, b.persD
}

// Finish marks the file as a complete snapshot at snapshotSeq (applied
// sequence = snapshotSeq), checkpoints and closes it. The file can then be
// opened with Open, brought up to date with ApplySegment and swapped in
// with (*Cache).Swap.
func (b *Builder) Finish(ctx context.Context, snapshotSeq uint64) error {
	defer b.Close()
	if _, err := b.db.ExecContext(ctx, `UPDATE state SET applied_seq = ?, snapshot_seq = ?, build_id = '', hot_seq = 0, fresh_ms = 0 WHERE id = 1`, int64(snapshotSeq), int64(snapshotSeq)); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `DELETE FROM build_done`); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `PRAGMA synchronous=FULL`); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return nil
}

// Close closes the build file without finishing (it stays for resuming).
func (b *Builder) Close() error {
	if b.db == nil {
		return nil
	}
	b.cardRows.release()
	b.personRows.release()
	err := b.db.Close()
	b.db = nil
	return err
}
