package serial

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// LinkState is what Keep tells its observer about the port.
type LinkState int

// Link states, in the order they usually happen.
const (
	LinkConnecting LinkState = iota // opening (first time or after a loss)
	LinkUp                          // open; the session runs
	LinkDown                        // lost or failed to open; retrying after a backoff
)

func (s LinkState) String() string {
	switch s {
	case LinkConnecting:
		return "connecting"
	case LinkUp:
		return "up"
	case LinkDown:
		return "down"
	}
	return "unknown"
}

// KeepConfig configures Keep.
type KeepConfig struct {
	Path        string
	Baud        int
	ReadTimeout time.Duration // per read; DefaultReadTimeout when 0
	// MinBackoff and MaxBackoff bound the wait between reopen attempts
	// (defaults 100 ms and 800 ms). MaxBackoff plus one open is the worst
	// delay between a replug and the port being up again; keep it well
	// under the 2 s the issue allows.
	MinBackoff, MaxBackoff time.Duration
	// OnState, if set, is called on every state change, on Keep's
	// goroutine; err is the reason for LinkDown (nil otherwise). It must
	// not block.
	OnState func(s LinkState, err error)
	Logger  *slog.Logger // the caller's logger; it is expected to name the port already
}

// Session is a driver's work on an open port. It returns when the port
// fails (an error matching ErrDisconnected), when ctx ends, or for any
// other reason the driver wants the port reopened. Keep closes the port.
type Session func(ctx context.Context, p *Port) error

// Keep opens cfg.Path and runs session on it until ctx ends, reopening the
// port with exponential backoff whenever it cannot be opened or the session
// returns. It returns ctx.Err() (never anything else) and has closed every
// port it opened by then.
func Keep(ctx context.Context, cfg KeepConfig, session Session) error {
	minB, maxB := cfg.MinBackoff, cfg.MaxBackoff
	if minB <= 0 {
		minB = 100 * time.Millisecond
	}
	if maxB < minB {
		maxB = 800 * time.Millisecond
		if maxB < minB {
			maxB = minB
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	notify := func(s LinkState, err error) {
		if cfg.OnState != nil {
			cfg.OnState(s, err)
		}
	}
	backoff := minB
	var lastErr error
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		notify(LinkConnecting, nil)
		p, err := Open(cfg.Path, cfg.Baud, cfg.ReadTimeout)
		if err == nil {
			notify(LinkUp, nil)
			log.Info("serial port up", "baud", cfg.Baud)
			start := time.Now()
			err = session(ctx, p)
			_ = p.Close()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Since(start) > 2*maxB {
				backoff = minB // it ran for a while: a fresh loss, retry fast
			}
			if err == nil {
				err = errors.New("session ended")
			}
			log.Warn("serial port lost", "err", err)
		} else if lastErr == nil || lastErr.Error() != err.Error() {
			log.Warn("serial port open failed", "err", err)
		}
		lastErr = err
		notify(LinkDown, err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff *= 2
		if backoff > maxB {
			backoff = maxB
		}
	}
}
