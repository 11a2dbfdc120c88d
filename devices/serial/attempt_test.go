package serial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
)

// TestTwoTries: the retry policy of the card readers, outcome by outcome.
func TestTwoTries(t *testing.T) {
	errCard := errors.New("card stopped answering")
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name      string
		tries     []error // what each try returns
		refind    []bool  // present at each refind
		refindErr error
		wantTries int
		wantLast  error
		wantFatal error
		ctxCancel bool
	}{
		{name: "FirstTryReads", tries: []error{nil}, wantTries: 1},
		{name: "SecondTryReads", tries: []error{errCard, nil}, refind: []bool{true}, wantTries: 2},
		{name: "BothFailGiveLast", tries: []error{errCard, ErrBadFrame}, refind: []bool{true}, wantTries: 2, wantLast: ErrBadFrame},
		{name: "CardGoneBeforeRetry", tries: []error{errCard}, refind: []bool{false}, wantTries: 1, wantLast: errCard},
		{name: "NoAnswerToRefind", tries: []error{errCard}, refind: []bool{false}, refindErr: fmt.Errorf("find: %w", ErrNoReply), wantTries: 1, wantLast: errCard},
		{name: "RefindPortFailure", tries: []error{errCard}, refind: []bool{false}, refindErr: ErrDisconnected, wantTries: 1, wantFatal: ErrDisconnected},
		{name: "DisconnectedIsFatal", tries: []error{fmt.Errorf("read: %w", ErrDisconnected)}, wantTries: 1, wantFatal: ErrDisconnected},
		{name: "ContextEndedIsFatal", tries: []error{errCard}, wantTries: 1, wantFatal: errCard, ctxCancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tries, refinds := 0, 0
			last, fatal := TwoTries(ctx, log, "try failed", func(context.Context) (bool, error) {
				p := tc.refind[refinds]
				refinds++
				return p, tc.refindErr
			}, func(context.Context) error {
				err := tc.tries[tries]
				tries++
				if tc.ctxCancel {
					cancel()
				}
				return err
			})
			if tries != tc.wantTries {
				t.Errorf("%d tries, want %d", tries, tc.wantTries)
			}
			if !errors.Is(fatal, tc.wantFatal) || (tc.wantFatal == nil && fatal != nil) {
				t.Errorf("fatal %v, want %v", fatal, tc.wantFatal)
			}
			if tc.wantFatal == nil && (!errors.Is(last, tc.wantLast) || (tc.wantLast == nil && last != nil)) {
				t.Errorf("last %v, want %v", last, tc.wantLast)
			}
		})
	}
}
