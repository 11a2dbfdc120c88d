package main

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// tapText taps the first visible tappable widget (a button) showing text,
// as the mouse would.
func (h *demoDesk) tapText(text string) {
	h.t.Helper()
	var hit fyne.Tappable
	h.loop.run(func() {
		walkVisible(h.win.Canvas().Content(), func(o fyne.CanvasObject) bool {
			if hit != nil {
				return false
			}
			if tp, ok := o.(fyne.Tappable); ok && strings.Contains(textsOf(o), text) {
				hit = tp
				return false
			}
			return true
		})
		if hit != nil {
			test.Tap(hit)
		}
	})
	if hit == nil {
		h.t.Fatalf("no %q to tap:\n%s", text, h.texts())
	}
}

// actionStates runs a supervisor's actions on the demo terminal (logged in
// already, English) and calls at in each state they lead to, with the
// result the state shows ("" for a form on its way): the shift opened, a
// filled sale form and its receipt, a welfare exchange, a manual check,
// every step of an upgrade and its result, an unbind and a look-up.
func (h *demoDesk) actionStates(at func(state, result string)) {
	t := h.t
	t.Helper()
	dev := h.rt.demo.devices
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	h.openShiftByKeys()
	at("shift open", "")

	h.key(fyne.KeyF2)
	h.shown("the ticket screen", "Step 1")
	must(dev.PlaceIDCard("green-fresh"))
	h.shown("the check", "May buy one ticket", "Step 2")
	dev.LiftIDCard()
	h.key(fyne.KeyRight)
	h.shown("a destination chosen", "To pay:")
	at("sale form filled", "")
	must(dev.PlaceTransitCard(demo.NewTokenItem))
	h.key(fyne.KeyReturn)
	h.shown("the receipt", "Ticket issued")
	dev.LiftTransitCard()
	at("ticket sold", "Ticket issued")

	h.key(fyne.KeyF3)
	h.shown("the welfare screen", "Step 1")
	must(dev.PlaceIDCard("elder-special"))
	h.shown("the eligibility", "Entitled to a welfare ticket")
	dev.LiftIDCard()
	at("welfare eligible", "")
	h.key(fyne.KeyRight)
	must(dev.PlaceTransitCard(demo.NewTokenItem))
	h.key(fyne.KeyReturn)
	h.shown("the welfare receipt", "Welfare ticket issued")
	dev.LiftTransitCard()
	at("welfare issued", "Welfare ticket issued")

	h.key(fyne.KeyF4)
	h.shown("the manual-check screen", "Step 1")
	must(dev.PlaceIDCard("green-72h"))
	h.shown("the manual-check form", "Health code shown", "Record the check")
	dev.LiftIDCard()
	h.typeText("1")
	h.tab()
	h.typeText(h.rt.clock.Now().In(app.ChinaTime()).Add(-24 * time.Hour).Format("2006-01-02 15:04"))
	h.tab()
	h.typeText("Beijing CDC")
	h.tab()
	h.typeText("1")
	h.shown("the form filled", "inside the")
	at("manual check filled", "")
	h.ctrl(fyne.KeyReturn)
	h.shown("the check recorded", "Manual check passed and recorded.")
	at("manual check recorded", "Manual check passed and recorded.")

	h.key(fyne.KeyF7)
	h.shown("the upgrade screen", "1 Document")
	at("upgrade document", "")
	must(dev.PlaceIDCard("student"))
	h.shown("the document read", "Next (Enter)")
	dev.LiftIDCard()
	at("upgrade document read", "")
	h.key(fyne.KeyReturn)
	h.shown("the card step", "2 Card")
	at("upgrade card", "")
	must(dev.PlaceTransitCard("1000500001"))
	h.shown("the card read", "Student card", "Next (Enter)")
	at("upgrade card read", "")
	h.key(fyne.KeyReturn)
	h.shown("the confirmation", "Confirm (Enter)")
	at("upgrade confirm", "")
	h.key(fyne.KeyReturn)
	h.shown("the upgrade result", "4 Result", "Upgraded")
	dev.LiftTransitCard()
	at("upgrade result", "Upgraded")

	h.ctrl(fyne.KeyN)
	h.shown("a new rider", "1 Document")
	must(dev.PlaceIDCard("green-fresh"))
	h.shown("the bound cards", "Unbind…")
	dev.LiftIDCard()
	h.tapText("Unbind…")
	h.shown("the unbind form", "Number of the card to unbind")
	at("unbind form", "")
	must(dev.PlaceTransitCard("1000200001"))
	h.shown("the unbind question", "Yes, unbind (Enter)")
	at("unbind asked", "")
	h.key(fyne.KeyReturn)
	h.shown("the unbind result", "Unbound")
	dev.LiftTransitCard()
	at("unbind done", "Unbound")

	h.key(fyne.KeyF8)
	h.shown("the look-up screen", "Card look-up")
	h.typeText("1000200002")
	h.key(fyne.KeyReturn)
	h.shown("the look-up answer", "1000 2000 02", "At the gates now")
	at("look-up answer", "1000 2000 02")
	at("look-up gates' answer", "At the gates now")
}
