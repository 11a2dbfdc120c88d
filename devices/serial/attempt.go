package serial

import (
	"context"
	"errors"
	"log/slog"
)

// TwoTries runs try on the card in the field, and once more when it fails
// with card trouble (a card lifted mid-read, radio noise), after refind
// has seen the card there again: the retry policy the two card readers
// share. try returns nil once its result has gone to the caller (the card
// read, or a card the rules refuse), otherwise why it failed; each failure
// is logged as what.
//
// TwoTries returns (nil, nil) when a try succeeded; (last, nil) when the
// card could not be read — both tries failed, or refind no longer found
// the card (or had no answer) — where last is the last try's error, for
// the caller's answer; and (_, err) for a port failure (ErrDisconnected,
// a refind error other than ErrNoReply, or ctx ended), which ends the
// session.
func TwoTries(ctx context.Context, log *slog.Logger, what string, refind func(context.Context) (present bool, err error), try func(context.Context) error) (last, fatal error) {
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			// The retry starts with a fresh find: a lifted card is gone.
			present, err := refind(ctx)
			if err != nil && !errors.Is(err, ErrNoReply) {
				return last, err
			}
			if err != nil || !present {
				break
			}
		}
		err := try(ctx)
		if err == nil {
			return nil, nil
		}
		if errors.Is(err, ErrDisconnected) || ctx.Err() != nil {
			return err, err
		}
		last = err
		log.Warn(what, "attempt", attempt+1, "err", err)
	}
	return last, nil
}

// Probe opens port at baud for one question (the settings screen's "test
// device", the diagnostics command), runs ask on it and closes it. A
// question nobody answered (ErrNoReply) comes back as noAnswer; other
// errors as they are (Open's ErrNotFound …).
func Probe[T any](port string, baud int, noAnswer error, ask func(*Port) (T, error)) (T, error) {
	var zero T
	p, err := Open(port, baud, 0)
	if err != nil {
		return zero, err
	}
	defer p.Close()
	v, err := ask(p)
	if errors.Is(err, ErrNoReply) {
		return zero, noAnswer
	}
	return v, err
}
