package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// fakeAuth is a fake at the app.Authenticator seam: the PIN hashing and
// lock-out live in offline/ledger and are tested there.
// inline is how the tests run a desk's background work: inline on the
// calling goroutine, no tickers (see Background).
var inline = Background{Spawn: func(f func()) { f() }, NoTickers: true}

type fakeAuth struct{ calls int }

func (f *fakeAuth) Login(_ context.Context, id, pin string) (app.Operator, error) {
	f.calls++
	if id == "1001" && pin == "246810" {
		return app.Operator{ID: "1001", DisplayName: "Demo Clerk", Role: app.RoleClerk}, nil
	}
	return app.Operator{}, app.NewError(app.CodeUnauthorized, "bad_pin", "工号或密码错误。", "Wrong operator number or PIN.")
}

type harness struct {
	t     *testing.T
	desk  *Desk
	win   fyne.Window
	clock *app.FakeClock
	board *app.StatusBoard
	auth  *fakeAuth
}

func newHarness(t *testing.T, lang app.Lang) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1200, 800))
	clock := app.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local))
	board := app.NewStatusBoard(clock)
	auth := &fakeAuth{}
	d := NewDesk(a, w, Deps{Auth: auth, Board: board, Clock: clock, Lang: lang, Scale: ScaleNormal,
		Demo: []DemoLogin{{ID: "1001", PIN: "246810", Role: app.RoleClerk}}, Mode: "DEMO", Background: inline})
	d.Start()
	t.Cleanup(d.Stop)
	return &harness{t: t, desk: d, win: w, clock: clock, board: board, auth: auth}
}

// eventually polls cond on the UI goroutine until it holds (async work
// returns through fyne.Do) or fails the test after 5 s.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ok := false
		fyne.DoAndWait(func() { ok = cond() })
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

// texts returns every visible label, button and rich-text string.
func (h *harness) texts() string {
	var b strings.Builder
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.Button:
			b.WriteString(x.Text + "\n")
		case *deskButton:
			b.WriteString(x.Text + "\n")
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		case *Banner:
			b.WriteString(x.Text() + "\n")
		case *StatusBar:
			for _, c := range app.Components {
				b.WriteString(x.Text(c) + "\n")
			}
		}
		if c, ok := o.(*fyne.Container); ok {
			for _, ch := range c.Objects {
				walk(ch)
			}
		}
		if w, ok := o.(fyne.Widget); ok {
			if _, isBanner := o.(*Banner); !isBanner {
				for _, ch := range test.WidgetRenderer(w).Objects() {
					walk(ch)
				}
			}
		}
	}
	walk(h.win.Content())
	return b.String()
}

func (h *harness) findEntry(placeholder string) *Entry {
	h.t.Helper()
	e := findWidget(h.win.Content(), func(e *Entry) bool { return e.PlaceHolder == placeholder })
	if e == nil {
		h.t.Fatalf("no entry with placeholder %q on screen:\n%s", placeholder, h.texts())
	}
	return e
}

func (h *harness) login(id, pin string) {
	h.t.Helper()
	test.Type(h.findEntry(T("Operator number")), id)
	e := h.findEntry(T("PIN"))
	test.Type(e, pin)
	e.OnSubmitted(e.Text)
}

func TestLoginShowsChineseAndDemoHint(t *testing.T) {
	h := newHarness(t, app.LangZH)
	got := h.texts()
	for _, want := range []string{"登录", "工号", "演示模式", "1001", "246810", "身份证读卡器: 未配置"} {
		if !strings.Contains(got, want) {
			t.Errorf("login screen lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(h.win.Title(), "站务台") {
		t.Errorf("title %q lacks 站务台", h.win.Title())
	}
}

func TestLoginRefusedThenAccepted(t *testing.T) {
	h := newHarness(t, app.LangEN)
	h.login("1001", "000000")
	h.eventually("refusal banner", func() bool { return strings.Contains(h.texts(), "Wrong operator number or PIN.") })
	if h.desk.Operator() != nil {
		t.Fatal("logged in with a wrong PIN")
	}
	// The PIN field is cleared after a refusal; the operator number stays.
	if e := h.findEntry("PIN"); e.Text != "" {
		t.Errorf("PIN entry kept %q after refusal", e.Text)
	}
	test.Type(h.findEntry("PIN"), "246810")
	e := h.findEntry("PIN")
	e.OnSubmitted(e.Text)
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	if got := h.texts(); !strings.Contains(got, "Demo Clerk") || !strings.Contains(got, "F2  Check a document") {
		t.Errorf("frame after login lacks operator or navigation:\n%s", got)
	}
}

func TestEmptyLoginDoesNotCallAuth(t *testing.T) {
	h := newHarness(t, app.LangEN)
	e := h.findEntry("PIN")
	e.OnSubmitted("")
	if h.auth.calls != 0 {
		t.Fatalf("Login called %d times for empty input", h.auth.calls)
	}
	if !strings.Contains(h.texts(), "Enter your operator number and PIN.") {
		t.Errorf("no prompt for empty login:\n%s", h.texts())
	}
}

func TestLanguageSwitchKeepsSession(t *testing.T) {
	h := newHarness(t, app.LangZH)
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	if !strings.Contains(h.texts(), "证件核验") {
		t.Fatalf("Chinese navigation missing:\n%s", h.texts())
	}
	fyne.DoAndWait(func() { h.desk.SetLanguageChoice(app.LangEN) })
	got := h.texts()
	if !strings.Contains(got, "Check a document") || strings.Contains(got, "证件核验") {
		t.Errorf("after switching to English:\n%s", got)
	}
	if h.desk.Operator() == nil {
		t.Error("language switch logged the operator out")
	}
	fyne.DoAndWait(func() { h.desk.SetLanguageChoice(app.LangZH) })
	if !strings.Contains(h.texts(), "证件核验") {
		t.Errorf("switching back to Chinese failed:\n%s", h.texts())
	}
}

func TestDocCheckScreen(t *testing.T) {
	h := newHarness(t, app.LangEN)
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	e := h.findEntry(T("e.g. 11010519491231002X or GBR 123456789"))
	cases := []struct {
		name, input string
		tone        Tone
		want        string
	}{
		{"ValidResidentID", "11010519491231002X", ToneOK, "1**************02X"},
		{"WrongCheckDigit", "110105194912310021", ToneError, "check"},
		{"FirstGeneration", "110105491231002", ToneError, "15"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fyne.DoAndWait(func() { e.SetText(c.input); e.OnSubmitted(c.input) })
			var banner string
			var tone Tone
			fyne.DoAndWait(func() {
				tone = findBanner(h.win.Content()).Tone()
				banner = findBanner(h.win.Content()).Text()
			})
			if tone != c.tone || !strings.Contains(strings.ToLower(banner), strings.ToLower(c.want)) {
				t.Errorf("banner tone %v text %q; want tone %v containing %q", tone, banner, c.tone, c.want)
			}
			if c.tone == ToneError && strings.Contains(banner, c.input) {
				t.Errorf("error banner echoes the full number: %q", banner)
			}
		})
	}
}

func findBanner(o fyne.CanvasObject) *Banner {
	return findWidget(o, func(*Banner) bool { return true })
}

func TestLockAndIdleLock(t *testing.T) {
	h := newHarness(t, app.LangEN)
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	fyne.DoAndWait(func() { h.desk.Lock() })
	if h.desk.Operator() != nil {
		t.Fatal("Lock left the operator logged in")
	}
	if e := h.findEntry("Operator number"); e.Text != "1001" {
		t.Errorf("lock screen operator field = %q, want 1001", e.Text)
	}
	h.login("", "246810")
	h.eventually("login after lock", func() bool { return h.desk.Operator() != nil })

	// Idle: nothing happens before the limit, the desk locks after it.
	h.clock.Advance(4 * time.Minute)
	fyne.DoAndWait(h.desk.checkIdle)
	if h.desk.Operator() == nil {
		t.Fatal("locked before the idle limit")
	}
	h.clock.Advance(2 * time.Minute)
	fyne.DoAndWait(h.desk.checkIdle)
	if h.desk.Operator() != nil {
		t.Fatal("not locked after 6 idle minutes")
	}
	if !strings.Contains(h.texts(), "Locked after 5 minutes without activity.") {
		t.Errorf("lock reason not shown:\n%s", h.texts())
	}
}

func TestStatusBarFollowsBoard(t *testing.T) {
	h := newHarness(t, app.LangEN)
	h.board.Set(app.CompIDReader, app.StateReady, "/dev/pts/3")
	h.eventually("ready", func() bool { return strings.Contains(h.texts(), "ID reader: ready (/dev/pts/3)") })
	h.board.Set(app.CompCardReader, app.StateReady, "/dev/serial/by-id/usb-FTDI_FT232R_A1B2C3-if00-port0")
	h.eventually("short path", func() bool {
		return strings.Contains(h.texts(), "Card reader: ready (usb-FTDI_FT232R_A1B2C3-if00-port0)")
	})
	h.board.Set(app.CompIDReader, app.StateError, "unplugged")
	h.eventually("error", func() bool { return strings.Contains(h.texts(), "ID reader: error (unplugged)") })
}

func TestTextScaleEnlargesText(t *testing.T) {
	small := NewTheme(ScaleNormal).Size("text")
	big := NewTheme(ScaleLarger).Size("text")
	if big <= small*1.4 {
		t.Fatalf("larger text %v is not 1.5× normal %v", big, small)
	}
}

// TestKeysWorkInsideFields: a clerk typing in a field can still press F12,
// F3 and Ctrl+L; the field does not swallow them.
func TestKeysWorkInsideFields(t *testing.T) {
	h := newHarness(t, app.LangEN)
	pin := h.findEntry("PIN")
	pin.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF12})
	if h.desk.Lang() != app.LangZH {
		t.Fatal("F12 in the PIN field did not switch the language")
	}
	pin = h.findEntry("密码")
	pin.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF12})
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	e := h.findEntry(T("e.g. 11010519491231002X or GBR 123456789"))
	e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF3})
	if h.desk.CurrentScreen() != "settings" {
		t.Fatalf("F3 in a field showed %q, want settings", h.desk.CurrentScreen())
	}
	h.desk.showScreen("doccheck")
	e = h.findEntry(T("e.g. 11010519491231002X or GBR 123456789"))
	e.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierControl})
	if h.desk.Operator() != nil {
		t.Fatal("Ctrl+L in a field did not lock the desk")
	}
	// Ordinary keys still reach the field.
	pin = h.findEntry("PIN")
	test.Type(pin, "12")
	pin.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
	if pin.Text != "1" {
		t.Errorf("backspace in PIN field: text %q, want 1", pin.Text)
	}
}

// TestFunctionKeysFollowRole: each role's screens get F2, F3, … in order,
// without gaps left by screens of other roles.
func TestFunctionKeysFollowRole(t *testing.T) {
	h := newHarness(t, app.LangEN)
	registered := []screenDef{
		{id: "a-clerk", order: 1, title: "Check a document", roles: []app.Role{app.RoleClerk}},
		{id: "b-assist", order: 2, title: "Check a document", roles: []app.Role{app.RoleAssistant}},
		{id: "c-all", order: 3, title: "Check a document"},
	}
	saved := screenDefs
	t.Cleanup(func() { screenDefs = saved })
	for i := range registered {
		registered[i].build = (*Desk).buildSettings
	}
	screenDefs = registered
	for _, c := range []struct {
		role app.Role
		want string
	}{{app.RoleClerk, "a-clerk:F2 c-all:F3"}, {app.RoleAssistant, "b-assist:F2 c-all:F3"}} {
		h.desk.op = &app.Operator{ID: "x", Role: c.role}
		var got []string
		for _, s := range h.desk.visibleScreens() {
			got = append(got, s.id+":"+string(s.key))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.role, got, c.want)
		}
	}
	h.desk.op = nil
}

// TestShowScreenWithSeedsNextScreen: state handed on navigation reaches the
// next screen's keepState, while the previous screen's state is forgotten.
func TestShowScreenWithSeedsNextScreen(t *testing.T) {
	h := newHarness(t, app.LangEN)
	type st struct{ v string }
	var seen string
	saved := screenDefs
	t.Cleanup(func() { screenDefs = saved })
	screenDefs = []screenDef{
		{id: "from", order: 1, title: "Check a document", build: func(k *Desk) fyne.CanvasObject {
			keepState(k, "from", func() *st { return &st{v: "rider data"} })
			return widget.NewLabel("from")
		}},
		{id: "to", order: 2, title: "Settings", build: func(k *Desk) fyne.CanvasObject {
			seen = keepState(k, "to", func() *st { return &st{v: "fresh"} }).v
			return widget.NewLabel("to")
		}},
	}
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	if h.desk.CurrentScreen() != "from" || h.desk.states["from"] == nil {
		t.Fatalf("screen %q states %v", h.desk.CurrentScreen(), h.desk.states)
	}
	h.desk.showScreenWith("to", func() { h.desk.states["to"] = &st{v: "handed over"} })
	if seen != "handed over" {
		t.Errorf("next screen saw %q", seen)
	}
	if _, ok := h.desk.states["from"]; ok {
		t.Error("the previous screen's state survived the navigation")
	}
	h.desk.showScreen("from")
	h.desk.showScreen("to")
	if seen != "fresh" {
		t.Errorf("a plain visit saw %q, want fresh state", seen)
	}
}

// TestHiddenScreenKeepsNoKey: a screen that is not on show may draw itself
// when its background work ends (the shift screen after a close, while the
// clerk has gone on to the ticket screen) and bind a key to its hidden
// button; the key must still press the button the clerk is looking at.
func TestHiddenScreenKeepsNoKey(t *testing.T) {
	h := newHarness(t, app.LangEN)
	h.login("1001", "246810")
	h.eventually("login", func() bool { return h.desk.Operator() != nil })
	k := h.desk
	shown := findWidget(h.win.Content(), func(b *deskButton) bool { return k.onShow(b) })
	if shown == nil {
		t.Fatalf("no button on show:\n%s", h.texts())
	}
	pressedShown, pressedHidden := 0, 0
	shown.OnTapped = func() { pressedShown++ }
	hidden := k.newButton("hidden", func() { pressedHidden++ })
	ctrlO := &desktop.CustomShortcut{KeyName: keyOpen, Modifier: fyne.KeyModifierControl}

	k.bindKey(keyOpen, shown, "on show")
	k.bindKey(keyOpen, hidden, "hidden")
	if !k.HandleShortcut(ctrlO) || pressedShown != 1 || pressedHidden != 0 {
		t.Fatalf("Ctrl+O pressed the button on show %d times and the hidden one %d times, want 1 and 0", pressedShown, pressedHidden)
	}
	screen, _, _ := k.helpRows()
	if len(screen) == 0 || screen[0] != (helpRow{"Ctrl+O", "on show"}) {
		t.Errorf("the help lists %v for the screen, want Ctrl+O: on show first", screen)
	}
	for _, r := range screen {
		if r.what == "hidden" {
			t.Errorf("the help lists the hidden button's key: %v", screen)
		}
	}

	// A screen drawn again replaces its own binding: the newer button on
	// show takes the key and the help names it once.
	k.bindKey(keyOpen, shown, "drawn again")
	k.HandleShortcut(ctrlO)
	if pressedShown != 2 {
		t.Fatalf("after a redraw Ctrl+O pressed the button on show %d times, want 2", pressedShown)
	}
	screen, _, _ = k.helpRows()
	n := 0
	for _, r := range screen {
		if r.key == "Ctrl+O" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the help lists Ctrl+O %d times, want once: %v", n, screen)
	}
}
