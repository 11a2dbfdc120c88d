package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"stationdesk/app"
	"stationdesk/ui"
)

// overlayTexts returns the texts of the window's overlays (the key help).
func (h *demoDesk) overlayTexts() string {
	var b strings.Builder
	for _, o := range h.win.Canvas().Overlays().List() {
		b.WriteString(textsOf(o))
	}
	return b.String()
}

// screenKey is the key of the i-th screen of the navigation: F2…F11,
// then Ctrl+F2….
func screenKey(i int) (fyne.KeyName, bool) {
	keys := []fyne.KeyName{fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6, fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11}
	if i < len(keys) {
		return keys[i], false
	}
	return keys[i-len(keys)], true
}

// TestKeysReachEveryScreen: a supervisor reaches
// every screen by a key shown in the navigation, including those after
// F11 (device settings, operators, audit log, settings); the navigation
// fits without scrolling at every text size on the smallest screen; F1
// lists the keys of the screen on show and the desk-wide ones in the
// current language, and Esc closes it.
func TestKeysReachEveryScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangEN, ui.ScaleLarger, screenSizes[0])
	h.login("9001")
	var ids []string
	h.loop.run(func() { ids = h.desk.ScreenIDs() })
	if len(ids) <= 10 {
		t.Fatalf("a supervisor sees %d screens; the test needs more than ten: %v", len(ids), ids)
	}
	for i := len(ids) - 1; i >= 0; i-- {
		key, ctrl := screenKey(i)
		label := string(key)
		if ctrl {
			h.ctrl(key)
			label = "Ctrl+" + label
		} else {
			h.key(key)
		}
		var cur, nav string
		h.loop.run(func() { cur, nav = h.desk.CurrentScreen(), h.texts() })
		if cur != ids[i] {
			t.Errorf("%s showed %q, want %q", label, cur, ids[i])
		}
		if !strings.Contains(nav, label+"  ") {
			t.Errorf("the navigation does not show %s:\n%s", label, nav)
		}
	}
	for _, scale := range ui.TextScales {
		h.loop.run(func() { h.desk.SetTextScale(scale) })
		var bad string
		h.loop.run(func() { bad = navScrolls(h.win) })
		if bad != "" {
			t.Errorf("%s: %s", scale, bad)
		}
	}

	// F1 on the shift screen: its keys and the desk-wide ones, in English
	// and then in Chinese.
	h.key(fyne.KeyF6)
	h.eventually("the shift screen", func() bool { return h.desk.CurrentScreen() == "shift" && strings.Contains(h.texts(), "Open shift") })
	h.key(fyne.KeyF1)
	var help string
	h.loop.run(func() { help = h.overlayTexts() })
	for _, want := range []string{"Keyboard — Shift", "Ctrl+O", "Open shift", "F12", "Ctrl+L", "Esc", "Ctrl+F2", "Device settings", "F6"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help lacks %q:\n%s", want, help)
		}
	}
	h.key(fyne.KeyEscape)
	h.loop.run(func() {
		if h.desk.HelpShown() || h.overlayTexts() != "" {
			t.Error("Esc left the help open")
		}
	})
	h.key(fyne.KeyF12)
	h.eventually("the shift screen in Chinese", func() bool { return strings.Contains(h.texts(), "开班") })
	h.key(fyne.KeyF1)
	h.loop.run(func() { help = h.overlayTexts() })
	for _, want := range []string{"键盘按键", "开班", "切换语言", "锁定"} {
		if !strings.Contains(help, want) {
			t.Errorf("the Chinese help lacks %q:\n%s", want, help)
		}
	}
	h.key(fyne.KeyF1)
	h.loop.run(func() {
		if h.desk.HelpShown() {
			t.Error("F1 left the help open")
		}
	})
}

// navScrolls reports the navigation needing its scroll bar, or "".
func navScrolls(w fyne.Window) string {
	bad := ""
	walkVisible(w.Canvas().Content(), func(o fyne.CanvasObject) bool {
		s, ok := o.(*container.Scroll)
		if !ok || s.Content == nil || !strings.HasPrefix(textsOf(s.Content), "F2  ") {
			return true
		}
		if m := s.Content.MinSize().Height; m > s.Size().Height+1 {
			bad = fmt.Sprintf("the navigation needs %.0f of %.0f in height: it scrolls", m, s.Size().Height)
		}
		return false
	})
	return bad
}

// TestOpenShiftByKey: on the shift screen the open button has the focus,
// so Enter opens the shift; on the ticket screen Ctrl+O does.
func TestOpenShiftByKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo terminal")
	}
	h := newDemoDesk(t, app.LangZH, ui.ScaleLarge, screenSizes[1])
	h.login("1001")
	open := func() bool {
		_, ok, err := h.rt.shifts.Current(context.Background())
		return ok && err == nil
	}
	h.key(fyne.KeyF6)
	h.eventually("the open-shift button", func() bool { return strings.Contains(h.texts(), "开班") })
	h.key(fyne.KeyReturn)
	h.eventually("the shift open after Enter", open)
	h.eventually("the shift screen showing the open shift", func() bool { return strings.Contains(h.texts(), "结班") })

	// Close it with the keyboard (Ctrl+Enter twice: ask, then confirm) and
	// open the next one from the ticket screen with Ctrl+O.
	h.ctrl(fyne.KeyReturn)
	h.eventually("the confirmation", func() bool { return strings.Contains(h.texts(), "确认") })
	h.ctrl(fyne.KeyReturn)
	h.eventually("the shift closed", func() bool { return !open() })
	h.key(fyne.KeyF2)
	// The button shows its key, in Chinese too.
	h.eventually("the ticket screen asking for a shift", func() bool { return strings.Contains(h.texts(), "开班 (Ctrl+O)") })
	h.ctrl(fyne.KeyO)
	h.eventually("the shift open after Ctrl+O", open)
}
