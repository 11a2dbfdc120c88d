package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// rawFile makes a WAL file with a small table through a pool, as the gate
// cache does before opening its raw readers.
func rawFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := OpenPool(path, PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := InitWAL(ctx, db, WriterSettings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER, s TEXT);
		INSERT INTO t VALUES(1, 10, 'a'), (2, NULL, 'b'), (-5, -50, 'c')`); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRawConnQueriesIntegers(t *testing.T) {
	path := rawFile(t)
	c, err := OpenRaw(path, PoolOptions{QueryOnly: true, CacheKiB: 1024, MmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Prepare(`SELECT v, k FROM t WHERE k = ?`)
	if err != nil {
		t.Fatal(err)
	}
	dest, null := make([]int64, 2), make([]bool, 2)
	for _, tc := range []struct {
		k        int64
		found    bool
		v        int64
		nullV    bool
		wantRows int64
	}{{1, true, 10, false, 1}, {2, true, 0, true, 2}, {-5, true, -50, false, -5}, {3, false, 0, false, 0}} {
		dest[0], dest[1] = 99, 99
		found, err := st.QueryRow([]int64{tc.k}, dest, null)
		if err != nil || found != tc.found {
			t.Fatalf("k=%d: found %v err %v, want found %v", tc.k, found, err, tc.found)
		}
		if found && (dest[0] != tc.v || null[0] != tc.nullV || dest[1] != tc.wantRows || null[1]) {
			t.Fatalf("k=%d: got %v null %v", tc.k, dest, null)
		}
	}
	// A NULL without a null slice, and a text column, are errors, and the
	// statement is usable afterwards.
	if _, err := st.QueryRow([]int64{2}, dest, nil); !errors.Is(err, ErrRawColumn) {
		t.Fatalf("NULL with no null slice: %v", err)
	}
	txt, err := c.Prepare(`SELECT s FROM t WHERE k = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txt.QueryRow([]int64{1}, dest[:1], null[:1]); !errors.Is(err, ErrRawColumn) {
		t.Fatalf("text column: %v", err)
	}
	if found, err := st.QueryRow([]int64{1}, dest, null); err != nil || !found || dest[0] != 10 {
		t.Fatalf("after errors: %v %v %v", found, err, dest)
	}
	// Wrong argument or column counts are refused, not read past.
	if _, err := st.QueryRow(nil, dest, null); err == nil {
		t.Fatal("missing argument accepted")
	}
	if _, err := st.QueryRow([]int64{1}, make([]int64, 3), make([]bool, 3)); err == nil {
		t.Fatal("three columns read from a two-column statement")
	}
	// query_only holds.
	w, err := c.Prepare(`DELETE FROM t WHERE k = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.QueryRow([]int64{1}, nil, nil); err == nil {
		t.Fatal("a write went through a query-only raw connection")
	}
}

// TestRawConnReadSnapshot: between Begin and Rollback the connection reads
// the snapshot it began with; a commit by another connection shows after.
func TestRawConnReadSnapshot(t *testing.T) {
	path := rawFile(t)
	c, err := OpenRaw(path, PoolOptions{QueryOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Prepare(`SELECT v FROM t WHERE k = 1`)
	if err != nil {
		t.Fatal(err)
	}
	w, err := OpenPool(path, PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	read := func() int64 {
		t.Helper()
		d := []int64{0}
		if found, err := st.QueryRow(nil, d, nil); err != nil || !found {
			t.Fatalf("read: %v %v", found, err)
		}
		return d[0]
	}
	if err := c.Begin(); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != 10 {
		t.Fatalf("v=%d", v)
	}
	if _, err := w.Exec(`UPDATE t SET v = 11 WHERE k = 1`); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != 10 {
		t.Fatalf("inside the read transaction v=%d, want the snapshot's 10", v)
	}
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != 11 {
		t.Fatalf("after the read transaction v=%d, want 11", v)
	}
	if err := c.Rollback(); err != nil {
		t.Fatalf("a second Rollback: %v", err)
	}
}

func TestRawConnErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenRaw(filepath.Join(dir, "missing.db"), PoolOptions{}); SQLiteCode(err) != sqlite3.SQLITE_CANTOPEN {
		t.Fatalf("missing file: %v (code %d)", err, SQLiteCode(err))
	}
	path := rawFile(t)
	c, err := OpenRaw(path, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(`SELEC v FROM t`); SQLiteCode(err) != sqlite3.SQLITE_ERROR {
		t.Fatalf("bad SQL: %v", err)
	}
	st, err := c.Prepare(`SELECT v FROM t WHERE k = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := st.QueryRow([]int64{1}, []int64{0}, nil); !errors.Is(err, ErrRawClosed) {
		t.Fatalf("query after close: %v", err)
	}
	if _, err := c.Prepare(`SELECT 1`); !errors.Is(err, ErrRawClosed) {
		t.Fatalf("prepare after close: %v", err)
	}
	if err := c.Begin(); !errors.Is(err, ErrRawClosed) {
		t.Fatalf("begin after close: %v", err)
	}

	// Garbage where the header was: the open or the first read says the
	// file is not a database, and IsDamaged reads that off the RawError.
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, append([]byte("this is not an SQLite file at all"), make([]byte, 8192)...), 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := OpenRaw(bad, PoolOptions{})
	if err == nil {
		defer c2.Close()
		_, err = c2.Prepare(`SELECT 1 FROM sqlite_master`)
	}
	if !IsDamaged(err) {
		t.Fatalf("garbage file: %v, want a damaged-file error", err)
	}
}

// TestRawStmtEach: a scan hands every row's integer columns to fn in
// order, stops at a NULL or text column with ErrRawColumn and at fn's own
// error, and leaves the statement usable.
func TestRawStmtEach(t *testing.T) {
	c, err := OpenRaw(rawFile(t), PoolOptions{QueryOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.Prepare(`SELECT k, k * 2 FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	dest := make([]int64, 2)
	scan := func() error {
		got = nil
		return keys.Each(dest, func() error { got = append(got, dest[0], dest[1]); return nil })
	}
	if err := scan(); err != nil || len(got) != 6 || got[0] != -5 || got[1] != -10 || got[4] != 2 || got[5] != 4 {
		t.Fatalf("scan: %v %v", got, err)
	}
	stop := errors.New("enough")
	n := 0
	if err := keys.Each(dest, func() error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn's error: %v after %d rows", err, n)
	}
	if err := scan(); err != nil || len(got) != 6 {
		t.Fatalf("scan after a stop: %v %v", got, err)
	}
	vals, err := c.Prepare(`SELECT v FROM t ORDER BY k`) // k=2 has a NULL v
	if err != nil {
		t.Fatal(err)
	}
	if err := vals.Each(dest[:1], func() error { return nil }); !errors.Is(err, ErrRawColumn) {
		t.Fatalf("NULL column: %v", err)
	}
	byKey, err := c.Prepare(`SELECT v FROM t WHERE k = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if err := byKey.Each(dest[:1], func() error { return nil }); err == nil {
		t.Fatal("a statement with a parameter was scanned")
	}
}
