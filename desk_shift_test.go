package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/ui"
)

// TestKeyboardOnlyShift: a clerk does a full shift with the keyboard
// alone on the real demo terminal: the UI gets only key
// presses and typed text (the documents and cards are placed on the
// simulated readers, as a clerk's hands would); every step waits for what
// the screen says. docs/operations.md lists the same keys.
func TestKeyboardOnlyShift(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangEN, ui.ScaleLarge, screenSizes[1])
	dev := h.rt.demo.devices
	ctx := context.Background()
	t.Log("login: type 9001, Enter, type the PIN, Enter")
	h.login("9001")

	t.Log("open the shift: F6, Enter")
	h.openShiftByKeys()

	t.Log("sell: F2, ID card on the reader, Right (first destination), token on the reader, Enter")
	h.key(fyne.KeyF2)
	h.shown("the ticket screen", "Step 1")
	if err := dev.PlaceIDCard("green-fresh"); err != nil {
		t.Fatal(err)
	}
	h.shown("the check", "May buy one ticket", "Step 2")
	dev.LiftIDCard()
	h.key(fyne.KeyRight)
	h.shown("a destination chosen", "To pay:")
	if err := dev.PlaceTransitCard(demo.NewTokenItem); err != nil {
		t.Fatal(err)
	}
	h.key(fyne.KeyReturn)
	h.shown("the receipt", "Ticket issued")
	dev.LiftTransitCard()

	t.Log("welfare: F3, ID card, Right, token, Enter")
	h.key(fyne.KeyF3)
	h.shown("the welfare screen", "Step 1")
	if err := dev.PlaceIDCard("elder-special"); err != nil {
		t.Fatal(err)
	}
	h.shown("the eligibility", "Entitled to a welfare ticket")
	dev.LiftIDCard()
	h.key(fyne.KeyRight)
	if err := dev.PlaceTransitCard(demo.NewTokenItem); err != nil {
		t.Fatal(err)
	}
	h.key(fyne.KeyReturn)
	h.shown("the welfare receipt", "Welfare ticket issued")
	dev.LiftTransitCard()

	t.Log("manual check: F4, ID card, 1 (green code), Tab, type the sampling time, Tab, Tab, 1 (pass), Ctrl+Enter")
	h.key(fyne.KeyF4)
	h.shown("the manual-check screen", "Step 1")
	if err := dev.PlaceIDCard("green-72h"); err != nil {
		t.Fatal(err)
	}
	h.shown("the manual-check form", "Health code shown", "Record the check (Ctrl+Enter)")
	dev.LiftIDCard()
	h.key(fyne.KeyF1)
	var help string
	h.loop.run(func() { help = h.overlayTexts() })
	for _, want := range []string{"1 … 4", "Health code shown", "1 / 2", "Ctrl+Enter", "Record the check"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help of the manual check lacks %q:\n%s", want, help)
		}
	}
	h.key(fyne.KeyEscape)
	h.typeText("1")
	h.tab()
	h.typeText(h.rt.clock.Now().In(app.ChinaTime()).Add(-24 * time.Hour).Format("2006-01-02 15:04"))
	h.shown("the certificate inside the window", "inside the")
	h.tab()
	h.tab()
	h.typeText("1")
	h.ctrl(fyne.KeyReturn)
	h.shown("the check recorded", "Manual check passed and recorded.", "Go on to a sale (Ctrl+Enter)", "Next rider (Ctrl+N)")

	t.Log("look-up: F8, type the card number, Enter")
	h.key(fyne.KeyF8)
	h.shown("the look-up screen", "Card look-up")
	h.typeText("1000200002")
	h.key(fyne.KeyReturn)
	h.shown("the look-up answer", "1000 2000 02", "At the gates now")

	t.Log("upgrade: F7, ID card, Enter (Next), card on the reader, Enter (Next), Enter (Confirm)")
	h.key(fyne.KeyF7)
	h.shown("the upgrade screen", "1 Document")
	if err := dev.PlaceIDCard("student"); err != nil {
		t.Fatal(err)
	}
	h.shown("the document read", "Next (Enter)")
	dev.LiftIDCard()
	h.key(fyne.KeyReturn)
	h.shown("the card step", "2 Card")
	if err := dev.PlaceTransitCard("1000500001"); err != nil {
		t.Fatal(err)
	}
	h.shown("the card read", "Student card", "Next (Enter)")
	h.key(fyne.KeyReturn)
	h.shown("the confirmation", "Confirm (Enter)")
	h.key(fyne.KeyReturn)
	h.shown("the upgrade result", "4 Result", "Upgraded")
	dev.LiftTransitCard()

	t.Log("close the shift: F6, Ctrl+Enter, Ctrl+Enter")
	h.key(fyne.KeyF6)
	h.shown("the open shift", "Close shift")
	h.ctrl(fyne.KeyReturn)
	h.shown("the question", "Confirm: close the shift")
	h.ctrl(fyne.KeyReturn)
	h.eventually("the shift closed", func() bool { _, ok, _ := h.rt.shifts.Current(ctx); return !ok })
	h.shown("the final report", "Shift closed.")
}

// openShiftByKeys opens the shift as a clerk does on an English desk: F6,
// then Enter on the focused Open shift.
func (h *demoDesk) openShiftByKeys() {
	h.t.Helper()
	h.key(fyne.KeyF6)
	h.shown("the shift screen", "No shift is open at this window.")
	h.key(fyne.KeyReturn)
	h.eventually("the shift open", func() bool { _, ok, _ := h.rt.shifts.Current(context.Background()); return ok })
}
