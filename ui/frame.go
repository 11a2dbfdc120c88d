package ui

import (
	"slices"

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

// allScreens lists the screens this installation has, in navigation order,
// each with its function key.
func (k *Desk) allScreens() []screen {
	defs := slices.Clone(screenDefs)
	slices.SortStableFunc(defs, func(a, b screenDef) int { return a.order - b.order })
	keys := []fyne.KeyName{fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6, fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11}
	var s []screen
	for _, d := range defs {
		if d.available != nil && !d.available(k.d) {
			continue
		}
		build := d.build
		s = append(s, screen{id: d.id, title: d.title, roles: d.roles, build: func() fyne.CanvasObject { return build(k) }})
	}
	for i := range s {
		if i < len(keys) {
			s[i].key = keys[i]
		}
	}
	return s
}

// visibleScreens are the screens the logged-in operator's role may use.
func (k *Desk) visibleScreens() []screen {
	if k.op == nil {
		return nil
	}
	var out []screen
	for _, s := range k.allScreens() {
		if s.roles == nil || slices.Contains(s.roles, k.op.Role) {
			out = append(out, s)
		}
	}
	return out
}

// showFrame shows the logged-in frame with screen id selected.
func (k *Desk) showFrame(id string) {
	k.screens = k.visibleScreens()
	k.navButtons = map[string]*widget.Button{}
	nav := container.NewVBox()
	for _, s := range k.screens {
		label := T(s.title)
		if s.key != "" {
			label = string(s.key) + "  " + label
		}
		b := widget.NewButton(label, func() { k.touch(); k.clearScreenState(); k.showScreen(s.id) })
		b.Alignment = widget.ButtonAlignLeading
		k.navButtons[s.id] = b
		nav.Add(b)
	}
	who := widget.NewLabelWithStyle(k.op.DisplayName+" · "+k.op.Role.Label(k.lang), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	lock := widget.NewButtonWithIcon(T("Lock (Ctrl+L)"), theme.VisibilityOffIcon(), k.Lock)
	logout := widget.NewButtonWithIcon(T("Log out"), theme.LogoutIcon(), k.Logout)
	langBtn := widget.NewButton(T("中文 / English (F12)"), k.toggleLanguage)
	top := container.NewBorder(nil, nil, who, container.NewHBox(langBtn, lock, logout))
	if k.d.Mode != "" {
		mode := widget.NewLabelWithStyle(T(k.d.Mode), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		mode.Importance = widget.WarningImportance
		top = container.NewBorder(nil, nil, who, container.NewHBox(mode, langBtn, lock, logout))
	}
	k.content = container.NewStack()
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(), container.NewVScroll(nav))
	// In demo mode the simulator sits beside every screen, so a demo card
	// can be placed while a screen waits for the reader.
	var right fyne.CanvasObject
	if k.d.Simulator != nil && k.simShown {
		right = container.NewBorder(nil, nil, widget.NewSeparator(), nil,
			container.New(fixedWidth(360*k.scale.factor()), k.buildSimPanel()))
	}
	body := container.NewBorder(container.NewVBox(top, widget.NewSeparator()), container.NewVBox(widget.NewSeparator(), k.statusBar), left, right, k.content)
	k.w.SetContent(body)
	if id == "" && len(k.screens) > 0 {
		id = k.screens[0].id
	}
	k.showScreen(id)
}

// showScreen swaps the content to screen id, if the operator may see it.
func (k *Desk) showScreen(id string) {
	for _, s := range k.screens {
		if s.id != id {
			continue
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

// clearScreenState forgets what the screens held: leaving a screen (or
// logging out) must not leave a rider's number behind for the next one.
func (k *Desk) clearScreenState() {
	k.docCheckText, k.docCheckType = "", 0
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
