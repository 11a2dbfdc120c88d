package ui

import (
	"image/color"
	"path"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// StatusBar shows every component of app.Components with a coloured dot, its
// name and its state, following the app.StatusBoard live.
type StatusBar struct {
	widget.BaseWidget
	board *app.StatusBoard
	items map[app.Component]*statusItem
	box   *fyne.Container
	lang  func() app.Lang
}

type statusItem struct {
	dot   *canvas.Circle
	label *widget.Label
}

// NewStatusBar returns a bar subscribed to board. Changes arrive on any
// goroutine and are applied with do (nil: fyne.Do); lang is the interface
// language the details are worded in, asked on the UI goroutine.
func NewStatusBar(board *app.StatusBoard, do func(func()), lang func() app.Lang) *StatusBar {
	if do == nil {
		do = fyne.Do
	}
	// Three columns, two rows: all six stay visible at the largest text size.
	b := &StatusBar{board: board, items: map[app.Component]*statusItem{}, box: container.NewGridWithColumns(3), lang: lang}
	for _, c := range app.Components {
		it := &statusItem{dot: canvas.NewCircle(mutedGrey), label: widget.NewLabel("")}
		// Long details (port paths, addresses) must never widen the window.
		it.label.Truncation = fyne.TextTruncateEllipsis
		b.items[c] = it
		dot := container.NewGridWrap(fyne.NewSize(14, 14), it.dot)
		b.box.Add(container.NewBorder(nil, nil, container.NewCenter(dot), nil, it.label))
	}
	b.ExtendBaseWidget(b)
	board.Subscribe(func(s app.Status) { do(func() { b.apply(s) }) })
	b.Refresh()
	return b
}

// Refresh re-reads every component (after a language change too).
func (b *StatusBar) Refresh() {
	for _, s := range b.board.Snapshot() {
		b.apply(s)
	}
	b.BaseWidget.Refresh()
}

func (b *StatusBar) apply(s app.Status) {
	it, ok := b.items[s.Component]
	if !ok {
		return
	}
	it.dot.FillColor = stateColor(s.State)
	it.dot.Refresh()
	text := componentName(s.Component) + ": " + stateName(s.State)
	if d := shortDetail(statusDetail(s, b.lang())); d != "" && d != stateName(s.State) {
		text += " (" + d + ")"
	}
	it.label.SetText(text)
}

// Text returns the bar's text, for tests.
func (b *StatusBar) Text(c app.Component) string { return b.items[c].label.Text }

// CreateRenderer implements fyne.Widget.
func (b *StatusBar) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(b.box)
}

func stateColor(s app.State) color.Color {
	switch s {
	case app.StateReady:
		return okGreen
	case app.StateBusy:
		return brandBlue
	case app.StateConnecting, app.StateDegraded:
		return warnAmber
	case app.StateOffline, app.StateError:
		return errRed
	}
	return mutedGrey
}

func componentName(c app.Component) string {
	switch c {
	case app.CompIDReader:
		return T("ID reader")
	case app.CompCardReader:
		return T("Card reader")
	case app.CompScanner:
		return T("QR scanner")
	case app.CompCentral:
		return T("Central")
	case app.CompGateCache:
		return T("Gate cache")
	case app.CompGateService:
		return T("Gate service")
	}
	return string(c)
}

// stateName is a device or service state in the interface language, for
// the status bar and the device settings screen.
func stateName(s app.State) string {
	switch s {
	case app.StateNotConfigured:
		return T("not configured")
	case app.StateConnecting:
		return T("connecting")
	case app.StateReady:
		return T("ready")
	case app.StateBusy:
		return T("card present")
	case app.StateDegraded:
		return T("degraded")
	case app.StateOffline:
		return T("offline")
	case app.StateError:
		return T("error")
	}
	return string(s)
}

// shortDetail keeps the status line short: a long device path such as
// /dev/serial/by-id/usb-… is shown by its last element (the full path is in
// the log and the devices CLI).
func shortDetail(d string) string {
	if len(d) > 16 && strings.HasPrefix(d, "/") && !strings.Contains(d, " ") {
		return path.Base(d)
	}
	return d
}
