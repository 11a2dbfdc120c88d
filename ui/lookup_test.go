package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// lookupRedraw starts a new reader wait on the look-up screen (a card was
// placed).
func (h *upHarness) lookupRedraw() {
	h.t.Helper()
	st, _ := h.desk.states["lookup"].(*lookupState)
	if st == nil {
		h.t.Fatal("no look-up state")
	}
	st.redraw()
}

// TestCardLookup: the number very large in groups of four, the kind,
// bound or not (masked holder), and why a card cannot be upgraded.
func TestCardLookup(t *testing.T) {
	cases := []struct {
		name  string
		card  app.Card
		typed bool
		want  []string
		tone  Tone
	}{
		{"WornCardRead", app.Card{Number: demo.WornCardNumber, Kind: app.CardOrdinary, Form: app.FormPhysical}, false,
			[]string{"1000 2000 12", "Ordinary Yikatong card", "Not bound (not upgraded)"}, ToneNone},
		{"BoundCardShowsMaskedHolder", app.Card{Number: "1000200001"}, true,
			[]string{"1000 2000 01", "Bound (upgraded) to 1**************036"}, ToneNone},
		{"UnionPayTyped", app.Card{Number: demo.UnionPayNumber}, true,
			[]string{"6216 6100 0000 0099", "UnionPay card", "UnionPay cards cannot be upgraded.", "银联卡不能升级。"}, ToneError},
		{"UnionPayReadWithoutNumber", app.Card{Kind: app.CardUnionPay, Form: app.FormPhysical}, false,
			[]string{"UnionPay cards cannot be upgraded.", "This card carries no transit card number.", "UnionPay card"}, ToneError},
		{"SpecialCard", app.Card{Number: demo.CivilAffairsNo, Kind: app.CardCivilAffairs, Form: app.FormPhysical}, false,
			[]string{"1000 7000 01", "Upgraded automatically by the backend (special card)."}, ToneInfo},
		{"UnknownNumber", app.Card{Number: "1234 5678 90"}, true,
			[]string{"1234 5678 90", "Central has no record of this card number"}, ToneNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newUpHarness(t, app.LangEN)
			h.key(fyne.KeyF3)
			if h.desk.CurrentScreen() != "lookup" {
				t.Fatalf("F3 showed %q", h.desk.CurrentScreen())
			}
			if c.typed {
				h.typeFocused(c.card.Number)
				h.key(fyne.KeyReturn)
			} else {
				h.cards.push(c.card)
				h.lookupRedraw()
			}
			h.wantText(c.name, c.want...)
			if c.tone != ToneNone {
				if b := h.banner(); b.Tone() != c.tone {
					t.Fatalf("banner tone %v %q", b.Tone(), b.Text())
				}
			}
			if strings.Contains(h.screenText(), "110101198803140036") {
				t.Fatal("full holder number shown")
			}
			// A language switch keeps the result.
			h.key(fyne.KeyF12)
			h.wantText("after F12", c.want[0])
		})
	}
}

// TestLookupOffline: the number is shown even when central cannot be asked.
func TestLookupOffline(t *testing.T) {
	h := newUpHarness(t, app.LangZH)
	h.central.setOffline(true)
	h.key(fyne.KeyF3)
	h.cards.push(app.Card{Number: demo.WornCardNumber, Kind: app.CardOrdinary, Form: app.FormPhysical})
	h.lookupRedraw()
	h.wantText("offline", "1000 2000 12", "暂时无法查询中心系统，目前无法确定此卡是否已绑定。")
}

// TestPendingListStates shows waiting and settled items with reasons.
func TestPendingListStates(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.central.setOffline(true)
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, "1000200002"))
	h.tap("Next (Enter)")
	h.tap("Confirm (Enter)")
	key := h.outbox.keys()[0]
	h.key(fyne.KeyF4)
	h.wantText("waiting", "Waiting", "1 waiting, 1 in the list")
	_ = h.outbox.SettlePending(context.Background(), key, app.PendingRefused, string(app.CentralBoundToOther))
	h.tap("Refresh")
	h.wantText("refused", "Refused", "0 waiting, 1 in the list", "This card is bound to another person.")
}

// TestLookupDoesNotRepeatLyingCard: the card just looked up still lies on
// the reader; it is not looked up again and again.
func TestLookupDoesNotRepeatLyingCard(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.key(fyne.KeyF3)
	worn := app.Card{Number: demo.WornCardNumber, Kind: app.CardOrdinary, Form: app.FormPhysical}
	h.cards.push(worn, worn, worn)
	h.lookupRedraw()
	h.wantText("looked up", "1000 2000 12")
	h.audit.mu.Lock()
	n := 0
	for _, e := range h.audit.entries {
		if e.Action == app.ActCardLookup {
			n++
		}
	}
	h.audit.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d look-ups for one card lying on the reader, want 1", n)
	}
}

// TestLookupCardDoesNotClobberTyping: the clerk is typing a number on the
// look-up screen when a card is placed on the reader. What is typed stays
// (before, the card was looked up at once and the field emptied); the card
// is offered as "Use the card on the reader (******0012)", which looks it
// up; Enter looks up what was typed.
func TestLookupCardDoesNotClobberTyping(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.key(fyne.KeyF3)
	h.typeFocused("100020")
	worn := app.Card{Number: demo.WornCardNumber, Kind: app.CardOrdinary, Form: app.FormPhysical}
	h.cards.push(worn)
	h.lookupRedraw()
	if e, _ := h.win.Canvas().Focused().(*Entry); e == nil || e.Text != "100020" {
		t.Fatalf("the typed number is gone (focus %T):\n%s", h.win.Canvas().Focused(), h.screenText())
	}
	if strings.Contains(h.screenText(), "1000 2000 12") {
		t.Fatalf("the card read was looked up over the typing:\n%s", h.screenText())
	}
	h.wantText("offered", "The number you are typing stays")
	h.typeFocused("0002")
	if e, _ := h.win.Canvas().Focused().(*Entry); e == nil || e.Text != "1000200002" {
		t.Fatalf("typing did not go on:\n%s", h.screenText())
	}

	h.tap("Use the card on the reader (******0012)")
	h.wantText("the card on the reader looked up", "1000 2000 12", "Ordinary Yikatong card")

	// Typed again with the card still lying there: Enter looks up the
	// typed number.
	h.typeFocused("1000200002")
	h.key(fyne.KeyReturn)
	h.wantText("the typed number looked up", "1000 2000 02")
	if h.findButton("Use the card on the reader (******0012)") != nil && h.desk.onShow(h.findButton("Use the card on the reader (******0012)")) {
		t.Fatal("the offer stayed after the typed look-up")
	}
}
