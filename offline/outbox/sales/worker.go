// Package sales is the ticket window's outbox worker: it forwards the
// window's records — single-journey sales, welfare exchanges and manual
// health checks — from the ledger's
// outbox to the central backend (store-and-forward), and adapts the
// central client to the app interfaces the ticket window needs.
//
// Exactly once: every record is written to ledger.db (synchronous=FULL)
// with an idempotency key before anything is issued, and is only ever sent
// with that key. Central applies a key once and replays its stored answer
// afterwards (and acknowledges a record id it already holds), so a record
// sent again after a crash between sending and recording the answer, or
// after an unknown outcome, is stored once. A worker round marks a batch
// "sent" (a lease) in one transaction, sends the batch with a few
// concurrent requests and records the confirmations in one transaction.
package sales

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/rounds"
)

// Kinds are the outbox kinds this worker forwards.
var Kinds = []string{app.ForwardSale, app.ForwardManualCheck}

// Sender is the part of the central client the worker uses
// (*central.Client).
type Sender interface {
	RecordSale(ctx context.Context, key string, s central.WireSale) (central.WireRecordAck, bool, error)
	RecordManualCheck(ctx context.Context, key string, m central.WireManualCheck) (central.WireRecordAck, bool, error)
}

var _ Sender = (*central.Client)(nil)

// CheckpointSender is the part of the central client that takes the
// ledger's signed checkpoint. A Sender that implements it (as
// *central.Client does) gets the checkpoint after every round that
// forwarded records, so central holds the anchors of the station's audit
// chain along with the records it covers.
type CheckpointSender interface {
	SendCheckpoint(ctx context.Context, cp app.LedgerCheckpoint) (central.WireCheckpointAck, error)
}

var _ CheckpointSender = (*central.Client)(nil)

// Config configures New. Ledger and Sender are required.
type Config struct {
	Ledger *ledger.Ledger
	Sender Sender
	// Interval between rounds when nothing happens. Default 2 s.
	Interval time.Duration
	// RetryMin and RetryMax bound the per-item backoff after a failed
	// send (doubling per attempt, ±25 % jitter). Defaults 2 s, 2 min.
	RetryMin, RetryMax time.Duration
	// Batch is the most items per round; Concurrency the requests in
	// flight. Defaults 200 and 8.
	Batch, Concurrency int
	Clock              app.Clock
	Logger             *slog.Logger
}

// Worker forwards due items. Safe for concurrent use; run one Worker per
// ledger. It implements app.Backlog for the backlog screen.
type Worker struct {
	cfg  Config
	log  *slog.Logger
	loop *rounds.Loop

	mu        sync.Mutex
	lastRound time.Time
	lastN     int
	lastErr   string
	sentSeq   int64 // the newest checkpoint central acknowledged
}

var _ app.Backlog = (*Worker)(nil)

// New returns a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Ledger == nil || cfg.Sender == nil {
		return nil, errors.New("salesfwd: Ledger and Sender are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, log: cfg.Logger, loop: rounds.New(rounds.Timing{Interval: cfg.Interval, RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax})}, nil
}

// Kick starts a round now (after a sale was recorded, or when the link
// came back). It never blocks.
func (w *Worker) Kick() { w.loop.Kick() }

// Run does rounds until ctx ends and returns ctx.Err(). After a full
// batch it goes on at once, so a backlog drains without waiting for the
// ticker.
func (w *Worker) Run(ctx context.Context) error {
	return w.loop.Run(ctx, func(ctx context.Context) (bool, error) {
		n, err := w.RunOnce(ctx)
		return n >= w.cfg.Batch, err
	}, func(err error) { w.log.Debug("sales forwarding round stopped", "reason", app.ErrorReason(err)) })
}

// Drain runs rounds until nothing is due or a round stops on an error;
// it returns the number of items confirmed (tests, benchmarks, shutdown).
func (w *Worker) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := w.RunOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

type outcome struct {
	key    string
	state  int // 0 confirmed, 1 retry, 2 failed
	reason string
	try    int
}

// RunOnce forwards one batch of due items and returns how many central
// confirmed. It returns an error when the batch could not be read or
// recorded, or when central could not be reached (the items stay pending
// with a backoff, in order).
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	items, err := w.cfg.Ledger.DueKinds(ctx, Kinds, w.cfg.Batch)
	if err != nil {
		w.note(0, err)
		return 0, err
	}
	if len(items) == 0 {
		w.note(0, nil)
		return 0, nil
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	if err := w.cfg.Ledger.MarkSentKeys(ctx, keys); err != nil {
		w.note(0, err)
		return 0, err
	}
	results := make([]outcome, len(items))
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	var down atomic.Bool // central unreachable: do not send the rest of the batch
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if down.Load() {
				results[i] = outcome{key: it.Key, state: 1, reason: string(app.CentralOffline), try: it.Attempts}
				return
			}
			results[i] = w.send(ctx, it)
			if results[i].state == 1 {
				down.Store(true)
			}
		}()
	}
	wg.Wait()
	var confirmed []string
	var retries []ledger.Retry
	var firstErr error
	for _, r := range results {
		switch r.state {
		case 0:
			confirmed = append(confirmed, r.key)
		case 1:
			retries = append(retries, ledger.Retry{Key: r.key, Reason: r.reason, Next: w.cfg.Clock.Now().Add(w.backoff(r.try))})
			if firstErr == nil {
				firstErr = app.NewError(app.CodeUnavailable, r.reason, "中心系统暂时无法连接，记录稍后自动转发。", "Central cannot be reached; records will be forwarded later.")
			}
		case 2:
			w.log.Warn("central refused a record", "key", r.key, "reason", r.reason)
			if err := w.cfg.Ledger.MarkFailed(ctx, r.key, r.reason); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	if len(retries) > 0 {
		if err := w.cfg.Ledger.MarkRetryKeys(ctx, retries); err != nil {
			w.note(0, err)
			return 0, err
		}
	}
	if len(confirmed) > 0 {
		if err := w.cfg.Ledger.MarkConfirmedKeys(ctx, confirmed); err != nil {
			// Central has them; they are sent again after the lease and
			// central replays: still once.
			w.note(0, err)
			return 0, err
		}
	}
	w.note(len(confirmed), firstErr)
	if len(confirmed) > 0 {
		w.log.Info("records forwarded", "n", len(confirmed))
		w.sendCheckpoint(ctx)
	}
	return len(confirmed), firstErr
}

// sendCheckpoint sends the ledger's signed checkpoint when it is newer
// than the last one central acknowledged. The checkpoint was written after
// the commit that confirmed the records, so it covers them. A failure is
// logged and retried after the next round that forwards records; a
// refusal (central holds a newer or different anchor: the ledger went
// back or was replaced) is logged as an error for the supervisor.
func (w *Worker) sendCheckpoint(ctx context.Context) {
	cs, ok := w.cfg.Sender.(CheckpointSender)
	if !ok {
		return
	}
	cp, err := w.cfg.Ledger.SignedCheckpoint()
	if err != nil {
		w.log.Warn("ledger checkpoint not sent", "reason", app.ErrorReason(err))
		return
	}
	w.mu.Lock()
	sent := w.sentSeq
	w.mu.Unlock()
	if cp.Seq <= sent {
		return
	}
	if _, err := cs.SendCheckpoint(ctx, cp); err != nil {
		if app.ErrorCode(err) == app.CodeUnavailable {
			w.log.Warn("ledger checkpoint not sent; sent after the next forwarded records", "seq", cp.Seq, "reason", app.ErrorReason(err))
		} else {
			w.log.Error("central refused the ledger checkpoint", "seq", cp.Seq, "reason", app.ErrorReason(err))
		}
		return
	}
	w.mu.Lock()
	w.sentSeq = max(w.sentSeq, cp.Seq)
	w.mu.Unlock()
	w.log.Info("ledger checkpoint sent", "seq", cp.Seq)
}

func (w *Worker) note(n int, err error) {
	w.mu.Lock()
	w.lastRound, w.lastN, w.lastErr = w.cfg.Clock.Now(), n, app.ErrorReason(err)
	if err != nil && w.lastErr == "" {
		w.lastErr = "internal"
	}
	w.mu.Unlock()
}

// send forwards one item and classifies the answer.
func (w *Worker) send(ctx context.Context, it ledger.Item) outcome {
	o := outcome{key: it.Key, try: it.Attempts}
	var err error
	switch it.Kind {
	case app.ForwardSale:
		var s central.WireSale
		if derr := json.Unmarshal(it.Body, &s); derr != nil {
			o.state, o.reason = 2, "bad_body"
			return o
		}
		_, _, err = w.cfg.Sender.RecordSale(ctx, it.Key, s)
	case app.ForwardManualCheck:
		var m central.WireManualCheck
		if derr := json.Unmarshal(it.Body, &m); derr != nil {
			o.state, o.reason = 2, "bad_body"
			return o
		}
		if it.Personal != "" {
			var shown app.ManualShown
			if derr := json.Unmarshal([]byte(it.Personal.Reveal()), &shown); derr == nil {
				m.ShownColor, m.NATTime, m.NATIssuer = string(shown.Color), shown.NATTime, shown.Issuer
			}
		}
		_, _, err = w.cfg.Sender.RecordManualCheck(ctx, it.Key, m)
	default:
		o.state, o.reason = 2, "unknown_kind"
		return o
	}
	if err == nil {
		return o
	}
	o.reason = app.ErrorReason(err)
	if o.reason == "" {
		o.reason = "internal"
	}
	switch app.ErrorCode(err) {
	case app.CodeInvalid, app.CodeConflict, app.CodeNotFound:
		o.state = 2
	default: // unavailable, unauthorized (station token), internal: try again later
		o.state = 1
	}
	return o
}

// backoff is RetryMin·2^(attempts-1) capped at RetryMax, with jitter.
func (w *Worker) backoff(attempts int) time.Duration {
	return w.loop.Retry(attempts - 1)
}

// Backlog implements app.Backlog: the records not yet confirmed by
// central, oldest first, summarised without personal data.
func (w *Worker) Backlog(ctx context.Context, limit int) ([]app.BacklogItem, app.BacklogStats, error) {
	items, total, err := w.cfg.Ledger.PendingKinds(ctx, Kinds, limit)
	var st app.BacklogStats
	w.mu.Lock()
	st.LastRound, st.LastForwarded, st.LastError = w.lastRound, w.lastN, w.lastErr
	w.mu.Unlock()
	if err != nil {
		return nil, st, err
	}
	out := make([]app.BacklogItem, 0, len(items))
	for _, it := range items {
		bi := app.BacklogItem{Key: it.Key, Kind: it.Kind, State: string(it.State), Attempts: it.Attempts, LastError: it.LastError,
			Created: it.Created, NextTry: it.NextAttempt, Summary: summary(it)}
		if it.State == ledger.StateFailed {
			st.Failed++
		} else if st.Oldest.IsZero() || it.Created.Before(st.Oldest) {
			st.Oldest = it.Created
		}
		out = append(out, bi)
	}
	st.Waiting = total - st.Failed
	return out, st, nil
}

func summary(it ledger.Item) string {
	switch it.Kind {
	case app.ForwardSale:
		var s central.WireSale
		if json.Unmarshal(it.Body, &s) == nil {
			return fmt.Sprintf("%s %s %s %s", s.TicketKind, app.Yuan(s.FareFen), s.Payment, s.BuyerDocMasked)
		}
	case app.ForwardManualCheck:
		var m central.WireManualCheck
		if json.Unmarshal(it.Body, &m) == nil {
			return fmt.Sprintf("manual_check %s %s %s", m.Decision, m.Reason, m.SubjectDocMasked)
		}
	}
	return it.Kind
}
