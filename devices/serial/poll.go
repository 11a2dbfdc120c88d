package serial

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"stationdesk/app"
)

// Queue is the callers' side of a polled reader: the waiting callers
// (Pending) and whether the device answers, which decides what a caller
// that gives up is told. The zero value is ready; it is safe for
// concurrent use.
type Queue[Q, A any] struct {
	Pending[Q, A]
	mu sync.Mutex
	up bool
}

// SetUp records whether the device answers.
func (q *Queue[Q, A]) SetUp(up bool) { q.mu.Lock(); q.up = up; q.mu.Unlock() }

// Up reports whether the device answers.
func (q *Queue[Q, A]) Up() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.up }

// Ask queues req and returns its answer; when ctx ends first it returns
// down if the device is not answering, timeout if it is (it simply had
// nothing for the caller in time).
func (q *Queue[Q, A]) Ask(ctx context.Context, req Q, down, timeout A) A {
	if a, ok := q.Wait(ctx, q.Add(req)); ok {
		return a
	}
	if !q.Up() {
		return down
	}
	return timeout
}

// Lost records that the port is gone and answers every waiter with a (a
// DriveConfig.Down for the driver).
func (q *Queue[Q, A]) Lost(a A) {
	q.SetUp(false)
	q.AnswerAll(a)
}

// Conversation is a session's life on an open port (see Converse).
type Conversation struct {
	Port string // for the Ready detail
	// Hello asks the device whether it is ready. It returns "" when it
	// is, the StateError detail when it answered that it is not, or an
	// error: matching ErrNoReply when the device did not answer, anything
	// else ends the session.
	Hello func(ctx context.Context) (notReady string, err error)
	// Interval is the pause before each Poll.
	Interval time.Duration
	// Poll asks the device once (is there a card?). An error matching
	// ErrNoReply is a lost answer; anything else ends the session.
	Poll func(ctx context.Context) error
	// Act does what the answer of a Poll calls for (read the card for a
	// waiter), after the state has been updated. An error ends the
	// session. It may be nil.
	Act func(ctx context.Context) error
	// Status reports the device's state; it may be nil.
	Status func(s app.State, detail string)
	// NotAnswering fails every waiter: the device stopped answering. It
	// may be nil.
	NotAnswering func()
	// Up records whether the device answers (Queue.SetUp). It may be nil.
	Up func(bool)
	// Misconfigured reports whether the line is marked misconfigured
	// (Link.Misconfigured): a device that answers again is then not
	// reported Ready. It may be nil.
	Misconfigured func() bool
}

// helloRetry is the pause between handshakes with a device that is not ready.
const helloRetry = time.Second

// Converse runs c on the port until ctx ends (it returns ctx.Err()) or a
// Hello or Poll fails with anything but ErrNoReply or Act fails (it
// returns that). It
// says Hello every second until the device is ready, failing waiters
// meanwhile; then Polls every Interval. One lost answer is noise; two in a
// row are a device that stopped answering (StateError, waiters failed)
// until it answers again.
func Converse(ctx context.Context, c Conversation) error {
	status := c.Status
	if status == nil {
		status = func(app.State, string) {}
	}
	notAnswering := c.NotAnswering
	if notAnswering == nil {
		notAnswering = func() {}
	}
	up := c.Up
	if up == nil {
		up = func(bool) {}
	}
	for {
		notReady, err := c.Hello(ctx)
		if err != nil && !errors.Is(err, ErrNoReply) {
			return err
		}
		if err == nil && notReady == "" {
			break
		}
		if err == nil {
			status(app.StateError, notReady)
		} else {
			status(app.StateError, "reader not responding")
		}
		notAnswering()
		if !Sleep(ctx, helloRetry) {
			return ctx.Err()
		}
	}
	up(true)
	status(app.StateReady, c.Port)
	missed := 0
	for {
		if !Sleep(ctx, c.Interval) {
			return ctx.Err()
		}
		err := c.Poll(ctx)
		if err != nil {
			if !errors.Is(err, ErrNoReply) {
				return err
			}
			if missed++; missed >= 2 {
				up(false)
				status(app.StateError, "reader not responding")
				notAnswering()
			}
			continue
		}
		if missed >= 2 {
			up(true)
			if c.Misconfigured == nil || !c.Misconfigured() {
				status(app.StateReady, c.Port)
			}
		}
		missed = 0
		if c.Act != nil {
			if err := c.Act(ctx); err != nil {
				return err
			}
		}
	}
}

// Sleep waits d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Reader is the wiring a polled card reader shares with the other: its
// port kept open (Drive), its callers (Queue), its line (Link) and its
// session (Converse). Q and A are the driver's request and answer types; the
// three answers are what waiters get when the port is lost, when the reader
// stops answering and when the line is misconfigured.
type Reader[Q, A any] struct {
	Port                   string
	Baud                   int
	MinBackoff, MaxBackoff time.Duration // see KeepConfig
	Interval               time.Duration // between polls
	NoiseLimit             int           // see LinkConfig
	NoiseWindow            time.Duration
	Logger                 *slog.Logger
	Status                 func(s app.State, detail string) // may be nil
	Queue                  *Queue[Q, A]

	Disconnected, NotAnswering, Misconfigured A
}

func (r Reader[Q, A]) status(s app.State, detail string) {
	if r.Status != nil {
		r.Status(s, detail)
	}
}

// Run keeps the port open until ctx ends, running session on it (see
// Drive); a lost port answers every waiter with Disconnected.
func (r Reader[Q, A]) Run(ctx context.Context, session Session) {
	Drive(ctx, DriveConfig{
		Keep: KeepConfig{Path: r.Port, Baud: r.Baud, Logger: r.Logger,
			MinBackoff: r.MinBackoff, MaxBackoff: r.MaxBackoff},
		Status: r.status, Down: func() { r.Queue.Lost(r.Disconnected) },
	}, session)
}

// LinkConfig is the configuration of the reader's Link: a misconfigured
// line is reported ("noise on the line") and answers every waiter with
// Misconfigured; rejected says which framing errors are rejected frames
// (see LinkConfig.Rejected).
func (r Reader[Q, A]) LinkConfig(rejected func(error) bool) LinkConfig {
	return LinkConfig{NoiseLimit: r.NoiseLimit, NoiseWindow: r.NoiseWindow, Logger: r.Logger, Rejected: rejected,
		Misconfigured: func(on bool) {
			if on {
				r.status(app.StateError, "noise on the line — check baud rate")
				r.Queue.AnswerAll(r.Misconfigured)
			} else {
				r.status(app.StateReady, r.Port)
			}
		},
	}
}

// Converse runs a session on link (see Converse): hello, then poll and act
// every Interval; a reader that does not answer answers every waiter with
// NotAnswering.
func (r Reader[Q, A]) Converse(ctx context.Context, link interface{ Misconfigured() bool }, hello func(context.Context) (string, error), poll, act func(context.Context) error) error {
	return Converse(ctx, Conversation{
		Port: r.Port, Hello: hello, Interval: r.Interval, Poll: poll, Act: act,
		Status: r.status, NotAnswering: func() { r.Queue.AnswerAll(r.NotAnswering) },
		Up: r.Queue.SetUp, Misconfigured: link.Misconfigured,
	})
}
