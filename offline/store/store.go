package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"stationdesk/app"
)

// Durability selects PRAGMA synchronous for the writer (docs/storage-privacy.md).
type Durability int

const (
	// DurabilityFull (the zero value) syncs the WAL on every commit: a
	// commit that returned survives a power cut if the disk honours fsync.
	// For the ledger (sales, checks, audit, outbox).
	DurabilityFull Durability = iota
	// DurabilityNormal syncs only at checkpoints: the file never corrupts,
	// but the newest commits may roll back after a power cut. For files
	// that can be rebuilt (the gate cache).
	DurabilityNormal
)

func (d Durability) pragma() string {
	if d == DurabilityNormal {
		return "NORMAL"
	}
	return "FULL"
}

// Options configure Open. The zero value is usable: FULL durability, no
// migrations, 4096-byte pages, 5 s busy timeout, 4 readers, quick_check.
type Options struct {
	Durability Durability
	// Migrations holds files named NNNN_name.sql (four digits, numbered
	// from 0001 without gaps) at its root; typically an embed.FS passed
	// through fs.Sub. Nil means no migrations.
	Migrations fs.FS
	// PageSize is set before WAL is enabled; it only takes effect when the
	// file is created. Default 4096.
	PageSize int
	// BusyTimeout is how long a connection waits for another process's
	// lock before SQLITE_BUSY. Default 5 s.
	BusyTimeout time.Duration
	// ReadConns caps the read-only pool. Default 4.
	ReadConns int
	// IntegrityCheck runs the full PRAGMA integrity_check at open instead
	// of quick_check (slower: it also checks index contents).
	IntegrityCheck bool
	// JournalSizeLimit caps the WAL file left after a checkpoint, bytes.
	// Default 64 MiB.
	JournalSizeLimit int64
	// AfterMigration, when set, runs inside each migration's transaction
	// after its SQL, so work the SQL cannot do (e.g. MACs under a key)
	// commits with the migration or not at all.
	AfterMigration func(ctx context.Context, tx *sql.Tx, version int) error
	Clock          app.Clock
	Logger         *slog.Logger
}

func (o *Options) defaults() {
	if o.PageSize == 0 {
		o.PageSize = 4096
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.JournalSizeLimit == 0 {
		o.JournalSizeLimit = 64 << 20
	}
	if o.Clock == nil {
		o.Clock = app.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// DB is an open SQLite file: one writer connection and a read-only pool.
// It is safe for concurrent use; writes are serialised.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	log    *slog.Logger
}

// Open opens (creating if missing) the SQLite file at path, checks it,
// enables WAL and applies the migrations in opts. See the package comment
// for the pragma order and the error reasons. A damaged file is left
// exactly as it was.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	opts.defaults()
	if opts.PageSize < 512 || opts.PageSize > 65536 || opts.PageSize&(opts.PageSize-1) != 0 {
		return nil, fmt.Errorf("store: page size %d is not a power of two in 512..65536", opts.PageSize)
	}
	migs, err := loadMigrations(opts.Migrations)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	exists, err := checkPath(abs)
	if err != nil {
		return nil, err
	}
	if exists {
		if err := checkExisting(ctx, abs, opts); err != nil {
			return nil, err
		}
	}

	w, err := sql.Open("sqlite", writerDSN(abs, opts))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: abs, writer: w, log: opts.Logger}
	if err := db.initWriter(ctx, opts, exists); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrate(ctx, db, migs, opts.Clock, opts.AfterMigration); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", readerDSN(abs, opts))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s read pool: %w", abs, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, Classify(fmt.Errorf("store: read pool %s: %w", abs, err), abs)
	}
	db.reader = r
	return db, nil
}

// checkPath classifies problems with the folder or the path before SQLite
// sees them (SQLite reports all of them as "unable to open"). It reports
// whether a non-empty database file already exists.
func checkPath(abs string) (exists bool, err error) {
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return false, app.WrapError(err, app.CodeInvalid, ReasonDirMissing,
			fmt.Sprintf("数据文件夹不存在：%s。请检查配置中的数据目录。", dir),
			fmt.Sprintf("Data folder does not exist: %s. Check the data folder in the configuration.", dir))
	}
	st, err = os.Stat(abs)
	switch {
	case err == nil && st.IsDir():
		return false, app.NewError(app.CodeInvalid, ReasonPathIsDir,
			fmt.Sprintf("数据文件路径是一个文件夹：%s。", abs),
			fmt.Sprintf("The database path is a folder: %s.", abs))
	case err == nil:
		exists = st.Size() > 0
	case !errors.Is(err, fs.ErrNotExist):
		return false, errUnwritable(abs, err)
	}
	// SQLite needs to create the file, -wal and -shm beside it; probe the
	// folder (permission bits say nothing for root or read-only mounts).
	f, err := os.CreateTemp(dir, ".stationdesk-probe-*")
	if err != nil {
		return false, errUnwritable(dir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	if exists {
		f, err := os.OpenFile(abs, os.O_RDWR, 0)
		if err != nil {
			return false, errUnwritable(abs, err)
		}
		f.Close()
	}
	return exists, nil
}

func fileURI(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") { // Windows drive paths
		u.Path = "/" + u.Path
	}
	return u.String()
}

func writerDSN(abs string, o Options) string {
	q := url.Values{}
	q.Set("mode", "rwc")
	// busy_timeout is run first by the driver whatever its position; the
	// others are per-connection and order-independent. page_size and
	// journal_mode are deliberately absent (see the package comment).
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_size_limit("+strconv.FormatInt(o.JournalSizeLimit, 10)+")")
	q.Add("_pragma", "synchronous("+o.Durability.pragma()+")")
	q.Set("_txlock", "immediate")
	return fileURI(abs, q)
}

func readerDSN(abs string, o Options) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "query_only(1)")
	return fileURI(abs, q)
}

// checkExisting runs the startup check on a read-only connection, so that
// nothing (not even a checkpoint at close) writes to a file that may be
// damaged.
func checkExisting(ctx context.Context, abs string, o Options) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	db, err := sql.Open("sqlite", fileURI(abs, q))
	if err != nil {
		return fmt.Errorf("store: open %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	err = runCheck(ctx, db, abs, o.IntegrityCheck)
	if err != nil && app.ErrorReason(err) != ReasonDamaged {
		// A read-only connection could not do it (e.g. WAL recovery needs
		// a writer); the writer repeats the check before touching the file.
		o.Logger.Warn("read-only integrity check failed; will check on the writer", "file", abs, "err", err)
		return nil
	}
	return err
}

func runCheck(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, abs string, full bool) error {
	stmt := "PRAGMA quick_check(5)"
	if full {
		stmt = "PRAGMA integrity_check(5)"
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return Classify(fmt.Errorf("store: check %s: %w", abs, err), abs)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return Classify(fmt.Errorf("store: check %s: %w", abs, err), abs)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return Classify(fmt.Errorf("store: check %s: %w", abs, err), abs)
	}
	if len(problems) > 0 {
		return errDamaged(abs, fmt.Errorf("store: %s: %s", stmt, strings.Join(problems, "; ")))
	}
	return nil
}

func (db *DB) initWriter(ctx context.Context, o Options, existed bool) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return Classify(fmt.Errorf("store: open %s: %w", db.path, err), db.path)
	}
	defer conn.Close()
	if existed {
		if err := runCheck(ctx, conn, db.path, o.IntegrityCheck); err != nil {
			return err
		}
	}
	// Order matters: page_size must precede WAL, after which it is fixed.
	if _, err := conn.ExecContext(ctx, "PRAGMA page_size = "+strconv.Itoa(o.PageSize)); err != nil {
		return Classify(fmt.Errorf("store: page_size %s: %w", db.path, err), db.path)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return Classify(fmt.Errorf("store: journal_mode %s: %w", db.path, err), db.path)
	}
	if !strings.EqualFold(mode, "wal") {
		return app.NewError(app.CodeUnavailable, ReasonIO,
			fmt.Sprintf("数据库文件无法使用 WAL 模式（%s）。", db.path),
			fmt.Sprintf("Database file cannot use WAL mode (%s): got %q.", db.path, mode))
	}
	var ps int
	if err := conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil {
		return Classify(fmt.Errorf("store: page_size %s: %w", db.path, err), db.path)
	}
	if ps != o.PageSize {
		db.log.Info("existing database keeps its page size", "file", db.path, "page_size", ps, "wanted", o.PageSize)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Read returns the read-only pool. Statements that write fail with
// SQLITE_READONLY. Safe for concurrent use.
func (db *DB) Read() *sql.DB { return db.reader }

// WriteTx runs fn in one write transaction (BEGIN IMMEDIATE) on the single
// writer connection and commits it if fn returns nil. If fn returns an
// error or panics, the transaction rolls back and nothing of it remains.
// SQLite failures are classified (Classify): SQLITE_FULL comes back as
// CodeUnavailable "disk_full"; fn's own errors come back unchanged.
// Do not call WriteTx from inside fn (the single connection would deadlock).
func (db *DB) WriteTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return Classify(fmt.Errorf("store: begin %s: %w", db.path, err), db.path)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		done = true
		tx.Rollback()
		return Classify(err, db.path)
	}
	done = true
	if err := tx.Commit(); err != nil {
		return Classify(fmt.Errorf("store: commit %s: %w", db.path, err), db.path)
	}
	return nil
}

// Close closes the read pool, then the writer (which checkpoints the WAL).
func (db *DB) Close() error {
	var errs []error
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	errs = append(errs, db.writer.Close())
	return errors.Join(errs...)
}
