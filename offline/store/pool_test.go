package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"stationdesk/offline/store"
)

// TestPoolInitWAL: on a new file InitWAL sets the page size before WAL, so
// both take effect, and the pool's connections carry the DSN settings.
func TestPoolInitWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	w, err := store.OpenPool(path, store.PoolOptions{Immediate: true, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := store.InitWAL(ctx, w, store.WriterSettings{PageSize: 1024, Synchronous: "NORMAL", CacheKiB: 1024, TempStoreMemory: true, JournalSizeLimit: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, "CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int64{"PRAGMA page_size": 1024, "PRAGMA synchronous": 1, "PRAGMA cache_size": -1024, "PRAGMA temp_store": 2, "PRAGMA journal_size_limit": 1 << 20} {
		var got int64
		if err := w.QueryRowContext(ctx, q).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", q, got, err, want)
		}
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	r, err := store.OpenPool(path, store.PoolOptions{QueryOnly: true, CacheKiB: 2048, MmapSize: 1 << 20, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for q, want := range map[string]int64{"PRAGMA query_only": 1, "PRAGMA cache_size": -2048, "PRAGMA mmap_size": 1 << 20, "PRAGMA busy_timeout": 10000} {
		var got int64
		if err := r.QueryRowContext(ctx, q).Scan(&got); err != nil || got != want {
			t.Errorf("reader %s = %d (%v), want %d", q, got, err, want)
		}
	}
	if _, err := r.ExecContext(ctx, "INSERT INTO t VALUES(1)"); err == nil {
		t.Error("a query_only pool accepted a write")
	}
}

// TestIsDamaged: a file that is not a database is recognised by SQLite's
// result code, also through wrapping; other errors are not damage.
func TestIsDamaged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte("this is not an SQLite file, just some text that is long enough to be a header......."), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenPool(path, store.PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
	if err == nil {
		t.Fatal("junk file read as a database")
	}
	if !store.IsDamaged(err) || !store.IsDamaged(errors.Join(errors.New("open cache"), err)) {
		t.Errorf("IsDamaged(%v) = false", err)
	}
	if store.IsDamaged(errors.New("file is not a database")) {
		t.Error("IsDamaged matched an error by its text")
	}
	if store.IsDamaged(nil) {
		t.Error("IsDamaged(nil)")
	}
}
