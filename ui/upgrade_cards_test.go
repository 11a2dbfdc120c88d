package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"stationdesk/app"
)

// TestBoundCardsToldApart: rider green-fresh has a physical card and a
// phone NFC card that both mask to ******0001. Every list names each by
// form and kind in words with the date it was bound; the unbind form warns
// that the other card ends in the same digits and refuses the phone card
// read on the reader when the physical card is to be unbound (central
// would unbind whichever full number it is sent).
func TestBoundCardsToldApart(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	r := rider(t, "green-fresh")
	h.placeID(r.Identity)
	h.wantText("bindings list",
		"Physical card  ******0001 · Ordinary Yikatong card · bound 2026-03-14",
		"Phone NFC card  ******0001 · Ordinary Yikatong card · bound 2026-06-02")

	// Unbind the physical card: the heading names it in full words, and
	// the form warns about the phone card with the same last digits.
	unbind := findWidget(h.win.Content(), func(b *deskButton) bool { return b.Text == "Unbind…" })
	if unbind == nil {
		t.Fatalf("no unbind button:\n%s", h.screenText())
	}
	var physical app.Binding
	for _, b := range h.flow().holder.bindings.Bindings {
		if b.Form == app.FormPhysical {
			physical = b
		}
	}
	f := h.flow()
	f.unbind = &unbindState{target: physical, key: app.NewIdempotencyKey()}
	f.redraw()
	h.wantText("unbind heading", "Unbind Physical card  ******0001 · Ordinary Yikatong card · bound 2026-03-14",
		"Phone NFC card  ******0001 · Ordinary Yikatong card · bound 2026-06-02 ends in the same digits")
	nfc := demoCard(t, "1000300001")
	h.placeCard(nfc)
	if f.unbind == nil || f.unbind.number != "" {
		t.Fatal("the phone card was taken to unbind the physical card")
	}
	h.wantText("refused", "That is card Phone NFC card ******0001, not Physical card ******0001.")
	h.placeCard(demoCard(t, "1000200001"))
	if f.unbind == nil || f.unbind.number != "1000200001" {
		t.Fatalf("the physical card was not taken:\n%s", h.screenText())
	}

	// In Chinese the lists say the same in Chinese words.
	h.tap("Cancel")
	h.key(fyne.KeyF12)
	h.wantText("zh list", "实体卡  ******0001 · 普通一卡通 · 绑定于 2026-03-14", "手机NFC卡  ******0001 · 普通一卡通 · 绑定于 2026-06-02")
}

// TestCardOnReaderDoesNotClobberTyping: on the unbind form the clerk types
// the old card's number while another card lies on the reader. The card
// read does not clear or replace what is typed (before, each read of the
// wrong card cleared the field); the right card read while typing is
// offered, not taken over the typing.
func TestCardOnReaderDoesNotClobberTyping(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.placeID(rider(t, "helper-proxy").Identity)
	h.tap("Unbind…")
	h.typeFocused("100020")
	h.placeCard(demoCard(t, "1000200002")) // someone else's card on the reader
	h.wantText("wrong card told", "That is card ******0002, not ******0011.")
	if got := h.flow().unbind.text; got != "100020" {
		t.Fatalf("typed text became %q", got)
	}
	h.typeFocused("0011")
	e, _ := h.win.Canvas().Focused().(*Entry)
	if e == nil || e.Text != "1000200011" {
		t.Fatalf("typing went on into %v", e)
	}

	// The right card placed while the clerk still types: offered.
	h.key(fyne.KeyBackspace)
	h.placeCard(demoCard(t, "1000200011"))
	if h.flow().unbind.number != "" {
		t.Fatal("the card read replaced the number being typed")
	}
	if e := h.win.Canvas().Focused().(*Entry); e.Text != "100020001" {
		t.Fatalf("typed text became %q", e.Text)
	}
	h.tap("Use the card on the reader (******0011)")
	h.wantText("asked", "Yes, unbind (Enter)")
	if h.flow().unbind.number != "1000200011" {
		t.Fatal("the offered card was not used")
	}
}

// TestCardPlacedBeforeStepIsTaken: the clerk looked the card up first (it
// still lies on the reader), then starts the upgrade; at the card step the
// card lying there is the one wanted and is taken, not refused as "not the
// one wanted here". The previous rider's card stays refused
// (TestPreviousRidersCardNotTaken), and so does a card turned down with
// "Another card".
func TestCardPlacedBeforeStepIsTaken(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	card := demoCard(t, "1000200002")
	h.key(fyne.KeyF3)
	h.cards.push(card)
	h.lookupRedraw()
	h.wantText("looked up", "1000 2000 02")
	h.key(fyne.KeyF2)
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.placeCard(card) // still lying there
	if !h.flow().haveCard || h.flow().card.Number != card.Number {
		t.Fatalf("the card looked up just before was not taken:\n%s", h.screenText())
	}
	if strings.Contains(h.screenText(), "not the one wanted here") {
		t.Fatal("the wanted card was called unwanted")
	}

	// Turned down: while it lies there it is not taken again.
	h.tap("Another card")
	h.placeCard(card)
	if h.flow().haveCard {
		t.Fatal("the card turned down was taken again")
	}
	h.wantText("told", "The card on the reader (******0002) is not the one wanted here")

	// The same rider starting again with the same card: taken.
	h.tap("New rider (Ctrl+N)")
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.placeCard(card)
	if !h.flow().haveCard {
		t.Fatal("the same rider's card was refused on a new start")
	}
}
