package ledger

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded ledger migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// FileName is the ledger's file name inside the data folder.
const FileName = "ledger.db"

// Options configure a Ledger. Zero values take the defaults.
type Options struct {
	Clock  app.Clock    // default app.SystemClock
	Logger *slog.Logger // default: discard
	// Terminal is written to audit entries that do not name one.
	// Default "T0".
	Terminal string
	Lockout  app.LockoutPolicy // default app.DefaultLockoutPolicy()
	KDF      KDFParams         // for new PIN hashes; default DefaultKDF
	// OutboxLease is how long an item marked sent stays out of Due before
	// it is offered again (the send may have died). Default 1 minute.
	OutboxLease time.Duration
	// IntegrityCheck runs the full integrity_check at open.
	IntegrityCheck bool
}

// Ledger is an open ledger.db. Safe for concurrent use.
type Ledger struct {
	db    *store.DB
	keys  *Keys
	clock app.Clock
	log   *slog.Logger
	opts  Options

	// The checkpoint writer (checkpoint.go).
	ckMu                     sync.Mutex
	ckArmed                  bool
	ckSeq                    int64
	start                    StartCheck
	testHookBeforeCheckpoint func() bool
}

// Compile-time checks that the ledger provides the app interfaces.
var (
	_ app.Authenticator = (*Ledger)(nil)
	_ app.OperatorAdmin = (*Ledger)(nil)
	_ app.AuditLog      = (*Ledger)(nil)
	_ app.AuditBrowser  = (*Ledger)(nil)
)

// Open opens (creating) the ledger at path with synchronous=FULL and
// applies its migrations. keys must be the station keys the file was
// created with: sealed payloads and the audit chain depend on them.
// It then checks the ledger against its signed checkpoint before anything
// can write (startCheck, StartStatus). Errors are those of store.Open; a
// damaged ledger is refused
// (CodeInternal "db_damaged") and must be restored from backup by a
// person — it is never quarantined or rebuilt automatically.
func Open(ctx context.Context, path string, keys *Keys, opts Options) (*Ledger, error) {
	if opts.Clock == nil {
		opts.Clock = app.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Terminal == "" {
		opts.Terminal = "T0"
	}
	if opts.Lockout.MaxFailures <= 0 {
		opts.Lockout = app.DefaultLockoutPolicy()
	}
	if opts.KDF == (KDFParams{}) {
		opts.KDF = DefaultKDF
	}
	if opts.OutboxLease <= 0 {
		opts.OutboxLease = time.Minute
	}
	l := &Ledger{keys: keys, clock: opts.Clock, log: opts.Logger, opts: opts}
	db, err := store.Open(ctx, path, store.Options{
		Durability:     store.DurabilityFull,
		Migrations:     Migrations(),
		IntegrityCheck: opts.IntegrityCheck,
		AfterMigration: l.afterMigration,
		Clock:          opts.Clock,
		Logger:         opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	l.db = db
	if err := l.startCheck(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

// OpenDir opens dataDir/ledger.db with the keys in dataDir (created on
// first use, see LoadOrCreateKeys).
func OpenDir(ctx context.Context, dataDir string, opts Options) (*Ledger, error) {
	keys, err := LoadOrCreateKeys(dataDir)
	if err != nil {
		return nil, err
	}
	return Open(ctx, filepath.Join(dataDir, FileName), keys, opts)
}

// Close closes the file.
func (l *Ledger) Close() error { return l.db.Close() }

// DB returns the underlying store, for other ledger tables that must
// commit together with an audit entry or an outbox item (AppendTx,
// EnqueueTx).
func (l *Ledger) DB() *store.DB { return l.db }

// Keys returns the station keys the ledger uses.
func (l *Ledger) Keys() *Keys { return l.keys }

// WriteTx runs fn in one ledger transaction (see store.DB.WriteTx).
func (l *Ledger) WriteTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return l.write(ctx, fn)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
