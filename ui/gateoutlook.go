package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"stationdesk/app"
)

// What the gates will do with a card right now, told at the end of an
// upgrade and on card look-up. The answer comes from the verify service's
// own look-up, rules and mode (app.GateOutlooker), never from the desk's
// guess, so the desk cannot say "the gate checks automatically" to a rider
// the gate then refuses. The test age is shown to the clerk only.

// outlookState is one card's outlook, kept in its screen's state so a
// redraw or a language switch does not ask again.
type outlookState struct {
	card      string
	busy      bool
	got       *app.GateOutlook
	err       error
	justBound bool // the card was bound moments ago: not_bound means "not synced yet"
	stop      context.CancelFunc
}

// gateOutlooker is the verify service's outlook, when the desk has one.
func (k *Desk) gateOutlooker() app.GateOutlooker {
	o, _ := k.d.Gates.(app.GateOutlooker)
	return o
}

// refreshOutlook asks the gates' answer for o.card off the UI goroutine and
// calls redraw with it on the UI goroutine. While a just-bound card is not
// in the gate cache yet, it asks again every few seconds (for at most ten
// minutes, until ctx ends or o.halt), unless tickers are off.
func (k *Desk) refreshOutlook(ctx context.Context, o *outlookState, redraw func()) {
	g := k.gateOutlooker()
	if g == nil || o.card == "" || o.busy {
		return
	}
	o.busy = true
	ctx, o.stop = context.WithCancel(ctx)
	card, bg := o.card, k.d.Background
	bg.spawn(func() {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := g.CardOutlook(qctx, card)
			cancel()
			waiting := err == nil && o.justBound && !got.Bound && got.Answer.Reason == app.ReasonNotBound
			last := !waiting || bg.NoTickers || ctx.Err() != nil || time.Now().After(deadline)
			bg.do(func() {
				if o.card != card {
					return
				}
				o.got, o.err = &got, err
				if err != nil {
					o.got = nil
				}
				if last || ctx.Err() != nil {
					o.busy = false
				}
				if ctx.Err() == nil {
					redraw()
				}
			})
			if last {
				return
			}
			select {
			case <-ctx.Done():
				bg.do(func() {
					if o.card == card {
						o.busy = false
					}
				})
				return
			case <-time.After(3 * time.Second):
			}
		}
	})
}

// halt ends o's asking again (the rider is gone or the screen left).
func (o *outlookState) halt() {
	if o.stop != nil {
		o.stop()
	}
}

// outlookView shows o: a banner with the gate's decision as heading and
// what it means for the rider, with a button to ask again.
func (k *Desk) outlookView(ctx context.Context, o *outlookState, redraw func()) fyne.CanvasObject {
	if k.gateOutlooker() == nil || o.card == "" {
		return container.NewVBox()
	}
	b := NewBanner()
	again := k.newButton(T("Ask the gates again"), func() { k.refreshOutlook(ctx, o, redraw) })
	switch {
	case o.got != nil:
		tone, head, lines := outlookText(*o.got, o.justBound)
		b.Set(tone, head, lines...)
	case o.err != nil:
		b.Set(ToneWarn, T("What the gates will do is not known just now"), k.msg(o.err))
	default:
		b.Set(ToneInfo, T("Asking the gates…"))
	}
	if o.busy {
		again.Disable()
	}
	return container.NewVBox(b, container.NewHBox(again))
}

// outlookText is the heading and lines for one outlook: the decision a gate
// gets now, why, and what the rider can do.
func outlookText(o app.GateOutlook, justBound bool) (Tone, string, []string) {
	a := o.Answer
	r := a.Reason
	var lines []string
	if a.WouldBe != "" {
		lines = append(lines, T("The gates are in test mode: staff decide at the gate; the rules say: {{.D}}.", map[string]any{"D": decisionLabel(a.WouldBe)}))
		r = a.WouldBeReason
	}
	head := T("At the gates now: {{.D}}", map[string]any{"D": decisionLabel(a.Decision)})
	switch r {
	case app.ReasonOK:
		left := o.NATWindow - o.TestAge
		lines = append(lines, T("Green code, negative test {{.Age}} ago: the gates open for this card for {{.Left}} more, unless a newer result arrives.",
			map[string]any{"Age": testAgeText(o.TestAge), "Left": testAgeText(left)}))
	case app.ReasonTestTooOld:
		if o.TestAge < 0 {
			lines = append(lines, T("No negative test result is known: the gates refuse this card until a negative result arrives."))
		} else {
			lines = append(lines, T("Last negative test {{.Age}} ago, older than {{.Window}}: the gates refuse this card until a new negative result arrives.",
				map[string]any{"Age": testAgeText(o.TestAge), "Window": testAgeText(o.NATWindow)}))
		}
	case app.ReasonCodeYellow:
		lines = append(lines, T("Yellow health code: the gates refuse this card until the health code is green again."))
	case app.ReasonCodeRed:
		lines = append(lines, T("Red health code: the gates refuse this card. The rider follows the health authority's instructions."))
	case app.ReasonCardBlocked:
		lines = append(lines, T("The card is reported lost or blocked: the gates refuse it. Use another card."))
	case app.ReasonNoHealthAccount:
		lines = append(lines, T("No Beijing health-kit account: at the gate, staff check the rider every time."))
	case app.ReasonNotBound:
		if justBound {
			lines = append(lines, T("The gates do not know this card as upgraded yet: they take it in at the station's next gate-cache sync, usually within minutes. Until then staff check the rider at the gate. This screen asks again by itself."))
		} else {
			lines = append(lines, T("Card not upgraded: at the gate, staff check the rider. Upgrade it at the service desk to pass automatically."))
		}
	case app.ReasonCacheStale, app.ReasonCacheEmpty:
		lines = append(lines, T("The station's gate cache is not current: every gate asks staff to check until it syncs again. Nothing is wrong with this card."))
	case app.ReasonServiceOff:
		lines = append(lines, T("The gate check is switched off: staff check every rider at the gate."))
	default:
		lines = append(lines, T("Reason: {{.R}}", map[string]any{"R": reasonLabel(r)}))
	}
	return decisionTone(a.Decision), head, lines
}

// testAgeText says a test age or window in hours, the unit riders and the
// rules use ("72 h", "48 h"); under an hour in minutes.
func testAgeText(d time.Duration) string {
	if d < time.Hour {
		return ageText(d)
	}
	return T("{{.N}} hours", map[string]any{"N": int(d / time.Hour)})
}
