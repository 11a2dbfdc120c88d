package ui

import (
	"context"
	"maps"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// screenDef describes a screen. Each screen file registers its own in an
// init function, so adding a screen touches no shared list.
type screenDef struct {
	id    string
	order int    // navigation order (and function key: F2 for the first…)
	title string // English key; translated when shown
	roles []app.Role
	// available reports whether this installation has what the screen
	// needs; a screen without its use case is left out, never shown empty.
	available func(Deps) bool
	build     func(*Desk) fyne.CanvasObject
}

var screenDefs []screenDef

func registerScreen(d screenDef) { screenDefs = append(screenDefs, d) }

func init() {
	registerScreen(screenDef{id: "doccheck", order: 80, title: "Check a document", build: (*Desk).buildDocCheck})
	registerScreen(screenDef{id: "settings", order: 99, title: "Settings", build: (*Desk).buildSettings})
}

// allScreens lists the screens this installation has, in navigation order.
func (k *Desk) allScreens() []screen {
	defs := slices.Clone(screenDefs)
	slices.SortStableFunc(defs, func(a, b screenDef) int { return a.order - b.order })
	var s []screen
	for _, d := range defs {
		if d.available != nil && !d.available(k.d) {
			continue
		}
		build := d.build
		s = append(s, screen{id: d.id, title: d.title, roles: d.roles, build: func() fyne.CanvasObject { return build(k) }})
	}
	return s
}

// screenKeys are the function keys of the navigation, given in order to
// the screens the operator's role sees (F12 is the language switch).
var screenKeys = []fyne.KeyName{fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6, fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11}

// visibleScreens are the screens the logged-in operator's role may use,
// each with its function key: F2…F11, then Ctrl+F2… for a role with more
// than ten (a supervisor).
func (k *Desk) visibleScreens() []screen {
	if k.op == nil {
		return nil
	}
	var out []screen
	for _, s := range k.allScreens() {
		if s.roles == nil || slices.Contains(s.roles, k.op.Role) {
			switch n := len(out); {
			case n < len(screenKeys):
				s.key = screenKeys[n]
			case n-len(screenKeys) < len(screenKeysCtrl):
				s.key, s.ctrl = screenKeysCtrl[n-len(screenKeys)], true
			}
			out = append(out, s)
		}
	}
	return out
}

// keyLabel is the screen's key as the navigation shows it ("F4",
// "Ctrl+F2"), or "".
func (s screen) keyLabel() string {
	if s.key == "" {
		return ""
	}
	return keyLabel(s.key, s.ctrl)
}

// showFrame shows the logged-in frame with screen id selected. rebuild is
// true when the same screen is shown again after a language, text-size or
// drawer change: its state (see keepState) survives; otherwise the clerk
// navigated and the previous screen's state is forgotten.
func (k *Desk) showFrame(id string, rebuild bool) {
	k.screens = k.visibleScreens()
	k.navButtons = map[string]*deskButton{}
	nav := container.NewVBox()
	for _, s := range k.screens {
		label := T(s.title)
		if s.key != "" {
			label = s.keyLabel() + "  " + label
		}
		b := k.newButton(label, func() { k.showScreen(s.id) })
		b.Alignment = widget.ButtonAlignLeading
		k.navButtons[s.id] = b
		nav.Add(b)
	}
	who := widget.NewLabelWithStyle(k.operatorName(*k.op)+" · "+k.op.Role.Label(k.lang), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	lock := k.newButton(T("Lock (Ctrl+L)"), k.Lock)
	lock.Icon = theme.VisibilityOffIcon()
	logout := k.newButton(T("Log out"), k.Logout)
	logout.Icon = theme.LogoutIcon()
	langBtn := k.newButton(T("中文 / English (F12)"), k.toggleLanguage)
	// The help button is its key and an icon: the top bar must fit a
	// 1024-wide screen at the largest text.
	keysBtn := k.newButton("F1", k.toggleHelp)
	keysBtn.Icon = theme.HelpIcon()
	// The operator's name gives way (ellipsis) before the buttons do.
	who.Truncation = fyne.TextTruncateEllipsis
	top := container.NewBorder(nil, nil, nil, container.NewHBox(keysBtn, langBtn, lock, logout), who)
	if k.d.Mode != "" {
		mode := widget.NewLabelWithStyle(T(k.d.Mode), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		mode.Importance = widget.WarningImportance
		top = container.NewBorder(nil, nil, nil, container.NewHBox(mode, keysBtn, langBtn, lock, logout), who)
	}
	header := container.NewVBox(top, widget.NewSeparator())
	if k.d.AuditAlarm != "" && k.op.Role.CanManageOperators() {
		alarm := NewBanner()
		alarm.Set(ToneError, T("Audit chain broken: records may have been changed or removed"), k.d.AuditAlarm,
			T("Do not rely on this ledger's records; call technical support (stationdesk audit verify)."))
		header.Add(alarm)
	}
	k.content = container.NewStack()
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(),
		container.NewVScroll(container.NewThemeOverride(nav, navTheme{NewTheme(k.scale)})))
	// In demo mode the simulator sits beside every screen, so a demo card
	// can be placed while a screen waits for the reader; on a narrow
	// screen it lies over the screen while open (see bodyLayout).
	f := k.scale.factor()
	parts := []fyne.CanvasObject{left, k.content}
	if k.d.Simulator != nil && (k.simShown || k.simOverlay) {
		parts = append(parts, opaque(container.NewBorder(nil, nil, widget.NewSeparator(), nil, k.buildSimPanel())))
	}
	middle := container.New(&bodyLayout{k: k, drawerMin: 300 * f, drawerMax: 360 * f, contentMin: 520 * f}, parts...)
	body := container.NewBorder(header, container.NewVBox(widget.NewSeparator(), k.statusBar), nil, nil, middle)
	k.w.SetContent(body)
	if id == "" && len(k.screens) > 0 {
		id = k.screens[0].id
	}
	k.display(id, rebuild)
}

// showScreen navigates to screen id, if the operator may see it: the
// screen on show is left (its cleanups run, its state is forgotten) and id
// is built afresh. Showing the screen already on show does nothing.
func (k *Desk) showScreen(id string) {
	if id == k.current && k.content != nil && len(k.content.Objects) > 0 {
		return
	}
	k.display(id, false)
}

// showScreenWith navigates to screen id and hands it state: seed runs
// after the previous screen's state is forgotten and before id is built,
// so it can fill id's keepState (e.g. a passed manual check going straight
// on to a sale).
func (k *Desk) showScreenWith(id string, seed func()) {
	k.seed = seed
	k.display(id, false)
}

// display builds screen id into the content area.
func (k *Desk) display(id string, rebuild bool) {
	for _, s := range k.screens {
		if s.id != id {
			continue
		}
		k.leaveScreen(rebuild)
		if seed := k.seed; seed != nil {
			k.seed = nil
			seed()
		}
		k.current = id
		for sid, b := range k.navButtons {
			if sid == id {
				b.Importance = widget.HighImportance
			} else {
				b.Importance = widget.MediumImportance
			}
			b.Refresh()
		}
		k.bindings, k.hints, k.named = nil, nil, nil
		head := widget.NewLabelWithStyle(T(s.title), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		head.SizeName = theme.SizeNameHeadingText
		k.focus = nil
		k.content.Objects = []fyne.CanvasObject{container.NewBorder(head, nil, nil, nil, s.build())}
		k.content.Refresh()
		if k.focus != nil {
			k.w.Canvas().Focus(k.focus)
		}
		return
	}
}

// Screen lifecycle. A screen's build may register cleanups with onLeave
// (cancel a reader wait, stop a refresh ticker); they run on the UI
// goroutine when that build stops being shown: navigation, a rebuild, a
// lock or a log-out. State that must survive a rebuild (the step of a
// flow, what was typed) lives in keepState; it is forgotten when the clerk
// leaves the screen, locks or logs out, so no rider's data waits on the
// desk for the next rider.

// onLeave registers f to run when the screen being built goes away.
func (k *Desk) onLeave(f func()) { k.leaves = append(k.leaves, f) }

// leaveScreen runs the cleanups of the screen on show and, unless the
// screen is about to be rebuilt, forgets the screens' state.
func (k *Desk) leaveScreen(rebuild bool) {
	k.closeHelp()
	leaves := k.leaves
	k.leaves = nil
	for _, f := range leaves {
		f()
	}
	if !rebuild {
		clear(k.states)
	}
}

// keepState returns screen id's state, made by mk on the first build after
// the clerk navigated to the screen and kept across rebuilds.
func keepState[T any](k *Desk, id string, mk func() *T) *T {
	if s, ok := k.states[id].(*T); ok {
		return s
	}
	s := mk()
	if k.states == nil {
		k.states = map[string]any{}
	}
	k.states[id] = s
	return s
}

// repeatWhileShown runs work every d off the UI goroutine and applies what
// it returns on the UI goroutine, until the screen being built goes away,
// so a screen nobody sees costs nothing. Tests run without tickers and call
// the screens' refresh directly.
func (k *Desk) repeatWhileShown(d time.Duration, work func() func()) {
	if !k.d.Background.tickers() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.onLeave(cancel)
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				apply := work()
				k.d.Background.do(func() {
					if ctx.Err() == nil {
						apply()
					}
				})
			}
		}
	}()
}

// CurrentScreen returns the id of the screen on show.
func (k *Desk) CurrentScreen() string { return k.current }

// requireRole is a helper for screens with supervisor-only parts.
func (k *Desk) hasRole(r app.Role) bool { return k.op != nil && k.op.Role == r }

// fixedWidth is a layout whose minimum width is fixed and whose height
// follows its container: the simulator drawer keeps its width whatever the
// length of the demo labels.
type fixedWidth float32

func (w fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(float32(w), min(h, 200))
}

func (w fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// nameFocus names fields of the drawing being built, so a redraw that
// keeps the focus (buyerScreen.refresh, a language or text-size rebuild)
// finds each field's new instance.
func (k *Desk) nameFocus(fields map[string]fyne.Focusable) {
	if k.named == nil {
		k.named = map[string]fyne.Focusable{}
	}
	maps.Copy(k.named, fields)
}

// focusedName returns the name of the named field that has the focus, or "".
func (k *Desk) focusedName() string {
	if k.w == nil {
		return ""
	}
	cur := k.w.Canvas().Focused()
	if cur == nil {
		return ""
	}
	for name, w := range k.named {
		if w == cur {
			return name
		}
	}
	return ""
}

// focusNamed gives the focus to the named field of the drawing on show,
// an entry with its cursor after what was typed; false if there is none.
func (k *Desk) focusNamed(name string) bool {
	w, ok := k.named[name]
	if !ok || name == "" {
		return false
	}
	if e, ok := w.(*Entry); ok {
		e.CursorRow, e.CursorColumn = 0, len([]rune(e.Text))
	}
	k.w.Canvas().Focus(w)
	return true
}
