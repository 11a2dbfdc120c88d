// Package cache is the station's offline gate cache: one SQLite file
// (modernc.org/sqlite, WAL, synchronous=NORMAL, page_size 4096 by default)
// holding, for every bound card of the city, the keyed card hash → person
// key, and per person the health colour and the last negative test
// (minutes). Changes since the last merge live in an append-only pending
// table and an in-memory overlay (see overlay.go); the sequence of the
// newest applied change is kept once, in the state row.
//
// The file is rebuildable from central, so it is not the ledger: a damaged
// file is moved aside and rebuilt. It holds no card number, name or ID
// number; the colour and test time are sensitive and never leave the
// package except as app.GateStatus for a decision.
//
// Concurrency: Lookup may be called from many goroutines; ApplySegment,
// Swap and Close serialise with each other. One writer connection, and
// beside it the gate path's read connections (store.RawConn; see reader and
// docs/storage-privacy.md "SQLite settings"). Swap replaces the whole file atomically while
// lookups wait for at most the time of two closes and an open.
package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
	"stationdesk/offline/syncwire"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Options tune a cache file. Zero values take the defaults.
type Options struct {
	// PageSize is applied only when the file is created (default 4096).
	// With changes merged in key order (overlay.go) the bytes written per
	// change no longer depend on the page size; 4096 gives the shallowest
	// trees (fewer pages per look-up), the fastest cold build and the
	// least per-page overhead. `stationdesk bench gate` compares 1024 and
	// 4096 at the city's size.
	PageSize int
	// MergeAt is how many pending changes start a background merge into
	// the big tables (default 1,000,000: at the city's 20 M changes a day,
	// a merge every 70 minutes or so; the overlay then holds at most about
	// that many entries, some 100 MB of memory).
	MergeAt int
	// MergeDuty is the share of one core a background merge may use
	// (default 0.25; 1: no rests): after each key-range transaction the
	// merger rests until its work is that share of the time. A catch-up
	// at 50,000 changes/s keeps about half a core busy applying segments;
	// a merge at full speed on top of that left the gates' look-ups a
	// saturated core, and their p99 went over 2 ms at 30 M cards while it
	// ran (docs/decisions.md, "Merges rest"). A merge of 1 M changes then
	// takes about 10 s instead of 2.5 s; Flush does not rest.
	MergeDuty float64
	// NoMemIndex keeps the big tables out of memory: every look-up then
	// reads the file. The memory index (memindex.go) takes about 17 B per
	// card and 16 B per person, 808 MiB at 30 M cards and 20 M persons,
	// and makes a look-up cost about as much as answering a constant; a
	// PC that cannot spare that memory sets this.
	NoMemIndex bool
	// ReadConns is the read pool size (default 2×GOMAXPROCS).
	ReadConns int
	// MmapSize for readers in bytes (default 4 GiB; without mmap two
	// readers do not scale).
	MmapSize int64
	// ReaderCacheKiB is each reader connection's page cache (default
	// 16 MiB).
	ReaderCacheKiB int
	// Sync is the synchronous pragma for the writer (default NORMAL: the
	// file is rebuildable; a power cut may roll back the newest segments,
	// which the next sync re-applies).
	Sync string
	// AutoCheckpoint is the writer's wal_autocheckpoint in pages (0: the
	// SQLite default of 1000; < 0: off, for measurements that checkpoint
	// explicitly).
	AutoCheckpoint int
	Logger         *slog.Logger
}

// WithDefaults returns the options with every zero value replaced by its
// default.
func (o Options) WithDefaults() Options {
	o.defaults()
	return o
}

func (o *Options) defaults() {
	if o.PageSize == 0 {
		o.PageSize = 4096
	}
	if o.MergeAt == 0 {
		o.MergeAt = 1_000_000
	}
	if o.MergeDuty <= 0 || o.MergeDuty > 1 {
		o.MergeDuty = 0.25
	}
	if o.ReadConns == 0 {
		o.ReadConns = 2 * runtime.GOMAXPROCS(0)
	}
	if o.MmapSize == 0 {
		o.MmapSize = 4 << 30
	}
	if o.MmapSize < 0 {
		o.MmapSize = 0
	}
	if o.ReaderCacheKiB == 0 {
		o.ReaderCacheKiB = 16 << 10
	}
	if o.Sync == "" {
		o.Sync = "NORMAL"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// formatVersion is the file's user_version. A file of another version is
// from an older StationDesk: it is removed and rebuilt from central.
// Version 3 keys the card table by the first 64 bits of the hash (a
// rowid table, cardkey.go) instead of the 96-bit blob.
const formatVersion = 3

const schema = `
CREATE TABLE IF NOT EXISTS card(k INTEGER PRIMARY KEY, t INTEGER NOT NULL, person INTEGER NOT NULL, flags INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS card_x(k INTEGER NOT NULL, t INTEGER NOT NULL, person INTEGER NOT NULL, flags INTEGER NOT NULL, PRIMARY KEY(k, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person(p INTEGER PRIMARY KEY, st INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS digest(kind INTEGER NOT NULL, b INTEGER NOT NULL, n INTEGER NOT NULL, x INTEGER NOT NULL, PRIMARY KEY(kind, b)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state(id INTEGER PRIMARY KEY CHECK(id = 1), applied_seq INTEGER NOT NULL, snapshot_seq INTEGER NOT NULL,
  hot_seq INTEGER NOT NULL, fresh_ms INTEGER NOT NULL, card_key_id TEXT NOT NULL, person_shift INTEGER NOT NULL, build_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS build_done(name TEXT PRIMARY KEY, rows INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO state VALUES(1, 0, 0, 0, 0, '', 16, '');
` + pendingSchema

// State is the sync bookkeeping stored in the cache file, updated in the
// same transaction as the rows it describes (so a crash can never leave
// rows and sequence disagreeing).
type State struct {
	AppliedSeq  uint64    // every change ≤ this is applied
	SnapshotSeq uint64    // the snapshot the file was built from
	HotSeq      uint64    // highest hot-list seq applied (may exceed AppliedSeq)
	FreshAsOf   time.Time // issued_at of the newest fully applied manifest
	CardKeyID   string
	PersonShift uint
	BuildID     string // snapshot identity while building
}

// Cache is an open cache file.
type Cache struct {
	path string
	opts Options

	mu      sync.RWMutex // write-locked only by Swap/Close
	w       *sql.DB      // the single writer; reads of the gate path go through readers
	readers chan *reader // the gate path's own connections (see reader)
	closed  bool

	wmu sync.Mutex // serialises writers; held for every change of ov

	ov      *overlay      // pending changes (overlay.go)
	src     *applySources // the writer's virtual tables (apply.go)
	mergeMu sync.Mutex    // one merge at a time
	lifeMu  sync.Mutex    // guards kick, stop and done (the merger's lifecycle)
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	statsMu sync.Mutex
	stats   MergeStats

	lookupBegins atomic.Int64 // MergeStats.LookupBegins

	// The memory index (memindex.go): in use when non-nil. ixMu orders
	// drops, merges' patches and the indexer putting new arrays in use
	// (ixEpoch counts drops; ixSince collects the patches of the merges
	// that end while ixBuilding); the indexer's channels are guarded by
	// lifeMu.
	ix         atomic.Pointer[memIndex]
	ixMu       sync.Mutex
	ixEpoch    uint64
	ixBuilding bool
	ixSince    []*ixPatch
	ixStats    IndexStats
	ixKick     chan struct{}
	// ixTest shortens the indexer's rate window, lengthens the build it
	// plans for, can stand in for the measured rate, lowers the rebuild
	// size and is told when a read of the arrays has its snapshot, in
	// tests (export_test.go); zero in use.
	ixTest struct {
		window, buildFloor time.Duration
		rate               func() float64
		rebuildAt          int
		read               func()
	}
	ixStop chan struct{}
	ixDone chan struct{}

	fresh atomic.Pointer[app.CacheFreshness] // mirror of the state row for the hot path
}

// Freshness returns the applied sequence and freshness without touching
// the database (kept current by every write and swap).
func (c *Cache) Freshness() app.CacheFreshness {
	if f := c.fresh.Load(); f != nil {
		return *f
	}
	return app.CacheFreshness{}
}

func (c *Cache) loadFreshness(ctx context.Context) {
	st, err := readState(ctx, c.w)
	if err != nil {
		return
	}
	c.fresh.Store(&app.CacheFreshness{Version: st.AppliedSeq, FreshAsOf: st.FreshAsOf})
}

// Open opens (creating if needed) the cache file at path. A file that
// cannot be read as a cache is moved aside with its -wal and -shm
// (store.Quarantine: path+".damaged-<UTC time>") and a fresh empty cache
// takes its place (the data is rebuildable; the damaged file is kept for
// forensics).
func Open(ctx context.Context, path string, opts Options) (*Cache, error) {
	opts.defaults()
	c := &Cache{path: path, opts: opts}
	if err := c.open(ctx); err != nil {
		if errors.Is(err, errOldFormat) {
			// Nothing to keep: the data is central's, and rebuilding
			// needs the space.
			opts.Logger.Info("gate cache of an older format, rebuilding", "err", err)
			if rerr := removeFile(path); rerr != nil {
				return nil, rerr
			}
			if err := c.open(ctx); err != nil {
				return nil, err
			}
			return c, nil
		}
		if errors.Is(err, errDamaged) {
			moved, qerr := store.Quarantine(path)
			if qerr != nil {
				return nil, fmt.Errorf("quarantine cache: %w", qerr)
			}
			opts.Logger.Warn("gate cache damaged, moved aside", "err", err, "to", moved)
			if err := c.open(ctx); err != nil {
				return nil, err
			}
			return c, nil
		}
		return nil, err
	}
	return c, nil
}

var (
	errDamaged   = errors.New("cache file damaged")
	errOldFormat = errors.New("cache file of an older format")
)

func removeFile(path string) error {
	for _, s := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + s); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove old cache: %w", err)
		}
	}
	return nil
}

// writerPool is the cache's single writer: every transaction BEGIN
// IMMEDIATE, one connection. readerPool is the settings of the read
// connections (openReaders): query_only, a page cache and mmap sized for
// the whole file.
func writerPool() store.PoolOptions {
	return store.PoolOptions{Immediate: true, MaxConns: 1}
}

func readerPool(o Options) store.PoolOptions {
	return store.PoolOptions{QueryOnly: true, CacheKiB: o.ReaderCacheKiB, MmapSize: o.MmapSize, MaxConns: o.ReadConns}
}

// writerSettings are the writer's pragmas (through store.InitWAL, which sets
// the page size before WAL). journal_size_limit: after a merge's checkpoint
// the WAL is truncated back to 64 MiB instead of keeping its peak size.
func writerSettings(pageSize int, syncMode string) store.WriterSettings {
	return store.WriterSettings{PageSize: pageSize, Synchronous: syncMode, CacheKiB: 64 << 10, TempStoreMemory: true, JournalSizeLimit: 64 << 20}
}

// initFile prepares the writer: on a new file the page size, WAL and the
// format version; on an existing one the version check first (an older
// format is rebuilt, so nothing is written to it), then WAL; then the
// schema.
func initFile(ctx context.Context, db *sql.DB, pageSize int, syncMode string) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return fmt.Errorf("%w: %w", errDamaged, err)
	}
	if n == 0 {
		if err := store.InitWAL(ctx, db, writerSettings(pageSize, syncMode)); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", formatVersion)); err != nil {
			return err
		}
	} else {
		var v int
		if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("%w: %w", errDamaged, err)
		}
		if v != formatVersion {
			return fmt.Errorf("%w: version %d, want %d", errOldFormat, v, formatVersion)
		}
		if err := store.InitWAL(ctx, db, writerSettings(0, syncMode)); err != nil {
			return err
		}
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("%w: schema: %w", errDamaged, err)
	}
	return nil
}

func (c *Cache) open(ctx context.Context) error {
	w, err := store.OpenPool(c.path, writerPool())
	if err != nil {
		return err
	}
	if err := initFile(ctx, w, c.opts.PageSize, c.opts.Sync); err != nil {
		w.Close()
		if errors.Is(err, errOldFormat) {
			return err
		}
		if store.IsDamaged(err) || errors.Is(err, errDamaged) {
			return fmt.Errorf("%w: %v", errDamaged, err)
		}
		return err
	}
	if c.opts.AutoCheckpoint != 0 {
		if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", max(c.opts.AutoCheckpoint, 0))); err != nil {
			w.Close()
			return err
		}
	}
	var one int
	if err := w.QueryRowContext(ctx, "SELECT count(*) FROM state").Scan(&one); err != nil || one != 1 {
		w.Close()
		return fmt.Errorf("%w: state row (%v)", errDamaged, err)
	}
	readers, err := openReaders(c.path, readerPool(c.opts), c.opts.ReadConns)
	if err != nil {
		w.Close()
		return err
	}
	ov, err := loadOverlay(ctx, w)
	if err != nil {
		closeReaders(readers)
		w.Close()
		return err
	}
	c.w, c.readers, c.ov, c.src = w, readers, ov, newApplySources()
	c.loadFreshness(ctx)
	c.startMerger()
	return nil
}

// startMerger starts the background merger of the open file, and its
// indexer (memindex.go) unless Options.NoMemIndex.
func (c *Cache) startMerger() {
	c.lifeMu.Lock()
	c.kick, c.stop, c.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go c.merger(c.stop, c.kick, c.done)
	if !c.opts.NoMemIndex {
		c.ixKick, c.ixStop, c.ixDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go c.indexer(c.ixStop, c.ixKick, c.ixDone)
	}
	c.lifeMu.Unlock()
	c.kickMerge()
	c.kickIndex()
}

// stopMerger stops the background merger and waits for it (a merge in
// progress is cancelled; what it committed stays, the rest stays pending).
// Callers do not hold c.mu.
func (c *Cache) stopMerger() {
	c.lifeMu.Lock()
	stop, done, ixStop, ixDone := c.stop, c.done, c.ixStop, c.ixDone
	c.stop, c.done, c.ixStop, c.ixDone, c.ixKick = nil, nil, nil, nil, nil
	c.lifeMu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	if ixStop != nil {
		close(ixStop)
		<-ixDone
	}
}

// ErrClosed is returned after Close.
var ErrClosed = app.NewError(app.CodeUnavailable, "cache_closed", "闸机缓存未打开", "gate cache is closed")

func decodeSt(st int64) (app.HealthColor, time.Time) {
	return syncwire.HealthColor(uint8(st & 3)), syncwire.TestTime(uint32(st >> 2))
}

func encodeSt(p syncwire.Person) int64 { return int64(p.TestMin)<<2 | int64(p.Color&3) }

// reader is one read connection of the gate path, driven through SQLite's
// C API (store.RawConn) with its look-up statements prepared once: a
// look-up then costs one SQLite step and no database/sql pool, driver rows,
// conversion, allocation or per-query cancellation goroutine (a point
// look-up takes microseconds, so it runs uncancellable). Readers circulate
// through a channel, which also caps concurrent look-ups at the pool size.
type reader struct {
	conn              *store.RawConn
	card, cardX, pers *store.RawStmt
	arg               [2]int64
	dest              [4]int64
	null              [4]bool

	// The reader keeps one read transaction open across look-ups (see
	// readFor): whether one is open, the overlay generation it was begun
	// at, and when.
	inTx  bool
	gen   uint64
	began time.Time
}

// readRefresh is the longest a reader keeps its read transaction.
//
// Why keep one at all: when a read transaction begins after any commit to
// the file, SQLite unmaps the whole file in that connection (the pager's
// unfetch on a changed WAL) and maps it again, so every page touched
// afterwards costs a page fault; with a segment committed every second
// (the city's rate) that was most of the look-up's cost at 30 M cards,
// besides two lock syscalls per look-up. The big tables change only in
// merges and repairs, which bump the overlay generation, so a reader
// renews its transaction when the generation moved, and otherwise after
// readRefresh, so checkpoints can recycle the WAL. The renewal after
// readRefresh is done in the background (renewReads) for readers that are
// idle, so a look-up seldom pays for the remap itself.
const readRefresh = 60 * time.Second

// readFor makes r's read transaction current for overlay generation gen.
// A transaction begun for a later generation serves too: it sees every
// commit the earlier one would (advanceReads begins them ahead of the
// generation's bump).
func (r *reader) readFor(gen uint64, now time.Time) error {
	if r.current(gen, now) {
		return nil
	}
	r.end()
	if err := r.conn.Begin(); err != nil {
		return err
	}
	r.inTx, r.gen, r.began = true, gen, now
	return nil
}

// current reports whether r's read transaction serves generation gen.
func (r *reader) current(gen uint64, now time.Time) bool {
	return r.inTx && r.gen >= gen && now.Sub(r.began) < readRefresh
}

// endReads ends every reader's read transaction, so a checkpoint can
// empty the WAL. It waits for readers in use; callers hold c.mu for
// reading.
func (c *Cache) endReads() {
	n := cap(c.readers)
	held := make([]*reader, 0, n)
	for len(held) < n {
		held = append(held, <-c.readers)
	}
	for _, r := range held {
		r.end()
		c.readers <- r
	}
}

// renewReads renews, one reader at a time, the read transactions older
// than half of readRefresh (see readRefresh), priming each with a read so
// the remap happens here rather than in a gate's look-up. Callers hold c.mu
// for reading.
func (c *Cache) renewReads() {
	now := time.Now()
	for i := 0; i < cap(c.readers); i++ {
		r := <-c.readers
		if r.inTx && now.Sub(r.began) >= readRefresh/2 {
			r.end()
			if err := r.readFor(c.ov.gen.Load(), now); err == nil {
				r.arg[0] = 0
				_, _ = r.pers.QueryRow(r.arg[:1], r.dest[:1], nil)
			}
		}
		c.readers <- r
	}
}

// lookupRead is readFor on a look-up's path, counted when the look-up has
// to begin the transaction itself (MergeStats.LookupBegins).
func (c *Cache) lookupRead(r *reader, gen uint64) error {
	now := time.Now()
	if r.current(gen, now) {
		return nil
	}
	c.lookupBegins.Add(1)
	return r.readFor(gen, now)
}

// advanceReads begins, one reader at a time, a read transaction for
// overlay generation gen, which is about to be the current one, and primes
// it with a read, so the remap of the file after a merge's commits is paid
// here and not by the first look-up on each reader. The other readers keep
// answering meanwhile. Callers hold c.mu for reading and c.wmu, so no
// commit lands between a reader's new snapshot and the bump.
func (c *Cache) advanceReads(gen uint64) {
	now := time.Now()
	for i := 0; i < cap(c.readers); i++ {
		r := <-c.readers
		r.end()
		if err := r.readFor(gen, now); err == nil {
			r.arg[0] = 0
			_, _ = r.pers.QueryRow(r.arg[:1], r.dest[:1], nil)
		}
		c.readers <- r
	}
}

// end ends r's read transaction, if any.
func (r *reader) end() {
	if r.inTx {
		_ = r.conn.Rollback()
		r.inTx = false
	}
}

const (
	lookupCardSQL   = `SELECT c.person, c.flags, p.st, c.t FROM card c LEFT JOIN person p ON p.p = c.person WHERE c.k = ?`
	lookupCardXSQL  = `SELECT x.person, x.flags, p.st FROM card_x x LEFT JOIN person p ON p.p = x.person WHERE x.k = ? AND x.t = ?`
	lookupPersonSQL = `SELECT st FROM person WHERE p = ?`
)

func openReaders(path string, o store.PoolOptions, n int) (chan *reader, error) {
	ch := make(chan *reader, n)
	fail := func(err error) (chan *reader, error) {
		closeReaders(ch)
		return nil, err
	}
	for i := 0; i < n; i++ {
		conn, err := store.OpenRaw(path, o)
		if err != nil {
			return fail(err)
		}
		r := &reader{conn: conn}
		if r.card, err = conn.Prepare(lookupCardSQL); err == nil {
			if r.cardX, err = conn.Prepare(lookupCardXSQL); err == nil {
				r.pers, err = conn.Prepare(lookupPersonSQL)
			}
		}
		if err != nil {
			conn.Close()
			return fail(fmt.Errorf("prepare lookup: %w", err))
		}
		ch <- r
	}
	return ch, nil
}

func (r *reader) close() {
	r.end()
	r.conn.Close()
}

// closeReaders closes every reader; callers hold c.mu for writing, so all
// readers are back in the channel.
func closeReaders(ch chan *reader) {
	for {
		select {
		case r := <-ch:
			r.close()
		default:
			return
		}
	}
}

var errBadRow = errors.New("gate cache: unexpected column type")

// Lookup returns the status of a card hash. A card that is not bound
// returns Found=false and no error. Errors are app.CodeUnavailable. ctx is
// checked before the look-up; the look-up itself (microseconds) is not
// interruptible.
func (c *Cache) Lookup(ctx context.Context, h syncwire.CardHash) (app.GateStatus, error) {
	if err := ctx.Err(); err != nil {
		return app.GateStatus{}, app.WrapError(err, app.CodeUnavailable, "cache_read", "闸机缓存读取失败", "gate cache read failed")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return app.GateStatus{}, ErrClosed
	}
	if oc, ok := c.ov.card(h); ok {
		if oc.flags&syncwire.FlagDeleted != 0 {
			return app.GateStatus{}, nil
		}
		gs, err := c.lookupPerson(oc.person)
		if err != nil {
			return app.GateStatus{}, err
		}
		if !gs.Found {
			gs.Color = app.ColorNone
		}
		gs.Found, gs.Person, gs.Blocked = true, oc.person, oc.flags&syncwire.FlagBlocked != 0
		return gs, nil
	}
	for {
		gs, again, err := c.lookupCard(h)
		if !again {
			return gs, err
		}
	}
}

// lookupCard reads a card and its holder's status from the big tables,
// with the holder's overlay entry on top. again is true when a merge
// removed overlay entries meanwhile (see overlay.gen).
func (c *Cache) lookupCard(h syncwire.CardHash) (gs app.GateStatus, again bool, err error) {
	gen := c.ov.gen.Load()
	if ix := c.ix.Load(); ix != nil {
		if person, flags, st, hasSt, found, inFile := ix.card(h); !inFile {
			if !found {
				return app.GateStatus{}, false, nil
			}
			return c.withPersonOverlay(gen, person, flags, st, hasSt)
		}
	}
	r := <-c.readers
	found, err := false, c.lookupRead(r, gen)
	k, t := cardKey(h)
	if err == nil {
		r.arg[0] = k
		found, err = r.card.QueryRow(r.arg[:1], r.dest[:4], r.null[:4])
	}
	if err == nil && found && r.dest[3] != t {
		// Another card with the same first 64 bits holds the card
		// row (cardkey.go): this one, if bound, is in card_x.
		r.arg[0], r.arg[1] = k, t
		found, err = r.cardX.QueryRow(r.arg[:2], r.dest[:3], r.null[:3])
	}
	person, flags, st, hasSt := r.dest[0], r.dest[1], r.dest[2], !r.null[2]
	if err == nil && found && (r.null[0] || r.null[1]) {
		err = errBadRow
	}
	c.readers <- r
	if errors.Is(err, store.ErrRawColumn) {
		err = errBadRow
	}
	if err != nil {
		return app.GateStatus{}, false, app.WrapError(err, app.CodeUnavailable, "cache_read", "闸机缓存读取失败", "gate cache read failed")
	}
	if !found {
		if c.ov.gen.Load() != gen {
			return app.GateStatus{}, true, nil
		}
		return app.GateStatus{}, false, nil
	}
	return c.withPersonOverlay(gen, uint64(person), uint8(flags), st, hasSt)
}

// withPersonOverlay is the answer for a card of the big tables (or the
// memory index) read at overlay generation gen: the holder's overlay
// entry, if any, on top of the status read. again is true when a merge
// removed overlay entries meanwhile.
func (c *Cache) withPersonOverlay(gen, person uint64, flags uint8, st int64, hasSt bool) (gs app.GateStatus, again bool, err error) {
	gs = app.GateStatus{Found: true, Person: person, Blocked: flags&syncwire.FlagBlocked != 0, Color: app.ColorNone}
	op, ok := c.ov.person(person)
	if c.ov.gen.Load() != gen {
		return app.GateStatus{}, true, nil // a merge removed entries meanwhile
	}
	if ok {
		hasSt, st = !op.del, op.st
	}
	if hasSt {
		gs.Color, gs.LastNegative = decodeSt(st)
	}
	return gs, false, nil
}

// LookupPerson returns the status of a person key (ride codes carry the
// person key). An unknown person returns Found=false.
func (c *Cache) LookupPerson(ctx context.Context, person uint64) (app.GateStatus, error) {
	if err := ctx.Err(); err != nil {
		return app.GateStatus{}, app.WrapError(err, app.CodeUnavailable, "cache_read", "闸机缓存读取失败", "gate cache read failed")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return app.GateStatus{}, ErrClosed
	}
	return c.lookupPerson(person)
}

// lookupPerson is LookupPerson with c.mu held: the overlay, then the
// person table.
func (c *Cache) lookupPerson(person uint64) (app.GateStatus, error) {
	for {
		gs, again, err := c.lookupPersonOnce(person)
		if !again {
			return gs, err
		}
	}
}

func (c *Cache) lookupPersonOnce(person uint64) (gs app.GateStatus, again bool, err error) {
	gen := c.ov.gen.Load()
	if op, ok := c.ov.person(person); ok {
		if op.del {
			return app.GateStatus{}, false, nil
		}
		gs := app.GateStatus{Found: true, Person: person}
		gs.Color, gs.LastNegative = decodeSt(op.st)
		return gs, false, nil
	}
	if ix := c.ix.Load(); ix != nil {
		st, found := ix.person(person)
		if c.ov.gen.Load() != gen {
			return app.GateStatus{}, true, nil // a merge removed entries meanwhile
		}
		if !found {
			return app.GateStatus{}, false, nil
		}
		gs = app.GateStatus{Found: true, Person: person}
		gs.Color, gs.LastNegative = decodeSt(st)
		return gs, false, nil
	}
	r := <-c.readers
	found, err := false, c.lookupRead(r, gen)
	if err == nil {
		r.arg[0] = int64(person)
		found, err = r.pers.QueryRow(r.arg[:1], r.dest[:1], nil)
	}
	st := r.dest[0]
	c.readers <- r
	if c.ov.gen.Load() != gen {
		return app.GateStatus{}, true, nil // a merge removed entries meanwhile
	}
	if errors.Is(err, store.ErrRawColumn) {
		err = errBadRow
	}
	if err != nil {
		return app.GateStatus{}, false, app.WrapError(err, app.CodeUnavailable, "cache_read", "闸机缓存读取失败", "gate cache read failed")
	}
	if !found {
		return app.GateStatus{}, false, nil
	}
	gs = app.GateStatus{Found: true, Person: person}
	gs.Color, gs.LastNegative = decodeSt(st)
	return gs, false, nil
}

// State reads the sync bookkeeping.
func (c *Cache) State(ctx context.Context) (State, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return State{}, ErrClosed
	}
	return readState(ctx, c.w)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func readState(ctx context.Context, q queryer) (State, error) {
	var s State
	var a, sn, h, fresh, shift int64
	err := q.QueryRowContext(ctx, `SELECT applied_seq, snapshot_seq, hot_seq, fresh_ms, card_key_id, person_shift, build_id FROM state WHERE id = 1`).
		Scan(&a, &sn, &h, &fresh, &s.CardKeyID, &shift, &s.BuildID)
	if err != nil {
		return s, fmt.Errorf("read cache state: %w", err)
	}
	s.AppliedSeq, s.SnapshotSeq, s.HotSeq, s.PersonShift = uint64(a), uint64(sn), uint64(h), uint(shift)
	if fresh > 0 {
		s.FreshAsOf = time.UnixMilli(fresh)
	}
	return s, nil
}

// Digests returns the per-bucket digests of cards and persons.
func (c *Cache) Digests(ctx context.Context) (cards, persons [syncwire.Buckets]syncwire.Digest, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return cards, persons, ErrClosed
	}
	return readDigests(ctx, c.w)
}

func readDigests(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (cards, persons [syncwire.Buckets]syncwire.Digest, err error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, b, n, x FROM digest`)
	if err != nil {
		return cards, persons, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, b, n, x int64
		if err := rows.Scan(&kind, &b, &n, &x); err != nil {
			return cards, persons, err
		}
		if b < 0 || b >= syncwire.Buckets {
			continue
		}
		d := syncwire.Digest{N: n, X: uint64(x)}
		if kind == 0 {
			cards[b] = d
		} else {
			persons[b] = d
		}
	}
	return cards, persons, rows.Err()
}

// Counts returns the number of cards and persons (from the digests, so it
// costs no table scan).
func (c *Cache) Counts(ctx context.Context) (cards, persons int64, err error) {
	cd, pd, err := c.Digests(ctx)
	for i := range cd {
		cards += cd[i].N
		persons += pd[i].N
	}
	return cards, persons, err
}

// Path returns the file path.
func (c *Cache) Path() string { return c.path }

// Close closes the file. Lookups afterwards return ErrClosed.
func (c *Cache) Close() error {
	c.stopMerger()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.dropIndex()
	return c.closeLocked()
}

func (c *Cache) closeLocked() error {
	c.src.release()
	closeReaders(c.readers)
	return c.w.Close()
}

// Checkpoint truncates the WAL (after large applies, so the WAL stays
// small and readers stay fast).
func (c *Cache) Checkpoint(ctx context.Context) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.endReads()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	c.advanceReads(c.ov.gen.Load()) // the look-ups' next reads, begun here
	return err
}

// Swap replaces this cache's file with the finished cache file at
// builtPath (which must be closed): it closes the current file, renames the
// new file over it atomically, fsyncs the folder and reopens. Lookups block
// only during the swap itself. On a rename failure the old file is reopened.
func (c *Cache) Swap(ctx context.Context, builtPath string) error {
	c.stopMerger()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if _, err := os.Stat(builtPath + "-wal"); err == nil {
		c.startMerger()
		return fmt.Errorf("swap: %s still has a WAL (not closed cleanly)", filepath.Base(builtPath))
	}
	c.dropIndex() // the new file's index is built after the reopen
	if err := c.closeLocked(); err != nil {
		c.opts.Logger.Warn("close before swap", "err", err)
	}
	// The old file was closed cleanly, so its WAL is checkpointed; remove
	// leftovers so they can never be replayed onto the new file.
	_ = os.Remove(c.path + "-wal")
	_ = os.Remove(c.path + "-shm")
	rerr := os.Rename(builtPath, c.path)
	if rerr == nil {
		_ = os.Remove(builtPath + "-shm")
		rerr = syncDir(filepath.Dir(c.path))
	}
	if err := c.open(ctx); err != nil {
		c.closed = true
		return fmt.Errorf("reopen after swap: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("swap: %w", rerr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Recompute scans every row and returns the digests the effective rows
// (the big tables with the overlay on top) add up to, for consistency
// checks (tests, `stationdesk doctor`): after any crash they must equal the
// stored digests, because rows and digests change in the same transaction.
// It reads the whole file with writers held off; do not call it on the
// gate path.
func (c *Cache) Recompute(ctx context.Context) (cards, persons [syncwire.Buckets]syncwire.Digest, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return cards, persons, ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	st, err := readState(ctx, c.w)
	if err != nil {
		return cards, persons, err
	}
	rows, err := c.w.QueryContext(ctx, `SELECT k, t, person, flags FROM card UNION ALL SELECT k, t, person, flags FROM card_x`)
	if err != nil {
		return cards, persons, err
	}
	for rows.Next() {
		var k, t, p, f int64
		if err := rows.Scan(&k, &t, &p, &f); err != nil {
			rows.Close()
			return cards, persons, err
		}
		r := syncwire.Card{Hash: cardHashOf(k, t), Person: uint64(p), Flags: uint8(f)}
		if _, over := c.ov.cards[r.Hash]; over {
			continue
		}
		cards[syncwire.CardBucket(r.Hash)].Add(syncwire.CardRowHash(r))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return cards, persons, err
	}
	for h, v := range c.ov.cards {
		if v.flags&syncwire.FlagDeleted == 0 {
			cards[syncwire.CardBucket(h)].Add(syncwire.CardRowHash(syncwire.Card{Hash: h, Person: v.person, Flags: v.flags}))
		}
	}
	rows, err = c.w.QueryContext(ctx, `SELECT p, st FROM person`)
	if err != nil {
		return cards, persons, err
	}
	defer rows.Close()
	for rows.Next() {
		var p, stv int64
		if err := rows.Scan(&p, &stv); err != nil {
			return cards, persons, err
		}
		if _, over := c.ov.persons[uint64(p)]; over {
			continue
		}
		persons[syncwire.PersonBucket(uint64(p), st.PersonShift)].Add(syncwire.PersonRowHash(personRow(uint64(p), stv)))
	}
	if err := rows.Err(); err != nil {
		return cards, persons, err
	}
	for p, v := range c.ov.persons {
		if !v.del {
			persons[syncwire.PersonBucket(p, st.PersonShift)].Add(syncwire.PersonRowHash(personRow(p, v.st)))
		}
	}
	return cards, persons, nil
}

// personRow rebuilds a wire person row from its key and stored st.
func personRow(p uint64, st int64) syncwire.Person {
	return syncwire.Person{Person: p, Color: uint8(st & 3), TestMin: uint32(st >> 2)}
}
