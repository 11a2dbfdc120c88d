package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// TestUpgradeOwnCardFromTheKeyboard: a rider places her ID card and her
// card; the clerk only presses Enter; the result is a green banner and
// central bound the card once, with the key made when the flow opened.
func TestUpgradeOwnCardFromTheKeyboard(t *testing.T) {
	h := newUpHarness(t, app.LangZH)
	if h.desk.CurrentScreen() != "upgrade" {
		t.Fatalf("first screen %q, want upgrade", h.desk.CurrentScreen())
	}
	key := h.flow().key
	r := rider(t, "green-72h")
	h.placeID(r.Identity)
	h.wantText("compare step", "110105197911020059", "赵建国", "居民身份证", "暂无。")
	h.key(fyne.KeyReturn) // Next
	h.wantStep(stepCard)
	h.placeCard(demoCard(t, "1000200002"))
	h.wantText("card step", "1000 2000 02", "普通一卡通", "中心系统：此卡尚未绑定。")
	h.key(fyne.KeyReturn) // Next
	h.wantStep(stepConfirm)
	h.wantText("summary", "将要办理", "实体卡  ******0002")
	h.key(fyne.KeyReturn) // Confirm
	h.wantStep(stepResult)
	if b := h.banner(); b.Tone() != ToneOK || !strings.Contains(b.Text(), "升级成功") || !strings.Contains(b.Text(), "Upgraded") {
		t.Fatalf("result banner tone %v %q", b.Tone(), b.Text())
	}
	if h.central.calls() != 1 || h.central.bindKeys[0] != key {
		t.Fatalf("central bind calls %d keys %v, want one with the flow key %s", h.central.calls(), h.central.bindKeys, key)
	}
	if h.central.boundTo("1000200002") != personKey(r.Identity.Doc) {
		t.Fatal("card not bound to the rider")
	}
	// New rider forgets everything.
	h.tap("新乘客 (Ctrl+N)")
	h.wantStep(stepHolder)
	if strings.Contains(h.screenText(), "******0002") || h.flow().key == key {
		t.Fatalf("new rider kept the old rider's data or key:\n%s", h.screenText())
	}
}

// TestUpgradeNFCByTypedNumber: no card on the reader; the clerk types the
// number and chooses the phone NFC form.
func TestUpgradeNFCByTypedNumber(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	r := rider(t, "student")
	h.placeID(r.Identity)
	h.tap("Next (Enter)")
	h.typeFocused("1000 2000 12")
	h.key(fyne.KeyReturn)
	h.wantText("typed card", "1000 2000 12", "Ordinary Yikatong card")
	h.tap("Phone NFC card")
	h.tap("Next (Enter)")
	h.wantText("summary", "Phone NFC card  ******0012")
	h.tap("Confirm (Enter)")
	if b := h.banner(); b.Tone() != ToneOK {
		t.Fatalf("banner %v %q", b.Tone(), b.Text())
	}
	h.central.mu.Lock()
	form := h.central.bound["1000200012"]
	h.central.mu.Unlock()
	if form != app.FormNFC {
		t.Fatalf("bound as %q, want nfc", form)
	}
}

// TestNonUpgradeableCardStopsAtCard: refused kinds never reach the
// confirm step, whether read or typed; central's Bind is never called.
func TestNonUpgradeableCardStopsAtCard(t *testing.T) {
	cases := []struct {
		name  string
		card  app.Card
		typed bool
		want  string
	}{
		{"ReadUnionPay", app.Card{Number: demo.UnionPayNumber, Kind: app.CardUnionPay, Form: app.FormPhysical}, false, "UnionPay cards cannot be upgraded."},
		{"TypedUnionPay", app.Card{Number: demo.UnionPayNumber}, true, "UnionPay cards cannot be upgraded."},
		{"ReadUnionPayWithoutNumber", app.Card{Kind: app.CardUnionPay, Form: app.FormPhysical}, false, "UnionPay cards cannot be upgraded."},
		{"ReadDigitalRMB", app.Card{Number: demo.DCEPNumber, Kind: app.CardDCEPWearable, Form: app.FormPhysical}, false, "Digital-RMB wearables cannot be upgraded."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newUpHarness(t, app.LangEN)
			h.placeID(rider(t, "green-72h").Identity)
			h.tap("Next (Enter)")
			if c.typed {
				h.typeFocused(c.card.Number)
				h.key(fyne.KeyReturn)
			} else {
				h.placeCard(c.card)
			}
			b := h.banner()
			if b.Tone() != ToneError || !strings.Contains(b.Text(), c.want) || !strings.Contains(b.Text(), "ride-QR") {
				t.Fatalf("banner %v %q", b.Tone(), b.Text())
			}
			if h.findButton("Next (Enter)") != nil {
				t.Fatal("a non-upgradeable card offers Next")
			}
			h.key(fyne.KeyReturn) // focus is on "Another card": Enter never reaches confirm
			if h.flow().step == stepConfirm || h.central.calls() != 0 {
				t.Fatalf("step %d, bind calls %d", h.flow().step, h.central.calls())
			}
		})
	}
}

// TestSpecialCardSaysAlreadyUpgraded: the 养老助残卡 needs nothing.
func TestSpecialCardSaysAlreadyUpgraded(t *testing.T) {
	h := newUpHarness(t, app.LangZH)
	h.placeID(rider(t, "elder-special").Identity)
	h.tap("下一步 (回车)")
	h.placeCard(demoCard(t, "1000400001"))
	h.wantText("own special card", "中心系统：此卡已绑定本人。")
	b := h.banner()
	if b.Tone() != ToneInfo || !strings.Contains(b.Text(), "已自动升级") || !strings.Contains(b.Text(), "养老助残卡") {
		t.Fatalf("banner %v %q", b.Tone(), b.Text())
	}
	if h.findButton("下一步 (回车)") != nil || h.central.calls() != 0 {
		t.Fatal("special card offered to bind")
	}
}

// TestLimitReachedThenRebind: a rider with a physical card bound brings
// another; central refuses; the desk offers unbind-then-bind, checks the
// old card presented is the bound one, asks, and re-binds.
func TestLimitReachedThenRebind(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	r := rider(t, "green-fresh")
	h.placeID(r.Identity)
	h.wantText("bindings", "Physical card  ******0001", "Phone NFC card  ******0001")
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, demo.WornCardNumber))
	h.wantText("early warning", "already has a card of this form bound (Physical card  ******0001 · Ordinary Yikatong card")
	h.tap("Next (Enter)")
	h.tap("Confirm (Enter)")
	b := h.banner()
	if b.Tone() != ToneError || !strings.Contains(b.Text(), "one physical and one phone NFC card") {
		t.Fatalf("banner %v %q", b.Tone(), b.Text())
	}
	h.tap("Unbind the old card and bind this one")
	// The wrong card: a different number is refused before anything is sent.
	h.typeFocused("1000200003")
	h.key(fyne.KeyReturn)
	h.wantText("mismatch", "That is card ******0003, not Physical card ******0001.")
	// The right card on the reader.
	h.placeCard(demoCard(t, "1000200001"))
	ask := h.bannerWith("Unbind Physical card  ******0001 · Ordinary Yikatong card")
	if ask.Tone() != ToneWarn || !strings.Contains(ask.Text(), "Then the new card ******0012 is bound.") {
		t.Fatalf("confirmation %v %q", ask.Tone(), ask.Text())
	}
	if h.central.unbinds != 0 {
		t.Fatal("unbound before the clerk confirmed")
	}
	h.key(fyne.KeyReturn) // "Yes, unbind" has the focus
	if b := h.banner(); b.Tone() != ToneOK || !strings.Contains(b.Text(), "Upgraded") {
		t.Fatalf("after rebind: %v %q", b.Tone(), b.Text())
	}
	pk := personKey(r.Identity.Doc)
	if h.central.boundTo("1000200001") != "" || h.central.boundTo(demo.WornCardNumber) != pk || h.central.boundTo("1000300001") != pk {
		t.Fatal("rebind did not swap the physical card (or touched the NFC card)")
	}
}

// TestUnbindFromBindingsList: unbinding asks first and refreshes the list.
func TestUnbindFromBindingsList(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	r := rider(t, "helper-proxy")
	h.placeID(r.Identity)
	h.tap("Unbind…")
	h.typeFocused("1000200011")
	h.key(fyne.KeyReturn)
	if h.central.unbinds != 0 {
		t.Fatal("unbound without confirmation")
	}
	h.tap("Cancel")
	if h.central.boundTo("1000200011") == "" {
		t.Fatal("cancel unbound the card")
	}
	h.tap("Unbind…")
	h.typeFocused("1000200011")
	h.key(fyne.KeyReturn)
	h.tap("Yes, unbind (Enter)")
	h.wantText("unbound", "Unbound", "None yet.")
	if h.central.boundTo("1000200011") != "" {
		t.Fatal("card still bound")
	}
}

// TestProxyUpgradeWithCode: the helper's document first (4 of 5 used),
// the holder's, the code sent to the holder's phone, then the card.
func TestProxyUpgradeWithCode(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	helper, holder := rider(t, "helper-proxy"), rider(t, "elder-special")
	h.ids.push(helper.Identity, holder.Identity)
	h.tap("For someone else (proxy)")
	h.wantText("helper", "Proxy upgrades used: 4 of 5", "11010519700618001X")
	h.key(fyne.KeyReturn)
	h.wantStep(stepHolder)
	h.wantText("holder", "110102194602280022", "刘桂兰")
	if strings.Contains(h.screenText(), "11010519700618001X") {
		t.Fatal("helper's full number still shown on the holder's step")
	}
	h.key(fyne.KeyReturn)
	h.wantStep(stepCode)
	h.key(fyne.KeyReturn) // Send the code
	h.wantText("code sent", "Code sent to 136****0006.")
	h.typeFocused(fakeCode[:5])
	h.key(fyne.KeyReturn)
	h.wantText("short code", "The code has 6 digits.")
	h.typeFocused(fakeCode[5:])
	h.key(fyne.KeyReturn)
	h.wantStep(stepCard)
	h.placeCard(demoCard(t, "1000200005"))
	h.key(fyne.KeyReturn)
	h.wantText("summary", "This will be the helper's proxy upgrade 5 of 5.", "on the holder's behalf")
	h.key(fyne.KeyReturn)
	b := h.banner()
	if b.Tone() != ToneOK || !strings.Contains(b.Text(), "Helper has used 5 of 5 proxy upgrades.") {
		t.Fatalf("banner %v %q", b.Tone(), b.Text())
	}
	if h.central.boundTo("1000200005") != personKey(holder.Identity.Doc) {
		t.Fatal("bound to the wrong person")
	}
}

// TestProxyWrongCodeAsksAgain: a wrong code is refused at the code step
// itself (it once went through the card and the confirmation first),
// the flow stays there, and the right code then moves on.
func TestProxyWrongCodeAsksAgain(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.ids.push(rider(t, "helper-proxy").Identity, rider(t, "green-72h").Identity)
	h.tap("For someone else (proxy)")
	h.key(fyne.KeyReturn)
	h.key(fyne.KeyReturn)
	h.key(fyne.KeyReturn) // send
	h.typeFocused("000000")
	h.key(fyne.KeyReturn)
	h.wantText("wrong code at step 3", "verification code is wrong")
	h.wantStep(stepCode)
	h.typeFocused(strings.Repeat("\b", 0))
	h.flow().code = ""
	h.flow().redraw()
	h.typeFocused(fakeCode)
	h.key(fyne.KeyReturn)
	h.wantStep(stepCard)
}

// TestProxyCodeCentralDown: when central cannot check the code, the flow
// goes on and says the code is checked when the upgrade is sent.
func TestProxyCodeCentralDown(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.ids.push(rider(t, "helper-proxy").Identity, rider(t, "green-72h").Identity)
	h.tap("For someone else (proxy)")
	h.key(fyne.KeyReturn)
	h.key(fyne.KeyReturn)
	h.key(fyne.KeyReturn) // send
	h.central.setOffline(true)
	h.typeFocused(fakeCode)
	h.key(fyne.KeyReturn)
	h.wantStep(stepCard)
	h.wantText("note", "it is checked again when the upgrade is sent")
}

// TestOfflineUpgradeIsPending: with central down the upgrade is saved
// with its key, the banner says it completes when the link returns, and the
// pending list shows it.
func TestOfflineUpgradeIsPending(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.central.setOffline(true)
	key := h.flow().key
	h.placeID(rider(t, "green-72h").Identity)
	h.wantText("bindings offline", "Could not ask central:")
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, "1000200002"))
	h.wantText("card offline", "Central could not be asked")
	h.tap("Next (Enter)")
	h.tap("Confirm (Enter)")
	b := h.banner()
	if b.Tone() != ToneWarn || !strings.Contains(b.Text(), "will complete when the link returns") || !strings.Contains(b.Text(), "联网后自动完成") {
		t.Fatalf("banner %v %q", b.Tone(), b.Text())
	}
	if k := h.outbox.keys(); len(k) != 1 || k[0] != key {
		t.Fatalf("outbox keys %v, want [%s]", k, key)
	}
	h.wantText("where to look", "The pending list (F4) shows its progress.")
	h.key(fyne.KeyF4)
	if h.desk.CurrentScreen() != "pending" {
		t.Fatalf("F4 showed %q", h.desk.CurrentScreen())
	}
	h.wantText("pending list", "Waiting", "1 waiting, 1 in the list", "******0002")
	if strings.Contains(h.screenText(), "110105197911020059") {
		t.Fatal("pending list shows a full document number")
	}
}

// TestDoubleConfirmSendsOnce: while the request is in flight Confirm is
// disabled and further presses send nothing.
func TestDoubleConfirmSendsOnce(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, "1000200002"))
	h.tap("Next (Enter)")
	var queued []func()
	h.desk.d.Background.Spawn = func(f func()) { queued = append(queued, f) }
	btn := h.button("Confirm (Enter)")
	test.Tap(btn)
	test.Tap(btn)
	btn.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.key(fyne.KeyReturn)
	if len(queued) != 1 {
		t.Fatalf("%d requests started, want 1", len(queued))
	}
	if b := h.button("Confirm (Enter)"); !b.Disabled() {
		t.Fatal("Confirm is enabled while the request is in flight")
	}
	h.desk.d.Background = inline
	queued[0]()
	if h.central.calls() != 1 || h.banner().Tone() != ToneOK {
		t.Fatalf("bind calls %d, banner %q", h.central.calls(), h.banner().Text())
	}
}

// TestFullNumberOnlyOnCompareStep walks own and proxy flows and checks at
// every step that the full document number and name appear only on the
// document (compare) steps.
func TestFullNumberOnlyOnCompareStep(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	r := rider(t, "green-72h")
	full, name := r.Identity.Doc.Reveal(), r.Identity.Name.Reveal()
	check := func(step string, allowed bool) {
		t.Helper()
		got := h.screenText()
		has := strings.Contains(got, full) || strings.Contains(got, name)
		if has != allowed {
			t.Fatalf("%s: full number or name shown=%v, want %v:\n%s", step, has, allowed, got)
		}
		if !allowed && !strings.Contains(got, r.Identity.Doc.Masked()) {
			t.Fatalf("%s: masked number missing:\n%s", step, got)
		}
	}
	h.placeID(r.Identity)
	check("compare", true)
	h.tap("Next (Enter)")
	check("card wait", false)
	h.placeCard(demoCard(t, "1000200002"))
	check("card", false)
	h.tap("Next (Enter)")
	check("confirm", false)
	h.tap("Confirm (Enter)")
	check("result", false)
	h.key(fyne.KeyF3)
	if strings.Contains(h.screenText(), full) {
		t.Fatal("look-up screen shows the number")
	}
}

// TestLanguageSwitchKeepsStep: F12 mid-flow rebuilds the screen in the
// other language on the same step with the same card and key; leaving the
// screen and coming back starts afresh.
func TestLanguageSwitchKeepsStep(t *testing.T) {
	h := newUpHarness(t, app.LangZH)
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("下一步 (回车)")
	h.placeCard(demoCard(t, "1000200002"))
	key := h.flow().key
	h.key(fyne.KeyF12)
	if h.desk.Lang() != app.LangEN {
		t.Fatal("F12 did not switch the language")
	}
	h.wantStep(stepCard)
	h.wantText("after switch", "1000 2000 02", "Ordinary Yikatong card", "Next (Enter)")
	if h.flow().key != key {
		t.Fatal("language switch changed the request key")
	}
	h.key(fyne.KeyReturn)
	h.wantStep(stepConfirm)
	h.key(fyne.KeyF12)
	h.wantStep(stepConfirm)
	h.wantText("back to Chinese", "确认 (回车)", "******0002")

	// Typing survives a switch on the document step too (manual entry).
	h.tap("新乘客 (Ctrl+N)")
	h.typeFocused("1101051979")
	h.key(fyne.KeyF12)
	h.wantText("typed kept", "1101051979")

	// Leaving forgets: F3 then F2 is a fresh flow.
	h.key(fyne.KeyF3)
	h.key(fyne.KeyF2)
	if strings.Contains(h.screenText(), "1101051979") {
		t.Fatal("coming back to the screen kept the typed number")
	}
}

// TestManualDocumentValidatedAsTyped: a wrong check digit is shown while
// typing and refused on Enter; a passport needs the nationality.
func TestManualDocumentValidatedAsTyped(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.typeFocused("110105197911020058")
	h.wantText("check digit", "check")
	h.key(fyne.KeyReturn)
	h.wantStep(stepHolder)
	if h.flow().holder.has() {
		t.Fatal("an invalid number was accepted")
	}
	// Passport: choose the type, nationality then number.
	f := h.flow()
	f.holder.typ = len(app.DocTypes) - 1
	f.holder.text = ""
	f.redraw()
	h.typeFocused("GBR")
	h.key(fyne.KeyReturn)
	h.typeFocused("533401872")
	h.key(fyne.KeyReturn)
	h.wantText("passport", "Passport", "533401872", "Typed by the clerk")
	if !h.flow().holder.has() {
		t.Fatal("passport not accepted")
	}
}

// noSim is a do-nothing demo simulator, so the simulator panel exists.
type noSim struct{}

func (noSim) IDCards() []app.DemoItem       { return nil }
func (noSim) TransitCards() []app.DemoItem  { return nil }
func (noSim) PlaceIDCard(string) error      { return nil }
func (noSim) LiftIDCard()                   {}
func (noSim) PlaceTransitCard(string) error { return nil }
func (noSim) LiftTransitCard()              {}
func (noSim) ScanCode(string) error         { return nil }
func (noSim) Unplug(app.SimDevice) error    { return nil }
func (noSim) Replug(app.SimDevice) error    { return nil }
func (noSim) Plugged(app.SimDevice) bool    { return true }

// TestSimulatorDrawerKeepsFlow: in demo mode the clerk opens or closes the
// simulator drawer (Ctrl+D, which rebuilds the frame) to place a card
// mid-flow; the flow is kept.
func TestSimulatorDrawerKeepsFlow(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.desk.d.Simulator = noSim{}
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.wantStep(stepCard)
	for i := 0; i < 2; i++ {
		fyne.DoAndWait(func() {
			h.desk.globalShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierControl})
		})
		h.wantStep(stepCard)
		h.wantText("kept", "1**************059")
	}
	h.placeCard(demoCard(t, "1000200002"))
	h.wantText("card after drawer", "1000 2000 02")
}

// TestPreviousRidersCardNotTaken: the transit reader reports a card lying
// in its field again; the card the previous rider used is not taken for the
// next rider until it is lifted (the fake reader always answers at once,
// like a card that lies there).
func TestPreviousRidersCardNotTaken(t *testing.T) {
	h := newUpHarness(t, app.LangEN)
	h.placeID(rider(t, "green-72h").Identity)
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, "1000200002"))
	h.tap("Next (Enter)")
	h.tap("Confirm (Enter)")
	h.tap("New rider (Ctrl+N)")
	h.placeID(rider(t, "student").Identity)
	h.tap("Next (Enter)")
	h.placeCard(demoCard(t, "1000200002")) // still lying there
	h.wantStep(stepCard)
	if h.flow().haveCard {
		t.Fatal("the previous rider's card was taken for the next rider")
	}
	h.wantText("told", "The card on the reader (******0002) is not the one wanted here")
	h.placeCard(demoCard(t, "1000500001"))
	if !h.flow().haveCard || h.flow().card.Number != "1000500001" {
		t.Fatal("the next rider's own card was not taken")
	}
}
