// Package ui is StationDesk's Fyne interface: the login and lock screens, the
// frame (navigation, top bar, status bar) and one file per screen. It talks
// to app use cases only — never to devices/ or offline/ — and runs every use
// case off the UI goroutine, bringing results back with fyne.Do.
package ui

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// DemoLogin is a demo operator shown on the login screen in demo mode.
// Name is the account's seeded (Chinese) name and NameEN its English one:
// while the account keeps its seeded name, an English desk shows NameEN.
type DemoLogin struct {
	ID, PIN      string
	Role         app.Role
	Name, NameEN string
}

// Deps are the use cases and settings the interface needs. Only Auth, Board
// and Clock are required; a nil optional dependency hides its screens.
type Deps struct {
	Auth  app.Authenticator
	Board *app.StatusBoard
	Clock app.Clock
	Log   *slog.Logger

	Lang  app.Lang  // initial language
	Scale TextScale // initial text size
	// IdleLock locks the desk after this long without input (default 5 min).
	IdleLock time.Duration
	// SavePrefs is called when the clerk changes language or text size.
	SavePrefs func(app.Lang, TextScale)

	// Use cases and devices. A nil one hides the screens that need it.
	Upgrades   *app.Upgrades
	IDReader   app.IDReader
	CardReader app.CardReader
	Scanner    app.Scanner
	// Simulator drives the demo readers and DemoCentral the central
	// simulator (demo mode only).
	Simulator   app.DeviceSimulator
	DemoCentral app.DemoCentral

	// gate service: the gates screen (Gates, GateSync) and its simulated
	// gate panel (DemoGate, demo mode only).
	Gates    app.GateService
	GateSync app.GateSync
	DemoGate app.DemoGate
	// DeviceAdmin is the supervisor's device settings screen (ports,
	// baud rates, test, apply).
	DeviceAdmin app.DeviceAdmin

	// Ticket window. A nil one hides the screens that need it.
	Sales     *app.Sales        // ID/health check, sale, welfare exchange, manual checks, incomplete sales
	Shifts    *app.Shifts       // shift open/close and the shift report
	Backlog   app.Backlog       // records waiting to be forwarded (offline/outbox/sales.Worker)
	Operators app.OperatorAdmin // supervisor's account screen (the ledger)
	AuditLog  app.AuditBrowser  // supervisor's audit browser (the ledger)

	// Demo lists demo operators for the login hint; nil outside demo mode.
	Demo []DemoLogin
	// Mode is shown in the top bar, e.g. "DEMO".
	Mode string
	// AuditAlarm, when set, is why the audit chain did not hold at start
	// (reason, seq, record); a supervisor sees it in a red banner on every
	// screen. The ledger has audited it already.
	AuditAlarm string
	// Background runs the screens' background work; the zero value is
	// production (goroutines, tickers on).
	Background Background
}

// screen is one navigation entry. A screen exists only when it works: there
// are no placeholders.
type screen struct {
	id    string
	title string // English key; translated when shown
	key   fyne.KeyName
	ctrl  bool       // the key is pressed with Ctrl (screens after the tenth)
	roles []app.Role // nil: every role
	build func() fyne.CanvasObject
}

// Desk is the running interface. Create it with NewDesk and call Start.
type Desk struct {
	a fyne.App
	w fyne.Window
	d Deps

	lang  app.Lang
	scale TextScale

	op         *app.Operator
	sess       *app.Session
	current    string
	screens    []screen
	content    *fyne.Container
	navButtons map[string]*deskButton
	statusBar  *StatusBar
	// focus is the widget a screen's build asks to focus once it is shown.
	focus fyne.Focusable
	// named are the fields of the screen's last drawing by name (nameFocus),
	// so a redraw for background news gives the focus back to the field the
	// clerk was in rather than to the screen's first field.
	named map[string]fyne.Focusable
	// simShown: the demo simulator drawer is shown beside the screen
	// (Ctrl+D). On a screen too narrow for it (simOverlay, see bodyLayout)
	// it lies over the screen while simOpen.
	simShown, simOverlay, simOpen bool
	// fit is the window size FitScreen chose; zero before.
	fit    fyne.Size
	simAcc *widget.Accordion // the drawer's sections; which are open survives a rebuild
	// leaves are the cleanups of the screen on show; states the screens'
	// state kept across rebuilds (see keepState in frame.go).
	leaves []func()
	states map[string]any
	// seed hands state to the next screen (see showScreenWith).
	seed func()
	// lastCardID: see lastCard in flow.go.
	lastCardMu  sync.Mutex
	lastCardID  string
	lastCardFor app.DocNumber
	stopIdle    context.CancelFunc
	// bindings are the action keys of the screen on show (keys.go); help
	// is the key help while it is shown, helpFocus what had the focus.
	bindings  []binding
	hints     []keyHint
	help      *widget.PopUp
	helpFocus fyne.Focusable
}

// NewDesk prepares the interface in window w. It sets the theme and the
// language but shows nothing until Start.
func NewDesk(a fyne.App, w fyne.Window, d Deps) *Desk {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.IdleLock <= 0 {
		d.IdleLock = 5 * time.Minute
	}
	if d.Lang == "" {
		d.Lang = app.LangZH
	}
	if d.Scale == "" {
		d.Scale = ScaleLarge
	}
	k := &Desk{a: a, w: w, d: d, lang: d.Lang, scale: d.Scale, simShown: true, states: map[string]any{}}
	if err := SetLanguage(k.lang); err != nil {
		d.Log.Warn("load translations", "err", err)
	}
	a.Settings().SetTheme(NewTheme(k.scale))
	w.SetIcon(IconResource)
	k.statusBar = NewStatusBar(d.Board, d.Background.Do, k.Lang)
	k.setTitle()
	return k
}

// Start shows the login screen and the global keyboard shortcuts.
func (k *Desk) Start() {
	k.installShortcuts()
	k.showLogin("", "")
	if k.d.Background.tickers() {
		ctx, cancel := context.WithCancel(context.Background())
		k.stopIdle = cancel
		go k.idleWatch(ctx)
	}
}

// Stop ends background work started by Start.
func (k *Desk) Stop() {
	if k.stopIdle != nil {
		k.stopIdle()
	}
}

// Lang returns the current interface language.
func (k *Desk) Lang() app.Lang { return k.lang }

// Operator returns the logged-in operator, or nil.
func (k *Desk) Operator() *app.Operator { return k.op }

func (k *Desk) setTitle() {
	t := "站务台 StationDesk"
	if k.d.Mode != "" {
		t += " — " + T(k.d.Mode)
	}
	k.w.SetTitle(t)
}

// touch records clerk activity for the idle lock. Input that arrives after
// the idle limit does not revive the session: it locks instead.
func (k *Desk) touch() {
	if k.sess != nil && !k.sess.Touch() {
		k.checkIdle()
	}
}

// msg returns the user-safe message of err in the current language.
func (k *Desk) msg(err error) string { return app.UserMessage(err, k.lang) }

// SetLanguageChoice switches the language and rebuilds what is on screen,
// keeping the operator logged in and the current screen selected.
func (k *Desk) SetLanguageChoice(l app.Lang) {
	if l == k.lang {
		return
	}
	k.lang = l
	k.d.Log.Info("language switched", "lang", string(l))
	if err := SetLanguage(l); err != nil {
		k.d.Log.Warn("load translations", "err", err)
	}
	k.savePrefs()
	k.setTitle()
	k.rebuild()
}

// SetTextScale changes the text size everywhere.
func (k *Desk) SetTextScale(s TextScale) {
	if s == k.scale {
		return
	}
	k.scale = s
	k.a.Settings().SetTheme(NewTheme(s))
	k.savePrefs()
	k.rebuild()
	// A larger size may have made the window grow past its fitted size
	// (a screen asking for more width); a smaller one gives it back.
	if k.fit.Width > 0 {
		k.w.Resize(k.fit)
	}
}

func (k *Desk) savePrefs() {
	if k.d.SavePrefs != nil {
		k.d.SavePrefs(k.lang, k.scale)
	}
}

func (k *Desk) rebuild() {
	k.statusBar.Refresh()
	if k.op == nil {
		k.showLogin("", "")
		return
	}
	// The field the clerk was typing in keeps the focus through the
	// rebuild (a language switch halfway through a form).
	was := k.focusedName()
	k.showFrame(k.current, true)
	k.focusNamed(was)
}

func (k *Desk) toggleLanguage() {
	if k.lang == app.LangZH {
		k.SetLanguageChoice(app.LangEN)
	} else {
		k.SetLanguageChoice(app.LangZH)
	}
}

// installShortcuts registers the keys that work on every screen:
// F1 shows the key help, F2…F11 and Ctrl+F2… switch screens (see the
// navigation), F12 switches the language, Ctrl+L locks, Ctrl+= / Ctrl+-
// change the text size, and the screen's action keys (keys.go). Entry
// forwards them too, so they work while a field has the focus.
func (k *Desk) installShortcuts() {
	c := k.w.Canvas()
	for _, cs := range append(slices.Clone(globalShortcuts), actionShortcuts()...) {
		c.AddShortcut(cs, func(s fyne.Shortcut) { k.HandleShortcut(s) })
	}
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		k.touch()
		k.globalKey(ev)
	})
}

// HandleShortcut is what the window does with a shortcut no focused
// widget took (Ctrl+L, Ctrl+F2…, Ctrl+Enter, …); it reports whether the
// desk knew it.
func (k *Desk) HandleShortcut(s fyne.Shortcut) bool {
	k.touch()
	cs, ok := s.(*desktop.CustomShortcut)
	return ok && k.globalShortcut(cs)
}

var globalShortcuts = []*desktop.CustomShortcut{
	{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierControl},
	{KeyName: fyne.KeyEqual, Modifier: fyne.KeyModifierControl},
	{KeyName: fyne.KeyMinus, Modifier: fyne.KeyModifierControl},
	{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierControl},
}

// globalShortcut handles a desk-wide shortcut and reports whether it did.
func (k *Desk) globalShortcut(cs *desktop.CustomShortcut) bool {
	if cs.Modifier != fyne.KeyModifierControl {
		return false
	}
	for _, s := range k.screens {
		if k.op != nil && s.ctrl && s.key == cs.KeyName {
			k.closeHelp()
			k.showScreen(s.id)
			return true
		}
	}
	switch cs.KeyName {
	case fyne.KeyL:
		k.Lock()
	case fyne.KeyEqual:
		k.stepScale(+1)
	case fyne.KeyMinus:
		k.stepScale(-1)
	case fyne.KeyD:
		if k.d.Simulator == nil || k.op == nil {
			return false
		}
		if k.simOverlay {
			k.simOpen = !k.simOpen
		} else {
			k.simShown = !k.simShown
		}
		k.showFrame(k.current, true)
	default:
		if k.help != nil || k.op == nil {
			return false
		}
		return k.pressBound(cs.KeyName)
	}
	return true
}

// globalKey handles a desk-wide function key and reports whether it did.
func (k *Desk) globalKey(ev *fyne.KeyEvent) bool {
	switch {
	case ev.Name == fyne.KeyF1:
		k.toggleHelp()
		return true
	case ev.Name == fyne.KeyEscape && k.help != nil:
		k.closeHelp()
		return true
	case ev.Name == fyne.KeyF12:
		k.closeHelp()
		k.toggleLanguage()
		return true
	}
	for _, s := range k.screens {
		if k.op != nil && s.key != "" && !s.ctrl && s.key == ev.Name {
			k.closeHelp()
			k.showScreen(s.id)
			return true
		}
	}
	return false
}

func (k *Desk) stepScale(d int) {
	i := 0
	for j, s := range TextScales {
		if s == k.scale {
			i = j
		}
	}
	i += d
	if i < 0 || i >= len(TextScales) {
		return
	}
	k.SetTextScale(TextScales[i])
}

// idleWatch locks the desk after IdleLock without input.
func (k *Desk) idleWatch(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.d.Background.do(k.checkIdle)
		}
	}
}

// checkIdle locks the desk when the operator has been idle too long. It runs
// on the UI goroutine.
func (k *Desk) checkIdle() {
	if k.op != nil && k.sess != nil && k.sess.Locked() {
		k.lockWith(T("Locked after {{.Min}} minutes without activity.", map[string]any{"Min": int(k.d.IdleLock.Minutes())}))
	}
}

// Lock logs the operator out to the lock screen; the same operator (or a
// supervisor taking over) logs in again with a PIN.
func (k *Desk) Lock() {
	if k.op == nil {
		return
	}
	k.lockWith(T("Desk locked."))
}

func (k *Desk) lockWith(reason string) {
	id := k.op.ID
	k.d.Log.Info("desk locked", "operator", id)
	k.leaveScreen(false)
	k.op, k.sess, k.current = nil, nil, ""
	k.showLogin(id, reason)
}

// loggedIn is called on the UI goroutine after a successful login.
func (k *Desk) loggedIn(op app.Operator) {
	k.op = &op
	k.sess = app.NewSession(op, k.d.Clock, k.d.IdleLock)
	k.d.Log.Info("operator logged in", "operator", op.ID, "role", op.Role)
	first := ""
	if v := k.visibleScreens(); len(v) > 0 {
		first = v[0].id
	}
	k.showFrame(first, false)
}

// Logout ends the session and shows the login screen.
func (k *Desk) Logout() {
	if k.op != nil {
		k.d.Log.Info("operator logged out", "operator", k.op.ID)
	}
	k.leaveScreen(false)
	k.op, k.sess, k.current = nil, nil, ""
	k.showLogin("", "")
}
