package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// PoolOptions describe a raw connection pool opened with OpenPool, for a
// file whose owner manages its connections itself instead of through Open:
// the gate cache, whose single writer holds BEGIN IMMEDIATE transactions and
// whose readers keep a read transaction open across look-ups and are sized
// for a 1 GiB file. Zero values take the defaults noted.
type PoolOptions struct {
	// BusyTimeout is how long a connection waits for another connection's
	// lock (default 10 s). The driver always runs it first.
	BusyTimeout time.Duration
	// Immediate makes every transaction BEGIN IMMEDIATE (the writer), so a
	// write never fails on a lock upgrade.
	Immediate bool
	// QueryOnly refuses writes on every connection (PRAGMA query_only).
	QueryOnly bool
	// CacheKiB is each connection's page cache (PRAGMA cache_size=-N); 0
	// leaves SQLite's default.
	CacheKiB int
	// MmapSize maps up to this many bytes of the file (PRAGMA mmap_size); 0
	// leaves SQLite's default (off).
	MmapSize int64
	// MaxConns caps the pool (SetMaxOpenConns and SetMaxIdleConns); 0 means
	// no cap. Connections are never closed for age.
	MaxConns int
}

// PoolDSN is the data source name OpenPool uses; callers that open extra
// driver connections of the same kind (db.Driver().Open) pass it.
func PoolDSN(path string, o PoolOptions) string {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	q := url.Values{}
	// The driver runs busy_timeout first and the other _pragma values in
	// lexicographic order; all of these are per-connection, so the order
	// does not matter. page_size and journal_mode are never put here (see
	// the package comment): InitWAL sets them in the right order.
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	if o.CacheKiB > 0 {
		q.Add("_pragma", "cache_size(-"+strconv.Itoa(o.CacheKiB)+")")
	}
	if o.MmapSize > 0 {
		q.Add("_pragma", "mmap_size("+strconv.FormatInt(o.MmapSize, 10)+")")
	}
	if o.QueryOnly {
		q.Add("_pragma", "query_only(1)")
	}
	if o.Immediate {
		q.Set("_txlock", "immediate")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fileURI(abs, q)
}

// OpenPool opens a pool on the SQLite file at path with o. Like sql.Open it
// does not touch the file; the first statement does.
func OpenPool(path string, o PoolOptions) (*sql.DB, error) {
	db, err := sql.Open("sqlite", PoolDSN(path, o))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	if o.MaxConns > 0 {
		db.SetMaxOpenConns(o.MaxConns)
		db.SetMaxIdleConns(o.MaxConns)
	}
	db.SetConnMaxLifetime(0)
	return db, nil
}

// WriterSettings are the writer connection's settings InitWAL applies.
type WriterSettings struct {
	// PageSize is set before WAL is enabled; SQLite applies it only to a
	// new, empty file. 0 leaves the file's page size.
	PageSize int
	// Synchronous is OFF, NORMAL or FULL (default FULL).
	Synchronous string
	// CacheKiB is the writer's page cache (0: SQLite's default).
	CacheKiB int
	// TempStoreMemory keeps sorts and temporary tables in memory.
	TempStoreMemory bool
	// JournalSizeLimit truncates the WAL back to this many bytes after a
	// checkpoint (0: no limit).
	JournalSizeLimit int64
}

// InitWAL applies s on a pool capped at one connection (the writer): the
// page size first, then journal_mode=WAL (checked), then the
// per-connection settings — the order the package comment explains.
func InitWAL(ctx context.Context, db *sql.DB, s WriterSettings) error {
	if s.PageSize > 0 {
		if _, err := db.ExecContext(ctx, "PRAGMA page_size="+strconv.Itoa(s.PageSize)); err != nil {
			return fmt.Errorf("page_size: %w", err)
		}
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("PRAGMA journal_mode=WAL: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	if s.Synchronous == "" {
		s.Synchronous = "FULL"
	}
	ps := []string{"PRAGMA synchronous=" + s.Synchronous}
	if s.CacheKiB > 0 {
		ps = append(ps, "PRAGMA cache_size=-"+strconv.Itoa(s.CacheKiB))
	}
	if s.TempStoreMemory {
		ps = append(ps, "PRAGMA temp_store=MEMORY")
	}
	if s.JournalSizeLimit > 0 {
		ps = append(ps, "PRAGMA journal_size_limit="+strconv.FormatInt(s.JournalSizeLimit, 10))
	}
	for _, p := range ps {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// IsDamaged reports whether err is SQLite saying the file is damaged or not
// a database at all (SQLITE_CORRUPT, SQLITE_NOTADB), by result code.
func IsDamaged(err error) bool {
	c := SQLiteCode(err)
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}
