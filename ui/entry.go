package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

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
