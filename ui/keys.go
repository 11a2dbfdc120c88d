package ui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Keys. Every screen and every primary action has a key, so a clerk with
// a queue never needs the mouse:
//
//   - F2…F11 switch to the first ten screens of the operator's role, in
//     the navigation's order; Ctrl+F2… the screens after those (a
//     supervisor's device settings, operators, audit log, settings);
//   - Ctrl+Enter presses the screen's primary action (sell, exchange,
//     record the check, open or close the shift), Ctrl+O opens the shift,
//     Ctrl+N starts with the next rider; Enter presses the focused button;
//   - F1 shows the keys of the screen on show and the desk-wide ones in
//     the current language (Esc or F1 closes it).
//
// A screen binds a key to a button with bindKey while it builds; the key
// presses the button only while that button is on show and enabled, so a
// binding left from an earlier drawing of the screen does nothing.

// screenKeysCtrl are the keys of the screens after the tenth, pressed
// with Ctrl.
var screenKeysCtrl = []fyne.KeyName{fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6, fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11}

// Action keys a screen may bind (always with Ctrl).
const (
	keyPrimary = fyne.KeyReturn // Ctrl+Enter
	keyOpen    = fyne.KeyO      // Ctrl+O: open the shift
	keyNext    = fyne.KeyN      // Ctrl+N: next buyer / new rider
	keyExport  = fyne.KeyE      // Ctrl+E: export the report
)

// binding is a key bound to a button of the screen on show.
type binding struct {
	key  fyne.KeyName // with Ctrl
	b    *deskButton
	what string // translated description for the help
}

// keyHint is a key a widget of the screen on show takes while it has the
// focus (the digits of a list of choices), for the F1 help.
type keyHint struct {
	o         fyne.CanvasObject
	key, what string
}

// hintKey lists key (as the help shows it) with what it does (translated)
// in the F1 help while o is on show.
func (k *Desk) hintKey(o fyne.CanvasObject, key, what string) {
	k.hints = slices.DeleteFunc(k.hints, func(x keyHint) bool { return x.key == key && x.what == what })
	k.hints = append(k.hints, keyHint{o: o, key: key, what: what})
}

// bindKey makes Ctrl+key press b while b is on show; what says what it
// does (translated), for the F1 help. Bindings of the same key whose
// buttons are no longer on show are dropped (a screen drawn again); one
// on show stays, because a screen that is not on show may draw itself
// when its background work ends (the shift screen after a close while
// the clerk has gone on to sell), and its hidden button must not take
// the key from the screen the clerk is looking at.
func (k *Desk) bindKey(key fyne.KeyName, b *deskButton, what string) {
	k.bindings = slices.DeleteFunc(k.bindings, func(x binding) bool { return x.key == key && !k.onShow(x.b) })
	k.bindings = append(k.bindings, binding{key: key, b: b, what: what})
	if b != nil && b.key == "" {
		b.key = keyLabel(key, true)
		b.showKey()
	}
}

// pressBound presses the button bound to Ctrl+key, if it is on show and
// enabled, and reports whether there was one.
func (k *Desk) pressBound(key fyne.KeyName) bool {
	if key == fyne.KeyEnter {
		key = fyne.KeyReturn // the keypad's Enter
	}
	for i := len(k.bindings) - 1; i >= 0; i-- { // the newest on show
		x := k.bindings[i]
		if x.key == key && k.onShow(x.b) {
			if !x.b.Disabled() && x.b.OnTapped != nil {
				x.b.OnTapped()
			}
			return true
		}
	}
	return false
}

// onShow reports whether o is visible in the window's content.
func (k *Desk) onShow(o fyne.CanvasObject) bool {
	found := false
	var walk func(c fyne.CanvasObject)
	walk = func(c fyne.CanvasObject) {
		if found || c == nil || !c.Visible() {
			return
		}
		if c == o {
			found = true
			return
		}
		switch x := c.(type) {
		case *fyne.Container:
			for _, ch := range x.Objects {
				walk(ch)
			}
		case *container.Scroll:
			walk(x.Content)
		case *widget.Card:
			walk(x.Content)
		case *widget.Form:
			for _, it := range x.Items {
				walk(it.Widget)
			}
		}
	}
	walk(k.w.Canvas().Content())
	return found
}

// keyLabel names a key as the help shows it.
func keyLabel(key fyne.KeyName, ctrl bool) string {
	name := string(key)
	if key == fyne.KeyReturn {
		name = "Enter"
	}
	if ctrl {
		return "Ctrl+" + name
	}
	return name
}

// actionShortcuts are registered on the window so that a bound key works
// whatever has the focus (Entry forwards them too).
func actionShortcuts() []*desktop.CustomShortcut {
	var out []*desktop.CustomShortcut
	for _, key := range []fyne.KeyName{keyPrimary, fyne.KeyEnter, keyOpen, keyNext, keyExport} {
		out = append(out, &desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierControl})
	}
	for _, key := range screenKeysCtrl {
		out = append(out, &desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierControl})
	}
	return out
}

// helpRow is one line of the help: a key and what it does.
type helpRow struct{ key, what string }

// helpRows returns the help's sections: the screen on show, the screens,
// and the keys that work everywhere.
func (k *Desk) helpRows() (screen, screens, everywhere []helpRow) {
	listed := map[fyne.KeyName]bool{}
	for i := len(k.bindings) - 1; i >= 0; i-- { // as pressBound picks them
		x := k.bindings[i]
		if !listed[x.key] && k.onShow(x.b) {
			listed[x.key] = true
			screen = append(screen, helpRow{keyLabel(x.key, true), x.what})
		}
	}
	slices.Reverse(screen)
	for _, x := range k.hints {
		if k.onShow(x.o) {
			screen = append(screen, helpRow{x.key, x.what})
		}
	}
	if k.op != nil {
		screen = append(screen,
			helpRow{"Enter", T("Press the focused button, or confirm the field")},
			helpRow{"Tab / Shift+Tab", T("Next / previous field")},
			helpRow{"Space", T("Open a list, tick a box")},
			helpRow{"← / →", T("Choose the previous / next entry of a list")})
	}
	for _, s := range k.screens {
		screens = append(screens, helpRow{s.keyLabel(), T(s.title)})
	}
	everywhere = []helpRow{
		{"F1", T("Show or hide this help")},
		{"F12", T("Switch the language")},
		{"Ctrl+L", T("Lock the desk")},
		{"Ctrl+= / Ctrl+-", T("Larger / smaller text")},
	}
	if k.d.Simulator != nil && k.op != nil {
		everywhere = append(everywhere, helpRow{"Ctrl+D", T("Show or hide the demo simulator")})
	}
	everywhere = append(everywhere, helpRow{"Esc", T("Close this help")})
	return screen, screens, everywhere
}

// toggleHelp shows the key help over the screen, or closes it.
func (k *Desk) toggleHelp() {
	if k.help != nil {
		k.closeHelp()
		return
	}
	screen, screens, everywhere := k.helpRows()
	section := func(title string, rows []helpRow) fyne.CanvasObject {
		grid := container.New(layout.NewFormLayout())
		for _, r := range rows {
			key := widget.NewLabelWithStyle(r.key, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
			what := widget.NewLabel(r.what)
			what.Wrapping = fyne.TextWrapWord
			grid.Add(key)
			grid.Add(what)
		}
		return container.NewVBox(heading(title), grid)
	}
	title := T("Keyboard")
	if k.op != nil {
		for _, s := range k.screens {
			if s.id == k.current {
				title = T("Keyboard") + " — " + T(s.title)
			}
		}
	}
	var left []fyne.CanvasObject
	if len(screen) > 0 {
		left = append(left, section(T("This screen"), screen))
	}
	left = append(left, section(T("Everywhere"), everywhere))
	cols := container.NewGridWithColumns(1, container.NewVBox(left...))
	if len(screens) > 0 {
		cols = container.NewGridWithColumns(2, container.NewVBox(left...), section(T("Screens"), screens))
	}
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameHeadingText
	closeB := k.newButton(T("Close (Esc)"), k.closeHelp)
	body := container.NewBorder(head, container.NewHBox(layout.NewSpacer(), closeB), nil, nil, container.NewVScroll(cols))
	c := k.w.Canvas()
	k.helpFocus = c.Focused()
	k.help = widget.NewModalPopUp(body, c)
	size := c.Size()
	k.help.Resize(fyne.NewSize(size.Width*0.9, size.Height*0.9))
	k.help.Show()
	c.Focus(closeB)
}

// closeHelp closes the key help and gives the focus back.
func (k *Desk) closeHelp() {
	if k.help == nil {
		return
	}
	k.help.Hide()
	k.help = nil
	if k.helpFocus != nil && k.onShow(k.helpFocus.(fyne.CanvasObject)) {
		k.w.Canvas().Focus(k.helpFocus)
	}
	k.helpFocus = nil
}

// HelpShown reports whether the key help (F1) is on show.
func (k *Desk) HelpShown() bool { return k.help != nil }
