package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// The keyboard-aware widgets every screen uses. A focused Fyne widget
// receives every key itself, so without these F2…F12, Ctrl+L and Enter
// would be dead whenever a field, button or list had the focus, and a clerk
// working from the keyboard would lose the desk's shortcuts after the first
// click. Each offers the key to the desk first and feeds the idle lock.

// Entry is the text field of every screen. A focused widget.Entry swallows
// function keys and custom shortcuts, which would make F2…F12 and Ctrl+L
// dead exactly when a clerk is typing; Entry offers them to the desk first
// and records activity for the idle lock.
type Entry struct {
	widget.Entry
	desk *Desk
}

func (k *Desk) newEntry() *Entry {
	e := &Entry{desk: k}
	e.ExtendBaseWidget(e)
	return e
}

func (k *Desk) newPasswordEntry() *Entry {
	e := k.newEntry()
	e.Password = true
	return e
}

// TypedKey implements fyne.Focusable.
func (e *Entry) TypedKey(ev *fyne.KeyEvent) {
	e.desk.touch()
	if e.desk.globalKey(ev) {
		return
	}
	e.Entry.TypedKey(ev)
}

// TypedRune implements fyne.Focusable.
func (e *Entry) TypedRune(r rune) {
	e.desk.touch()
	e.Entry.TypedRune(r)
}

// TypedShortcut implements fyne.Shortcutable.
func (e *Entry) TypedShortcut(s fyne.Shortcut) {
	e.desk.touch()
	if cs, ok := s.(*desktop.CustomShortcut); ok && e.desk.globalShortcut(cs) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// deskButton is a button that works from the keyboard like the rest of the
// desk: Enter (and Space) press it, and F2–F12 reach the desk while it has
// the focus (widget.Button reacts to Space only and swallows the rest).
type deskButton struct {
	widget.Button
	k *Desk
	// key is the key bound to the button (bindKey), shown after its
	// label so the clerk learns it where the mouse would go.
	key string
}

// showKey puts the bound key after the label, "Record the check
// (Ctrl+Enter)", unless the label already names a key ("Sell (Enter)").
func (b *deskButton) showKey() {
	if b.key == "" || strings.HasSuffix(b.Text, ")") {
		return
	}
	b.Text += " (" + b.key + ")"
	b.Refresh()
}

// SetText sets the label, followed by the bound key.
func (b *deskButton) SetText(s string) {
	b.Text = s
	if b.key != "" && !strings.HasSuffix(s, ")") {
		b.Text += " (" + b.key + ")"
	}
	b.Refresh()
}

func (k *Desk) newButton(label string, tapped func()) *deskButton {
	b := &deskButton{k: k}
	b.Text = label
	b.OnTapped = func() {
		k.touch()
		if tapped != nil {
			tapped()
		}
	}
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey implements fyne.Focusable.
func (b *deskButton) TypedKey(ev *fyne.KeyEvent) {
	b.k.touch()
	if b.k.globalKey(ev) {
		return
	}
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if !b.Disabled() && b.OnTapped != nil {
			b.OnTapped()
		}
	default:
		b.Button.TypedKey(ev)
	}
}

// deskSelect is a Select that lets F2–F12 through while it has the focus.
type deskSelect struct {
	widget.Select
	k *Desk
}

func (k *Desk) newSelect(options []string, changed func(string)) *deskSelect {
	s := &deskSelect{k: k}
	s.Options = options
	s.PlaceHolder = " "
	s.OnChanged = changed
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey implements fyne.Focusable.
func (s *deskSelect) TypedKey(ev *fyne.KeyEvent) {
	s.k.touch()
	if s.k.globalKey(ev) {
		return
	}
	s.Select.TypedKey(ev)
}

// deskCheck is a Check that lets F2–F12 through while it has the focus.
type deskCheck struct {
	widget.Check
	k *Desk
}

func (k *Desk) newCheck(label string, changed func(bool)) *deskCheck {
	c := &deskCheck{k: k}
	c.Text = label
	c.OnChanged = changed
	c.ExtendBaseWidget(c)
	return c
}

// TypedKey implements fyne.Focusable.
func (c *deskCheck) TypedKey(ev *fyne.KeyEvent) {
	c.k.touch()
	if c.k.globalKey(ev) {
		return
	}
	c.Check.TypedKey(ev)
}
