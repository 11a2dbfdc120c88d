// Package gateevents is the gate-event outbox: every verify answer is
// recorded in its own SQLite file (separate from the cache and the ledger,
// so snapshot swaps and delta writes never contend with it) by one
// group-committing writer, uploaded to central in idempotent batches, and
// purged after the retention period.
//
// Durability: Record only enqueues; the writer commits at least every
// MaxDelay (default 50 ms) or MaxBatch events with synchronous=FULL, so an
// event is durable within ~100 ms of its answer. When the queue is full,
// Record blocks (backpressure) until there is room or its context ends —
// events are never dropped. Rows hold the keyed card hash, never a card
// number, name, ID number or health value.
package gateevents

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Uploader is central's gate-event endpoint (*central.Client satisfies it).
type Uploader interface {
	UploadGateEvents(ctx context.Context, key string, b central.WireGateEventBatch) (central.WireGateEventAck, error)
}

// Options configure an Outbox.
type Options struct {
	Path        string
	StationID   string
	Uploader    Uploader // nil: nothing is uploaded (events are kept)
	Clock       app.Clock
	Logger      *slog.Logger
	QueueSize   int           // default 8192
	MaxDelay    time.Duration // group-commit interval, default 50 ms
	MaxBatch    int           // default 500
	UploadBatch int           // default 2000
	Retention   time.Duration // default 14 days (uploaded events only)
	// Durability defaults to Full (fsync per group commit).
	Durability store.Durability
}

// ErrClosed is returned by Record after Close.
var ErrClosed = app.NewError(app.CodeUnavailable, "outbox_closed", "闸机事件库已关闭", "gate-event outbox is closed")

type item struct {
	e    app.GateEvent
	done chan error // optional: commit notification
}

// Outbox is an open outbox file with its writer goroutine.
type Outbox struct {
	o       Options
	db      *store.DB
	q       chan item
	closing chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex // guards closed
	closed  bool

	lastErr   atomic.Pointer[string]
	committed atomic.Int64
	upMu      sync.Mutex
}

// Open opens (creating) the outbox file and starts the writer.
func Open(ctx context.Context, o Options) (*Outbox, error) {
	if o.Clock == nil {
		o.Clock = app.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueSize == 0 {
		o.QueueSize = 8192
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = 50 * time.Millisecond
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 500
	}
	if o.UploadBatch == 0 {
		o.UploadBatch = 2000
	}
	if o.Retention == 0 {
		o.Retention = 14 * 24 * time.Hour
	}
	if o.StationID == "" {
		o.StationID = "station"
	}
	sub, _ := fs.Sub(migrations, "migrations")
	db, err := store.Open(ctx, o.Path, store.Options{Durability: o.Durability, Migrations: sub, Clock: o.Clock, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	ob := &Outbox{o: o, db: db, q: make(chan item, o.QueueSize), closing: make(chan struct{})}
	ob.wg.Add(1)
	go ob.writer()
	return ob, nil
}

// Record enqueues an answered request. It blocks while the queue is full
// (backpressure) and returns ctx's error if it ends first, or ErrClosed.
func (ob *Outbox) Record(ctx context.Context, e app.GateEvent) error {
	return ob.enqueue(ctx, item{e: e})
}

// RecordDurable enqueues and waits until the event is committed.
func (ob *Outbox) RecordDurable(ctx context.Context, e app.GateEvent) error {
	done := make(chan error, 1)
	if err := ob.enqueue(ctx, item{e: e, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (ob *Outbox) enqueue(ctx context.Context, it item) error {
	ob.mu.Lock()
	if ob.closed {
		ob.mu.Unlock()
		return ErrClosed
	}
	// Holding mu while blocked would stall Close; take a fast path first.
	select {
	case ob.q <- it:
		ob.mu.Unlock()
		return nil
	default:
	}
	ob.mu.Unlock()
	select {
	case ob.q <- it:
		return nil
	case <-ob.closing:
		return ErrClosed
	case <-ctx.Done():
		return app.WrapError(ctx.Err(), app.CodeUnavailable, "outbox_full", "闸机事件队列已满", "gate-event queue is full")
	}
}

// QueueDepth returns the number of events waiting for the writer.
func (ob *Outbox) QueueDepth() int { return len(ob.q) }

func (ob *Outbox) writer() {
	defer ob.wg.Done()
	batch := make([]item, 0, min(ob.o.MaxBatch, 4096))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := ob.commit(batch)
		if err != nil {
			msg := err.Error()
			ob.lastErr.Store(&msg)
			ob.o.Logger.Error("gate-event group commit failed; retrying", "err", err, "events", len(batch))
			// Keep the batch and retry: events are never dropped. The queue
			// fills meanwhile and Record applies backpressure.
			time.Sleep(200 * time.Millisecond)
			return
		}
		for _, it := range batch {
			if it.done != nil {
				it.done <- nil
			}
		}
		ob.committed.Add(int64(len(batch)))
		batch = batch[:0]
	}
	for {
		select {
		case it := <-ob.q:
			if len(batch) == 0 {
				timer.Reset(ob.o.MaxDelay)
			}
			batch = append(batch, it)
			if len(batch) >= ob.o.MaxBatch {
				timer.Stop()
				flush()
				if len(batch) > 0 {
					timer.Reset(ob.o.MaxDelay)
				}
			}
		case <-timer.C:
			flush()
			if len(batch) > 0 {
				timer.Reset(ob.o.MaxDelay)
			}
		case <-ob.closing:
			// Drain what is queued, then stop.
			for {
				select {
				case it := <-ob.q:
					batch = append(batch, it)
					continue
				default:
				}
				break
			}
			for tries := 0; len(batch) > 0 && tries < 5; tries++ {
				flush()
			}
			return
		}
	}
}

// insertRows is how many events one INSERT statement carries: one SQLite
// statement step per 32 events instead of per event.
const insertRows = 32

const insertHead = `INSERT OR IGNORE INTO gate_event(gate_id, request_id, ts_ms, medium, card_hash, decision, reason, mode, cache_version, latency_us) VALUES `

func insertSQL(rows int) string {
	return insertHead + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?),", rows), ",")
}

var insertManySQL = insertSQL(insertRows)

func (ob *Outbox) commit(batch []item) error {
	return ob.db.WriteTx(context.Background(), func(tx *sql.Tx) error {
		many, err := tx.Prepare(insertManySQL)
		if err != nil {
			return err
		}
		defer many.Close()
		args := make([]any, 0, 10*insertRows)
		for i := 0; i < len(batch); i += insertRows {
			chunk := batch[i:min(i+insertRows, len(batch))]
			args = args[:0]
			for _, it := range chunk {
				e := it.e
				args = append(args, e.Gate, e.RequestID, e.At.UnixMilli(), e.Medium, e.CardToken, string(e.Decision), string(e.Reason), string(e.Mode), int64(e.CacheVersion), e.LatencyMicro)
			}
			if len(chunk) == insertRows {
				_, err = many.Exec(args...)
			} else {
				_, err = tx.Exec(insertSQL(len(chunk)), args...)
			}
			if err != nil {
				return err
			}
			// The writer shares the CPU with the verify handlers (one core
			// on a station PC under load): let waiting answers go first.
			runtime.Gosched()
		}
		return nil
	})
}

// Close stops accepting events, commits what is queued and closes the file.
func (ob *Outbox) Close() error {
	ob.mu.Lock()
	if ob.closed {
		ob.mu.Unlock()
		return nil
	}
	ob.closed = true
	close(ob.closing)
	ob.mu.Unlock()
	ob.wg.Wait()
	return ob.db.Close()
}

// Stats returns the backlog for the GUI.
func (ob *Outbox) Stats(ctx context.Context) (app.OutboxStats, error) {
	var s app.OutboxStats
	var upto, uploaded, last int64
	r := ob.db.Read()
	if err := r.QueryRowContext(ctx, `SELECT uploaded_upto, uploaded, last_upload_ms FROM upload_state WHERE id = 1`).Scan(&upto, &uploaded, &last); err != nil {
		return s, err
	}
	var oldest sql.NullInt64
	if err := r.QueryRowContext(ctx, `SELECT count(*), min(ts_ms) FROM gate_event WHERE id > ?`, upto).Scan(&s.Pending, &oldest); err != nil {
		return s, err
	}
	s.Pending += int64(len(ob.q))
	if oldest.Valid {
		s.OldestUnsent = time.UnixMilli(oldest.Int64)
	}
	s.Uploaded = uploaded
	if last > 0 {
		s.LastUpload = time.UnixMilli(last)
	}
	if e := ob.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s, nil
}

// UploadOnce uploads the next batch of unsent events (id order) with the
// idempotency key "station:first-last" (the same batch always gets the same
// key, so a retry after a lost answer is deduplicated by central) and
// advances the persisted mark. It returns how many were sent.
func (ob *Outbox) UploadOnce(ctx context.Context) (int, error) {
	if ob.o.Uploader == nil {
		return 0, nil
	}
	ob.upMu.Lock()
	defer ob.upMu.Unlock()
	r := ob.db.Read()
	var upto int64
	if err := r.QueryRowContext(ctx, `SELECT uploaded_upto FROM upload_state WHERE id = 1`).Scan(&upto); err != nil {
		return 0, err
	}
	rows, err := r.QueryContext(ctx, `SELECT id, gate_id, ts_ms, card_hash, decision, reason, mode, cache_version FROM gate_event WHERE id > ? ORDER BY id LIMIT ?`, upto, ob.o.UploadBatch)
	if err != nil {
		return 0, err
	}
	var evs []central.WireGateEvent
	for rows.Next() {
		var e central.WireGateEvent
		var ts int64
		if err := rows.Scan(&e.ID, &e.GateID, &ts, &e.CardHash, &e.Decision, &e.Reason, &e.Mode, &e.CacheVersion); err != nil {
			rows.Close()
			return 0, err
		}
		e.TS = time.UnixMilli(ts).UTC()
		evs = append(evs, e)
	}
	rows.Close()
	if len(evs) == 0 {
		return 0, nil
	}
	first, last := evs[0].ID, evs[len(evs)-1].ID
	key := ob.o.StationID + ":" + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10)
	if _, err := ob.o.Uploader.UploadGateEvents(ctx, key, central.WireGateEventBatch{StationID: ob.o.StationID, Events: evs}); err != nil {
		msg := app.UserMessage(err, app.LangEN)
		ob.lastErr.Store(&msg)
		return 0, err
	}
	now := ob.o.Clock.Now().UnixMilli()
	err = ob.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE upload_state SET uploaded_upto = max(uploaded_upto, ?), uploaded = uploaded + ?, last_upload_ms = ? WHERE id = 1`, last, len(evs), now)
		return err
	})
	if err == nil {
		empty := ""
		ob.lastErr.Store(&empty)
	}
	return len(evs), err
}

// Purge deletes uploaded events older than the retention period. Events
// not yet uploaded are never purged.
func (ob *Outbox) Purge(ctx context.Context) (int64, error) {
	cut := ob.o.Clock.Now().Add(-ob.o.Retention).UnixMilli()
	var n int64
	err := ob.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM gate_event WHERE id <= (SELECT uploaded_upto FROM upload_state WHERE id = 1) AND ts_ms < ?`, cut)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Run uploads every interval (with backoff after failures) and purges
// hourly until ctx ends.
func (ob *Outbox) Run(ctx context.Context, interval time.Duration) error {
	if interval == 0 {
		interval = 5 * time.Second
	}
	backoff := interval
	lastPurge := time.Time{}
	for {
		wait := interval
		for {
			n, err := ob.UploadOnce(ctx)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return ctx.Err()
				}
				ob.o.Logger.Warn("gate-event upload failed", "err", err)
				backoff = min(backoff*2, 5*time.Minute)
				wait = backoff
				break
			}
			backoff = interval
			if n < ob.o.UploadBatch {
				break
			}
		}
		if now := ob.o.Clock.Now(); now.Sub(lastPurge) > time.Hour {
			if n, err := ob.Purge(ctx); err != nil {
				ob.o.Logger.Warn("gate-event purge failed", "err", err)
			} else if n > 0 {
				ob.o.Logger.Info("gate events purged", "rows", n)
			}
			lastPurge = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// String is for logs.
func (ob *Outbox) String() string { return fmt.Sprintf("gateevents(%s)", ob.o.Path) }
