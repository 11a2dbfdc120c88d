package gatesync

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"stationdesk/app"
)

// TestStatusCarriesTheCauseNotItsWording: with central down the board's
// central status holds the classified error itself, so each screen words
// it in its own language, and the gate cache's detail is a phrase with its
// version and age as fields, not text.
func TestStatusCarriesTheCauseNotItsWording(t *testing.T) {
	ctx := context.Background()
	var down atomic.Bool
	e := newEnv(t, 100, downWhen(&down))
	board := app.NewStatusBoard(e.clock)
	e.cl.cfg.Status = board
	e.cl.step(ctx, true)
	if st := board.Get(app.CompCentral); st.State != app.StateReady || st.Err != nil {
		t.Fatalf("central after a sync: %s %v", st.State, st.Err)
	}
	gc := board.Get(app.CompGateCache)
	if gc.State != app.StateReady || gc.Detail != "version {{.Version}}, {{.Age}} old" || gc.Args["Version"] == nil {
		t.Fatalf("gate cache after a sync: %s %q %v", gc.State, gc.Detail, gc.Args)
	}

	down.Store(true)
	e.cl.step(ctx, true)
	st := board.Get(app.CompCentral)
	if st.State != app.StateOffline || st.Err == nil || st.Detail != "" {
		t.Fatalf("central down: %s err=%v detail=%q", st.State, st.Err, st.Detail)
	}
	en, zh := app.UserMessage(st.Err, app.LangEN), app.UserMessage(st.Err, app.LangZH)
	if en == zh || strings.IndexFunc(en, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 ||
		strings.IndexFunc(zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) < 0 {
		t.Errorf("the cause does not speak both languages: en %q, zh %q", en, zh)
	}
}
