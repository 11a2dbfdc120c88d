// Package rounds is the loop and the retry backoff the store-and-forward
// workers share (offline/outbox/upgrades for pending upgrades, offline/outbox/sales
// for the ticket window's records): a round at once, then one every
// interval or as soon as something is queued, and per-item backoff with
// jitter after a failed send.
package rounds

import (
	"context"
	"math/rand/v2"
	"time"
)

// Defaults of the workers' configurations.
const (
	DefaultInterval = 2 * time.Second
	DefaultRetryMin = 2 * time.Second
	DefaultRetryMax = 2 * time.Minute
)

// Timing is what a worker's configuration says about its rounds and its
// retries. Zero or negative fields take the defaults.
type Timing struct {
	// Interval is the pause between rounds when nothing happens
	// [DefaultInterval].
	Interval time.Duration
	// RetryMin and RetryMax bound the per-item backoff after a failed
	// send (see Backoff) [DefaultRetryMin, DefaultRetryMax].
	RetryMin, RetryMax time.Duration
}

// Loop runs a worker's rounds and spaces its retries. Safe for
// concurrent use.
type Loop struct {
	t    Timing
	kick chan struct{}
}

// New returns a loop with t's timing, defaults filled in.
func New(t Timing) *Loop {
	if t.Interval <= 0 {
		t.Interval = DefaultInterval
	}
	if t.RetryMin <= 0 {
		t.RetryMin = DefaultRetryMin
	}
	if t.RetryMax <= 0 {
		t.RetryMax = DefaultRetryMax
	}
	return &Loop{t: t, kick: make(chan struct{}, 1)}
}

// Timing returns the loop's timing with the defaults filled in.
func (l *Loop) Timing() Timing { return l.t }

// Retry is the wait before an item's next send after a failed one:
// Backoff between the loop's RetryMin and RetryMax.
func (l *Loop) Retry(doublings int) time.Duration {
	return Backoff(l.t.RetryMin, l.t.RetryMax, doublings)
}

// Kick starts a round now (after an item was queued, or when the link
// came back). It never blocks; kicks during a round coalesce into one.
func (l *Loop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run calls round at once, then after every interval or kick, until ctx
// ends, and returns ctx.Err(). When round reports more (a full batch),
// the next one starts at once, so a backlog drains without waiting for
// the ticker. A round's error goes to failed (unless ctx ended) and the
// loop goes on.
func (l *Loop) Run(ctx context.Context, round func(context.Context) (more bool, err error), failed func(error)) error {
	t := time.NewTicker(l.t.Interval)
	defer t.Stop()
	for {
		more, err := round(ctx)
		if err != nil && ctx.Err() == nil && failed != nil {
			failed(err)
		}
		if err == nil && more && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-l.kick:
		}
	}
}

// Backoff is lo·2^doublings capped at hi, with ±25 % jitter so stations
// coming back after a city-wide outage do not retry in step.
func Backoff(lo, hi time.Duration, doublings int) time.Duration {
	d := lo
	for i := 0; i < doublings && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d + time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
}
