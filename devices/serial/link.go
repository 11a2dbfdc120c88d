package serial

// The two card-reader drivers (ID card, transit card) share the parts in
// link.go and poll.go: a request/response exchange on an open port with
// line-noise accounting (Link); the queue of callers with the device's
// answering state (Queue); a session's life on the port, a handshake until
// the device answers and then a poll (Converse); and the wiring of the
// three into a driver (Reader). The drivers keep only their protocol.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNoReply means the device sent no usable answer to a request within the
// exchange's timeout.
var ErrNoReply = errors.New("serial: no reply from the device")

// ErrBadFrame means the device answered with a frame that failed its check
// (checksum, length): the answer was there but garbled. It matches
// ErrNoReply too, so a caller that only cares whether an answer came can
// test for that alone.
var ErrBadFrame = fmt.Errorf("serial: the device's answer was garbled (%w)", ErrNoReply)

// Decoder turns a device's byte stream into replies and framing errors. A
// decoder that also has Buffered() int (the bytes of an incomplete frame it
// holds) makes Link flush the port before a request while it holds some.
type Decoder[R any] interface {
	Feed(p []byte) (replies []R, errs []error)
	Reset()
}

// LinkConfig configures a Link. Zero values take the defaults in brackets.
type LinkConfig struct {
	// NoiseLimit framing errors within NoiseWindow mark the line
	// misconfigured (a wrong baud rate, another device on the port)
	// [5 in 10 s].
	NoiseLimit  int
	NoiseWindow time.Duration
	// Misconfigured is called when the line becomes misconfigured (true)
	// and when a good answer comes after the window has emptied (false).
	// It may be nil.
	Misconfigured func(on bool)
	// Rejected says whether a framing error is a whole frame that failed
	// its check (as opposed to stray bytes between frames); nil: none is.
	// Only exchanges with StopOnBadFrame use it.
	Rejected func(error) bool
	Logger   *slog.Logger // [discard]
}

// Link is one session's request/response view of an open port. It is not
// safe for concurrent use: one session goroutine owns it.
type Link[R any] struct {
	p      *Port
	dec    Decoder[R]
	cfg    LinkConfig
	log    *slog.Logger
	buf    []byte
	noise  []time.Time // times of recent framing errors
	misCfg bool
	dirty  bool // a request timed out: its answer may still come
}

// NewLink returns a Link on p reading with dec.
func NewLink[R any](p *Port, dec Decoder[R], cfg LinkConfig) *Link[R] {
	if cfg.NoiseLimit <= 0 {
		cfg.NoiseLimit = 5
	}
	if cfg.NoiseWindow <= 0 {
		cfg.NoiseWindow = 10 * time.Second
	}
	if cfg.Misconfigured == nil {
		cfg.Misconfigured = func(bool) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Link[R]{p: p, dec: dec, cfg: cfg, log: log, buf: make([]byte, 2048)}
}

// Stale says the input may hold an answer meant for somebody else (a new
// session on a port that was in use): the next exchange flushes first.
func (l *Link[R]) Stale() { l.dirty = true }

// Misconfigured reports whether the line is marked misconfigured.
func (l *Link[R]) Misconfigured() bool { return l.misCfg }

// Exchange is one request's options.
type Exchange struct {
	Timeout time.Duration // how long to wait for the answer
	// StopOnBadFrame ends the wait at the first rejected frame (see
	// LinkConfig.Rejected) with ErrBadFrame, for a long answer that a
	// device sends once: waiting out the timeout would only delay the
	// error.
	StopOnBadFrame bool
}

// Do writes frame and waits for the first reply. It returns port errors as
// they come (ErrDisconnected), ctx.Err() when ctx ends, ErrBadFrame (see
// Exchange.StopOnBadFrame) and an error matching ErrNoReply when no reply
// came in time; ErrNoReply is wrapped in ErrBadFrame when a rejected
// frame was all that came.
func (l *Link[R]) Do(ctx context.Context, frame []byte, x Exchange) (R, error) {
	var zero R
	if l.dirty || buffered(l.dec) > 0 {
		// A late answer to an earlier request must not pass for this one.
		// (Not flushed on every request: each syscall counts in the idle
		// budget.)
		_ = l.p.Flush()
		l.dirty = false
	}
	l.dec.Reset()
	if _, err := l.p.Write(frame); err != nil {
		return zero, err
	}
	rejected := false
	deadline := time.Now().Add(x.Timeout)
	for {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		n, err := l.p.Read(l.buf)
		if err != nil && !errors.Is(err, ErrTimeout) {
			return zero, err
		}
		if n > 0 {
			reps, errs := l.dec.Feed(l.buf[:n])
			for _, e := range errs {
				l.noisy(e)
				if l.cfg.Rejected != nil && l.cfg.Rejected(e) {
					rejected = true
				}
			}
			if len(reps) > 0 {
				l.clean()
				return reps[0], nil
			}
			if rejected && x.StopOnBadFrame {
				l.dirty = true
				return zero, ErrBadFrame
			}
		}
		if time.Now().After(deadline) {
			l.dirty = true
			if rejected {
				return zero, ErrBadFrame
			}
			return zero, ErrNoReply
		}
	}
}

func buffered(d any) int {
	if b, ok := d.(interface{ Buffered() int }); ok {
		return b.Buffered()
	}
	return 0
}

// noisy records a framing problem; enough of them in the window mark the
// line misconfigured (a wrong baud rate looks like garbage).
func (l *Link[R]) noisy(err error) {
	now := time.Now()
	l.noise = append(l.noise, now)
	cut := 0
	for cut < len(l.noise) && now.Sub(l.noise[cut]) > l.cfg.NoiseWindow {
		cut++
	}
	l.noise = l.noise[cut:]
	if len(l.noise) > l.cfg.NoiseLimit {
		l.noise = l.noise[len(l.noise)-l.cfg.NoiseLimit:]
	}
	l.log.Debug("line noise", "err", err, "recent", len(l.noise))
	if len(l.noise) >= l.cfg.NoiseLimit && !l.misCfg {
		l.misCfg = true
		l.log.Warn("reader misconfigured: noise on the line", "errors", len(l.noise))
		l.cfg.Misconfigured(true)
	}
}

// clean notes a good frame; the misconfigured state ends once the window
// holds no noise.
func (l *Link[R]) clean() {
	if l.misCfg && (len(l.noise) == 0 || time.Since(l.noise[len(l.noise)-1]) > l.cfg.NoiseWindow) {
		l.misCfg = false
		l.noise = l.noise[:0]
		l.cfg.Misconfigured(false)
	}
}
