package cache

import (
	"context"
	"database/sql"
	"errors"
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
// The card and person tables are not inserted into: while chunks come in
// key order, their rows go into leaf pages written beside the file
// (pagewriter.go), one file per table, and Finish puts those B-trees into
// the file. A chunk's transaction records how many leaf pages the table
// has with that chunk, so a resumed build cuts off what a chunk that did
// not commit wrote. A chunk that does not follow the table's last key (a
// manifest in another order, a duplicate of an earlier chunk's card)
// first attaches the pages written so far, and the table is then built
// with statements to the end.
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
	// leaf writers of the card and person tables (tblCard, tblPerson);
	// nil once the table is built with statements
	tw [2]*tableWriter
	// chunk sources for INSERT … SELECT (one each; used from the
	// builder's goroutine only)
	cardRows, personRows *goRows
}

const (
	tblCard   = 0
	tblPerson = 1
	// build_pages row of an attach in progress: a build found with it was
	// killed while its file was being written outside SQLite, and starts
	// over.
	tblAttaching = 2
)

var tableNames = [2]string{"card", "person"}

// leafPath is where the leaves of table t are written during a build.
func leafPath(path string, t int) string { return path + "-" + tableNames[t] + ".pages" }

// removeBuild deletes a build file and its leaf files.
func removeBuild(path string) error {
	if err := removeFile(path); err != nil {
		return err
	}
	for t := range tableNames {
		if err := os.Remove(leafPath(path, t)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// errStartOver: the build file cannot be resumed (another snapshot's,
// damaged, or killed while attaching its pages).
var errStartOver = errors.New("build file cannot be resumed")

// OpenBuilder opens or creates the build file at path for the snapshot
// identified by buildID (any string that changes when the snapshot or the
// card key changes).
func OpenBuilder(ctx context.Context, path, buildID, cardKeyID string, personShift uint, opts Options) (*Builder, error) {
	opts.defaults()
	for attempt := 0; ; attempt++ {
		b, err := openBuilder(ctx, path, buildID, cardKeyID, personShift, opts)
		if err == nil {
			return b, nil
		}
		if attempt == 1 || !errors.Is(err, errStartOver) {
			return nil, fmt.Errorf("open build file: %w", err)
		}
		// Another snapshot's leftovers, or a damaged file: start over.
		if rerr := removeBuild(path); rerr != nil {
			return nil, rerr
		}
	}
}

func openBuilder(ctx context.Context, path, buildID, cardKeyID string, personShift uint, opts Options) (*Builder, error) {
	b := &Builder{path: path, id: buildID, shift: personShift, done: map[string]int64{}}
	db, err := openBuildDB(ctx, path, opts.PageSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStartOver, err)
	}
	b.db = db
	fail := func(err error) (*Builder, error) {
		b.Close()
		return nil, err
	}
	st, err := readState(ctx, db)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errStartOver, err))
	}
	if st.BuildID != buildID && (st.BuildID != "" || st.SnapshotSeq != 0 || st.AppliedSeq != 0) {
		return fail(fmt.Errorf("%w: build %q found", errStartOver, st.BuildID))
	}
	if st.BuildID == "" {
		if _, err := db.ExecContext(ctx, `UPDATE state SET build_id = ?, card_key_id = ?, person_shift = ? WHERE id = 1`, buildID, cardKeyID, int64(personShift)); err != nil {
			return fail(err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT name, rows FROM build_done`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var n string
		var r int64
		if err := rows.Scan(&n, &r); err != nil {
			rows.Close()
			return fail(err)
		}
		b.done[n] = r
	}
	rows.Close()
	b.cardD, b.persD, err = readDigests(ctx, db)
	if err != nil {
		return fail(err)
	}
	pages := map[int]int64{}
	rows, err = db.QueryContext(ctx, `SELECT tbl, pages FROM build_pages`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var t, n int64
		if err := rows.Scan(&t, &n); err != nil {
			rows.Close()
			return fail(err)
		}
		pages[int(t)] = n
	}
	rows.Close()
	if _, ok := pages[tblAttaching]; ok {
		return fail(fmt.Errorf("%w: killed while attaching its pages", errStartOver))
	}
	var pageSize int
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return fail(err)
	}
	for t, name := range tableNames {
		n, ok := pages[t]
		if !ok {
			// A build begun by statements (an older version) goes on so.
			var any bool
			if err := db.QueryRowContext(ctx, `SELECT EXISTS(SELECT 1 FROM `+name+`)`).Scan(&any); err != nil {
				return fail(err)
			}
			if any {
				n = -1
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO build_pages(tbl, pages) VALUES(?, ?)`, t, n); err != nil {
				return fail(err)
			}
		}
		if n < 0 {
			continue
		}
		tw, err := openTableWriter(leafPath(path, t), pageSize, int(n))
		if err != nil {
			return fail(fmt.Errorf("%w: %w", errStartOver, err))
		}
		b.tw[t] = tw
	}
	b.cardRows, b.personRows = newGoRows("k", "t", "person", "flags"), newGoRows("p", "st")
	return b, nil
}

// openBuildDB opens the build file's writer: the cache schema plus
// build_pages, synchronous=OFF and a large page cache.
func openBuildDB(ctx context.Context, path string, pageSize int) (*sql.DB, error) {
	db, err := store.OpenPool(path, writerPool())
	if err != nil {
		return nil, err
	}
	err = initFile(ctx, db, pageSize, "OFF")
	for _, q := range []string{"PRAGMA cache_size=-262144", "PRAGMA synchronous=OFF",
		`CREATE TABLE IF NOT EXISTS build_pages(tbl INTEGER PRIMARY KEY, pages INTEGER NOT NULL)`} {
		if err != nil {
			break
		}
		_, err = db.ExecContext(ctx, q)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
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

// AddCards adds one chunk of key-sorted card rows (deleted rows are not
// expected in a snapshot and are skipped): to the card table's leaf pages
// when it follows the rows before it, else with one INSERT … SELECT from
// the chunk in memory (gorows.go).
func (b *Builder) AddCards(ctx context.Context, name string, rows []syncwire.Card) error {
	if b.Done(name) {
		return nil
	}
	rows = slices.DeleteFunc(slices.Clone(rows), func(r syncwire.Card) bool { return r.Flags&syncwire.FlagDeleted != 0 })
	var touched [syncwire.Buckets]syncwire.Digest
	var touchedAny [syncwire.Buckets]bool
	for _, r := range rows {
		bk := syncwire.CardBucket(r.Hash)
		touched[bk].Add(syncwire.CardRowHash(r))
		touchedAny[bk] = true
	}
	if tw := b.tw[tblCard]; tw != nil {
		twins, inOrder, err := cardRun(tw, rows)
		if err != nil {
			return fmt.Errorf("build chunk %s: %w", name, err)
		}
		if inOrder {
			return b.addPages(ctx, name, tblCard, int64(len(rows)), func() error {
				next := 0 // index into twins
				for i, r := range rows {
					if next < len(twins) && twins[next] == i {
						next++
						continue
					}
					k, t := cardKey(r.Hash)
					if err := tw.add(k, t, int64(r.Person), int64(r.Flags)); err != nil {
						return err
					}
				}
				return nil
			}, func(tx *sql.Tx) error {
				// A card whose 64-bit key the card before it holds goes
				// into card_x (cardkey.go).
				for _, i := range twins {
					k, t := cardKey(rows[i].Hash)
					if _, err := tx.ExecContext(ctx, `INSERT INTO card_x(k, t, person, flags) VALUES(?, ?, ?, ?)`, k, t, int64(rows[i].Person), int64(rows[i].Flags)); err != nil {
						return err
					}
				}
				return b.writeDigests(ctx, tx, 0, &b.cardD, &touched, &touchedAny)
			})
		}
		// Out of order: the pages so far go in, the rest by statements.
		if err := b.attach(ctx, tblCard); err != nil {
			return err
		}
	}
	return b.chunkTx(ctx, name, int64(len(rows)), func(tx *sql.Tx) error {
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

// cardRun checks a chunk for the leaf pages: inOrder when its keys follow
// the table's last key and each other; twins are the indexes of the cards
// whose 64-bit key the card before them in the chunk has (for card_x).
// Two equal hashes are a duplicate, refused.
func cardRun(tw *tableWriter, rows []syncwire.Card) (twins []int, inOrder bool, err error) {
	var pk, pt int64
	for i, r := range rows {
		k, t := cardKey(r.Hash)
		if i == 0 {
			if !tw.after(k) {
				return nil, false, nil
			}
			pk, pt = k, t
			continue
		}
		switch {
		case k == pk && t == pt:
			return nil, false, fmt.Errorf("%w in the chunk", errDuplicateCard)
		case k == pk && t > pt:
			twins = append(twins, i)
		case k <= pk:
			return nil, false, nil
		}
		pk, pt = k, t
	}
	return twins, true, nil
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

// AddPersons adds one chunk of key-sorted person rows, to the person
// table's leaf pages when it follows the rows before it.
func (b *Builder) AddPersons(ctx context.Context, name string, rows []syncwire.Person) error {
	if b.Done(name) {
		return nil
	}
	rows = slices.DeleteFunc(slices.Clone(rows), func(r syncwire.Person) bool { return r.Flags&syncwire.FlagDeleted != 0 })
	var touched [syncwire.Buckets]syncwire.Digest
	var touchedAny [syncwire.Buckets]bool
	for _, r := range rows {
		bk := syncwire.PersonBucket(r.Person, b.shift)
		touched[bk].Add(syncwire.PersonRowHash(r))
		touchedAny[bk] = true
	}
	digests := func(tx *sql.Tx) error { return b.writeDigests(ctx, tx, 1, &b.persD, &touched, &touchedAny) }
	if tw := b.tw[tblPerson]; tw != nil {
		inOrder := true
		for i, r := range rows {
			p := int64(r.Person)
			if i == 0 && !tw.after(p) || i > 0 && p <= int64(rows[i-1].Person) {
				inOrder = false
				break
			}
		}
		if inOrder {
			return b.addPages(ctx, name, tblPerson, int64(len(rows)), func() error {
				for _, r := range rows {
					if err := tw.add(int64(r.Person), encodeSt(r)); err != nil {
						return err
					}
				}
				return nil
			}, digests)
		}
		if err := b.attach(ctx, tblPerson); err != nil {
			return err
		}
	}
	return b.chunkTx(ctx, name, int64(len(rows)), func(tx *sql.Tx) error {
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
		return digests(tx)
	})
}

// addPages writes a chunk's rows to table t's leaf pages (write), then
// commits the chunk with fn and the table's new page count; if either
// fails, the pages written for the chunk are cut off again.
func (b *Builder) addPages(ctx context.Context, name string, t int, rows int64, write func() error, fn func(tx *sql.Tx) error) error {
	tw := b.tw[t]
	start := tw.pages()
	err := write()
	if err == nil {
		err = tw.commit()
	}
	if err == nil {
		err = b.chunkTx(ctx, name, rows, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE build_pages SET pages = ? WHERE tbl = ?`, tw.pages(), t); err != nil {
				return err
			}
			return fn(tx)
		})
	} else {
		err = fmt.Errorf("build chunk %s: %w", name, err)
	}
	if err != nil {
		if rerr := tw.rollback(start); rerr != nil {
			// The leaf file may hold pages the build did not record:
			// stop here; the next OpenBuilder cuts them off.
			return errors.Join(err, rerr, b.Close())
		}
	}
	return err
}

// attach puts the leaf pages of tables ts into the file (pagewriter.go):
// with SQLite's connection closed and the WAL checkpointed into the file,
// it appends their B-trees, writes their root pages and the header, then
// opens the file again. A build killed meanwhile finds the tblAttaching
// row and starts over; one that fails here is closed (its leaf writers
// are half-way), and the next OpenBuilder takes it from what it recorded.
func (b *Builder) attach(ctx context.Context, ts ...int) (err error) {
	if b.db == nil {
		return errBuildClosed
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.Close())
		}
	}()
	roots := make([]uint32, len(ts))
	for i, t := range ts {
		if b.tw[t] == nil {
			return fmt.Errorf("attach %s: no pages", tableNames[t])
		}
		if err := b.tw[t].close(); err != nil {
			return err
		}
		var r int64
		if err := b.db.QueryRowContext(ctx, `SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?`, tableNames[t]).Scan(&r); err != nil {
			return err
		}
		roots[i] = uint32(r)
	}
	if _, err := b.db.ExecContext(ctx, `INSERT OR REPLACE INTO build_pages(tbl, pages) VALUES(?, 0)`, tblAttaching); err != nil {
		return err
	}
	var busy, logged, moved int
	if err := b.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved); err != nil || busy != 0 {
		return fmt.Errorf("attach pages: checkpoint: busy %d, %v", busy, err)
	}
	if err := b.db.Close(); err != nil {
		return err
	}
	b.db = nil
	if err := b.writeTrees(ts, roots); err != nil {
		return fmt.Errorf("attach pages: %w", err)
	}
	db, err := openBuildDB(ctx, b.path, 0)
	if err != nil {
		return err
	}
	b.db = db
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range ts {
		if _, err := tx.ExecContext(ctx, `UPDATE build_pages SET pages = -1 WHERE tbl = ?`, t); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM build_pages WHERE tbl = ?`, tblAttaching); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, t := range ts {
		if err := b.tw[t].remove(); err != nil {
			return err
		}
		b.tw[t] = nil
	}
	return nil
}

func (b *Builder) writeTrees(ts []int, roots []uint32) error {
	f, err := os.OpenFile(b.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := readDBHeader(f)
	if err != nil {
		return err
	}
	for i, t := range ts {
		if h.pageSize != b.tw[t].pageSize {
			return fmt.Errorf("%s pages of %d bytes, file of %d", tableNames[t], b.tw[t].pageSize, h.pageSize)
		}
		if err := attachTree(f, &h, roots[i], b.tw[t].path, b.tw[t].maxKeys); err != nil {
			return err
		}
	}
	if err := writeDBHeader(f, &h); err != nil {
		return err
	}
	return f.Close()
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

// errBuildClosed: the builder closed its file for an attach that failed;
// the next OpenBuilder starts the build over.
var errBuildClosed = errors.New("build file closed after a failed attach of its pages")

func (b *Builder) chunkTx(ctx context.Context, name string, rows int64, fn func(tx *sql.Tx) error) error {
	if b.db == nil {
		return errBuildClosed
	}
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
	var ts []int
	for t := range b.tw {
		if b.tw[t] != nil {
			ts = append(ts, t)
		}
	}
	if len(ts) > 0 {
		if err := b.attach(ctx, ts...); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM build_done`, `DROP TABLE build_pages`, `PRAGMA synchronous=FULL`} {
		if _, err := b.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE state SET applied_seq = ?, snapshot_seq = ?, build_id = '', hot_seq = 0, fresh_ms = 0 WHERE id = 1`, int64(snapshotSeq), int64(snapshotSeq)); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return nil
}

// Close closes the build file without finishing (it stays for resuming).
func (b *Builder) Close() error {
	var err error
	for t := range b.tw {
		if b.tw[t] != nil {
			err = errors.Join(err, b.tw[t].close())
			b.tw[t] = nil
		}
	}
	if b.cardRows != nil {
		b.cardRows.release()
		b.personRows.release()
	}
	if b.db != nil {
		err = errors.Join(err, b.db.Close())
		b.db = nil
	}
	return err
}
