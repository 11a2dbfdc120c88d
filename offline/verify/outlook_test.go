package verify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"stationdesk/app"
)

// TestCardOutlookIsTheGatesAnswer: what the desk is told about a card is
// what a gate gets for it over HTTP, for every rider and mode, with the
// cached facts behind it; asking records no gate event.
func TestCardOutlookIsTheGatesAnswer(t *testing.T) {
	cards := []string{"1000751099999999"}
	for _, r := range riders {
		cards = append(cards, r.card)
	}
	for _, mode := range []app.GateMode{app.ModeEnforce, app.ModeTest, app.ModeOff} {
		f := newFixture(t, mode)
		for _, card := range cards {
			t.Run(fmt.Sprintf("%s/%s", mode, card[12:]), func(t *testing.T) {
				before := f.events.n()
				o, err := f.srv.CardOutlook(context.Background(), card)
				if err != nil {
					t.Fatal(err)
				}
				if f.events.n() != before {
					t.Fatal("the outlook was recorded as a gate event")
				}
				r := f.do(t, f.request(t, cardBody(card), signOpts{}))
				if r.status != 200 {
					t.Fatalf("status %d %s", r.status, r.body)
				}
				if string(o.Answer.Decision) != r.ans["decision"] || string(o.Answer.Reason) != r.ans["reason"] {
					t.Fatalf("outlook %+v, gate got %s", o.Answer, r.body)
				}
				if w, ok := r.ans["would_be"]; ok && string(o.Answer.WouldBe) != w {
					t.Fatalf("would-be %q, gate got %v", o.Answer.WouldBe, w)
				}
			})
		}
	}
	f := newFixture(t, app.ModeEnforce)
	old := riders[1] // the test outside the window
	o, err := f.srv.CardOutlook(context.Background(), old.card)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Bound || o.Answer.Reason != app.ReasonTestTooOld || o.NATWindow != app.DefaultPolicy().NATWindow {
		t.Fatalf("%+v", o)
	}
	if d := o.TestAge - old.test; d < -time.Minute || d > time.Minute {
		t.Fatalf("test age %v, the cache holds one %v old", o.TestAge, old.test)
	}
	if o, _ := f.srv.CardOutlook(context.Background(), "1000751099999999"); o.Bound || o.TestAge != -1 {
		t.Fatalf("unbound card: %+v", o)
	}
	if _, err := f.srv.CardOutlook(context.Background(), "12ab"); app.ErrorCode(err) != app.CodeInvalid {
		t.Fatalf("malformed number: %v", err)
	}
}
