// Package upgrades is the outbox of pending upgrades, completed in the
// background: binds and unbinds the desk saved while central was unreachable (app.UpgradeOutbox,
// durable in pending.db via Outbox) are sent again with their own
// idempotency keys until central answers, then settled and audited by the
// app use case (app.Upgrades.CompletePending).
//
// Exactly once: an item is only ever sent with the key it was saved with,
// and central applies a key once and replays its stored answer afterwards.
// If the program dies between sending and recording the answer, the item is
// still pending on restart, is sent again, central replays, and the item
// settles — one binding.
package upgrades

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"stationdesk/app"
	"stationdesk/offline/outbox/rounds"
)

// Completer settles one pending item (app.Upgrades implements it).
type Completer interface {
	CompletePending(ctx context.Context, p app.PendingUpgrade, retryAt time.Time) (settled bool, err error)
}

var _ Completer = (*app.Upgrades)(nil)

// Config configures New. Outbox and Completer are required.
type Config struct {
	Outbox    app.UpgradeOutbox
	Completer Completer
	// Interval between rounds when nothing happens. Default 2 s.
	Interval time.Duration
	// RetryMin and RetryMax bound the per-item backoff after central was
	// unreachable (doubling per attempt, jittered). Defaults 2 s, 2 min.
	RetryMin, RetryMax time.Duration
	// Batch is the most items per round. Default 20.
	Batch  int
	Clock  app.Clock
	Logger *slog.Logger
}

// Worker runs rounds over the due items. Safe for concurrent use; run one
// Worker per outbox.
type Worker struct {
	cfg  Config
	log  *slog.Logger
	loop *rounds.Loop
}

// New returns a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Outbox == nil || cfg.Completer == nil {
		return nil, errors.New("forward: Outbox and Completer are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, log: cfg.Logger, loop: rounds.New(rounds.Timing{Interval: cfg.Interval, RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax})}, nil
}

// Kick starts a round now (e.g. after an item was queued or the link came
// back). It never blocks.
func (w *Worker) Kick() { w.loop.Kick() }

// Run does rounds until ctx ends; it returns ctx.Err().
func (w *Worker) Run(ctx context.Context) error {
	return w.loop.Run(ctx, func(ctx context.Context) (bool, error) {
		_, err := w.RunOnce(ctx)
		return false, err
	}, func(err error) { w.log.Debug("forward round stopped", "reason", app.ErrorReason(err)) })
}

// RunOnce sends every due item once, oldest first, and returns how many
// settled. It stops at the first item central could not be reached for
// (the rest would fail the same way; their order is kept) and returns that
// error.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	items, err := w.cfg.Outbox.DuePending(ctx, w.cfg.Clock.Now(), w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, p := range items {
		if ctx.Err() != nil {
			return settled, ctx.Err()
		}
		ok, err := w.cfg.Completer.CompletePending(ctx, p, w.cfg.Clock.Now().Add(w.backoff(p.Attempts)))
		if ok {
			settled++
			w.log.Info("pending upgrade settled", "kind", p.Kind, "key", p.Key)
		}
		if err != nil && !ok {
			return settled, err
		}
		if err != nil {
			w.log.Error("pending upgrade settled but not audited", "key", p.Key, "err", err)
		}
	}
	return settled, nil
}

// backoff is RetryMin·2^attempts capped at RetryMax, with jitter.
func (w *Worker) backoff(attempts int) time.Duration {
	return w.loop.Retry(attempts)
}
