package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "gates", order: 85, title: "Gates",
		roles:     []app.Role{app.RoleSupervisor, app.RoleClerk},
		available: func(d Deps) bool { return d.Gates != nil },
		build:     (*Desk).buildGates})
}

// gatesRefresh is how often the gates screen reloads while it is shown.
const gatesRefresh = 2 * time.Second

// gatesRecentN is how many recent decisions the screen lists.
const gatesRecentN = 15

// gatesBuilt lets tests reach the screen they built (nil in production).
var gatesBuilt func(*gatesScreen)

// gatesScreen shows the station's gate verify service: the roll-out mode
// (supervisors switch it, audited by the service with their operator id),
// the cache's version and age, the sync progress, the gate-event backlog,
// the gates with their keys and rates, and the latest decisions — which
// carry no personal data (gate, time, medium, decision, reason). Clerks
// see everything but change nothing. In demo mode a simulated gate panel
// taps demo cards and ride codes through the real signed API.
type gatesScreen struct {
	k      *Desk
	svc    app.GateService
	root   fyne.CanvasObject
	result *Banner
	// left is set when this build stops being shown (see onLeave).
	left bool

	mode      *widget.Label
	modeRadio *widget.RadioGroup
	modeSet   bool // suppresses OnChanged while the radio follows the service

	cache    *widget.Label
	syncBar  *widget.ProgressBar
	syncText *widget.Label
	syncBtn  *widget.Button
	outbox   *widget.Label

	gateID   *Entry
	addBtn   *widget.Button
	gatesBox *fyne.Container
	gatesSig string

	recentBox *fyne.Container
	recentSig string

	// keyShown is the key dialog while it is open; confirmShown the last
	// confirmation asked (tests press their buttons).
	keyShown     *modal
	confirmShown *modal
}

// gatesData is one reload of everything the screen shows, gathered off the
// UI goroutine (Outbox reads SQLite).
type gatesData struct {
	now    time.Time
	mode   app.GateMode
	gates  []app.GateInfo
	recent []app.GateEvent
	fresh  app.CacheFreshness
	policy app.Policy
	outbox app.OutboxStats
	sync   *app.SyncProgress
}

func (k *Desk) buildGates() fyne.CanvasObject {
	s := &gatesScreen{k: k, svc: k.d.Gates, result: NewBanner()}
	super := k.hasRole(app.RoleSupervisor)

	// Mode.
	s.mode = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.mode.SizeName = theme.SizeNameSubHeadingText
	s.modeRadio = widget.NewRadioGroup([]string{T("Off"), T("Test"), T("Enforce")}, nil)
	s.modeRadio.Horizontal = true
	s.modeRadio.Required = true
	s.modeRadio.OnChanged = func(v string) {
		if s.modeSet || v == "" {
			return
		}
		k.touch()
		s.askMode(modeOfLabel(v))
	}
	modeHelp := widget.NewLabel(T("Off: every gate asks staff. Test: gates verify and record, but staff still decide (the answer shows what it would be). Enforce: gates decide."))
	modeHelp.Wrapping = fyne.TextWrapWord
	modeBox := container.NewVBox(s.mode, s.modeRadio, modeHelp)
	if !super {
		s.modeRadio.Disable()
		clerkNote := widget.NewLabel(T("Only a supervisor can change the mode or the gate keys."))
		clerkNote.Wrapping = fyne.TextWrapWord
		modeBox.Add(clerkNote)
	}

	// Cache, sync, outbox.
	s.cache = widget.NewLabel("")
	s.cache.Wrapping = fyne.TextWrapWord
	s.syncBar = widget.NewProgressBar()
	s.syncText = widget.NewLabel("")
	s.syncText.Wrapping = fyne.TextWrapWord
	s.outbox = widget.NewLabel("")
	s.outbox.Wrapping = fyne.TextWrapWord
	s.syncBar.Hide()
	cacheBox := container.NewVBox(s.cache, s.syncBar, s.syncText)
	if k.d.GateSync != nil {
		s.syncBtn = widget.NewButtonWithIcon(T("Sync now"), theme.ViewRefreshIcon(), s.syncNow)
		cacheBox.Add(container.NewHBox(s.syncBtn))
	}
	outboxHead := widget.NewLabelWithStyle(T("Gate events to upload"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	cacheBox.Add(outboxHead)
	cacheBox.Add(s.outbox)

	// Gates.
	s.gatesBox = container.NewVBox()
	gatesCard := container.NewVBox(s.gatesBox)
	if super {
		s.gateID = k.newEntry()
		s.gateID.SetPlaceHolder(T("New gate id, e.g. g-a-01"))
		s.gateID.OnSubmitted = func(string) { s.addGate() }
		s.addBtn = widget.NewButtonWithIcon(T("Add gate"), theme.ContentAddIcon(), s.addGate)
		gatesCard.Add(container.NewBorder(nil, nil, nil, s.addBtn, s.gateID))
	}

	s.recentBox = container.NewVBox()
	parts := []fyne.CanvasObject{
		s.result,
		newColumns(2, 1, section(T("Mode"), modeBox), section(T("Gate cache and sync"), cacheBox)),
	}
	if k.d.DemoGate != nil {
		parts = append(parts, widget.NewSeparator(), s.demoGatePanel())
	}
	recentNote := widget.NewLabel(T("No personal data: gate, time, medium, decision and reason only."))
	recentNote.TextStyle.Italic = true
	recentNote.Wrapping = fyne.TextWrapWord
	parts = append(parts, widget.NewSeparator(), section(T("Gates"), gatesCard),
		widget.NewSeparator(), section(T("Recent decisions"), container.NewVBox(recentNote, s.recentBox)))
	s.root = container.NewVScroll(container.NewVBox(parts...))
	s.reload()
	k.onLeave(func() { s.left = true })
	k.repeatWhileShown(gatesRefresh, func() func() {
		d := s.collect()
		return func() { s.tick(d) }
	})
	if gatesBuilt != nil {
		gatesBuilt(s)
	}
	return s.root
}

// shown reports whether this build of the gates screen is still on show
// (UI goroutine).
func (s *gatesScreen) shown() bool { return !s.left }

// tick applies a reload if the screen is still shown and reports whether
// it is (UI goroutine); the ticker's step, callable from tests.
func (s *gatesScreen) tick(d gatesData) bool {
	if !s.shown() {
		return false
	}
	s.apply(d)
	return true
}

// collect gathers what the screen shows (any goroutine).
func (s *gatesScreen) collect() gatesData {
	d := gatesData{now: s.k.d.Clock.Now(), mode: s.svc.Mode(), gates: s.svc.Gates(), recent: s.svc.Recent(gatesRecentN),
		fresh: s.svc.Freshness(), policy: s.svc.Policy(), outbox: s.svc.Outbox()}
	if s.k.d.GateSync != nil {
		p := s.k.d.GateSync.Progress()
		d.sync = &p
	}
	return d
}

// reload collects off the UI goroutine and applies on it.
func (s *gatesScreen) reload() {
	async(s.k.d.Background, func() (gatesData, error) { return s.collect(), nil }, func(d gatesData, _ error) { s.apply(d) })
}

// apply shows d (UI goroutine).
func (s *gatesScreen) apply(d gatesData) {
	s.mode.SetText(T("Current mode: {{.Mode}}", map[string]any{"Mode": modeLabel(d.mode)}))
	s.modeSet = true
	s.modeRadio.SetSelected(modeLabel(d.mode))
	s.modeSet = false
	s.applyCache(d)
	s.applyOutbox(d)
	// A rebuilt list changes the height of the scrolled content; the
	// scroll container only re-measures its content when refreshed.
	g, r := s.applyGates(d), s.applyRecent(d)
	if g || r {
		s.root.Refresh()
	}
}

func (s *gatesScreen) applyCache(d gatesData) {
	// Central's thresholds (the ones the gate answers use), not defaults.
	pol := d.policy
	age := d.fresh.Age(d.now)
	switch {
	case d.fresh.FreshAsOf.IsZero():
		s.cache.SetText(T("Never synced: every gate gets \"manual\" (staff check) until the first sync."))
		s.cache.Importance = widget.DangerImportance
	case age > pol.CacheManualAfter:
		s.cache.SetText(T("Cache version {{.V}}, {{.Age}} old: older than central's limit of {{.Limit}} — gates get \"manual\" (staff check).", map[string]any{"V": d.fresh.Version, "Age": ageText(age), "Limit": ageText(pol.CacheManualAfter)}))
		s.cache.Importance = widget.DangerImportance
	case age > pol.CacheWarnAfter:
		s.cache.SetText(T("Cache version {{.V}}, {{.Age}} old: no sync for over {{.Warn}} — check the central link. Gates answer \"manual\" after {{.Limit}}.", map[string]any{"V": d.fresh.Version, "Age": ageText(age), "Warn": ageText(pol.CacheWarnAfter), "Limit": ageText(pol.CacheManualAfter)}))
		s.cache.Importance = widget.WarningImportance
	default:
		s.cache.SetText(T("Cache version {{.V}}, {{.Age}} old.", map[string]any{"V": d.fresh.Version, "Age": ageText(age)}))
		s.cache.Importance = widget.SuccessImportance
	}
	s.cache.Refresh()
	if d.sync == nil {
		s.syncText.SetText("")
		return
	}
	p := *d.sync
	line := T("Sync: {{.Phase}}", map[string]any{"Phase": phaseLabel(p.Phase)})
	// The bar shows while a phase with a known size runs.
	if p.Total > 0 && p.Phase != app.SyncIdle {
		s.syncBar.Max = float64(p.Total)
		s.syncBar.SetValue(float64(min(p.Rows, p.Total)))
		s.syncBar.Show()
		line += fmt.Sprintf(" · %d / %d %s", p.Rows, p.Total, T("rows"))
	} else {
		s.syncBar.Hide()
	}
	if p.ETA > 0 {
		line += " · " + T("about {{.Left}} left", map[string]any{"Left": ageText(p.ETA)})
	}
	if d := progressDetail(p, s.k.lang); d != "" && p.Phase != app.SyncIdle {
		line += " · " + d
	}
	if p.AppliedSeq > 0 {
		line += " · " + T("applied up to {{.Seq}}", map[string]any{"Seq": p.AppliedSeq})
	}
	if p.SkewTooLarge() {
		args := map[string]any{"D": ageText(max(p.ClockSkew, -p.ClockSkew)), "W": ageText(app.GateClockWindow)}
		if p.ClockSkew < 0 {
			line += "\n" + T("Station clock is {{.D}} ahead of central: gates' signed requests and ride codes may be refused beyond {{.W}} — correct the station's time (NTP).", args)
		} else {
			line += "\n" + T("Station clock is {{.D}} behind central: gates' signed requests and ride codes may be refused beyond {{.W}} — correct the station's time (NTP).", args)
		}
	}
	s.syncText.SetText(line)
	if p.Phase == app.SyncError || p.SkewTooLarge() {
		s.syncText.Importance = widget.DangerImportance
	} else {
		s.syncText.Importance = widget.MediumImportance
	}
	s.syncText.Refresh()
}

func (s *gatesScreen) applyOutbox(d gatesData) {
	o := d.outbox
	line := T("Waiting: {{.N}}", map[string]any{"N": o.Pending})
	if !o.OldestUnsent.IsZero() {
		line += " · " + T("oldest unsent {{.Age}} ago", map[string]any{"Age": ageText(d.now.Sub(o.OldestUnsent))})
	}
	line += " · " + T("uploaded: {{.N}}", map[string]any{"N": o.Uploaded})
	if !o.LastUpload.IsZero() {
		line += " · " + T("last upload {{.Age}} ago", map[string]any{"Age": ageText(d.now.Sub(o.LastUpload))})
	}
	if o.LastError != "" {
		line += "\n" + T("Last upload error: {{.Err}}", map[string]any{"Err": o.LastError})
	}
	s.outbox.SetText(line)
	if !o.OldestUnsent.IsZero() && d.now.Sub(o.OldestUnsent) > app.DefaultPolicy().CacheWarnAfter {
		s.outbox.Importance = widget.WarningImportance
	} else {
		s.outbox.Importance = widget.MediumImportance
	}
	s.outbox.Refresh()
}

// applyGates rebuilds the gate rows only when something changed, so a
// button is never swapped under the supervisor's pointer for nothing.
func (s *gatesScreen) applyGates(d gatesData) (changed bool) {
	var sig strings.Builder
	for _, g := range d.gates {
		fmt.Fprintf(&sig, "%s|%v|%v|%d|%.0f;", g.ID, g.KeyIDs, g.Revoked, g.LastSeen.Unix(), g.PerMin)
	}
	fmt.Fprintf(&sig, "@%d", d.now.Unix()/10) // "last seen … ago" moves on
	if sig.String() == s.gatesSig {
		return false
	}
	s.gatesSig = sig.String()
	super := s.k.hasRole(app.RoleSupervisor)
	cols := 5
	if super {
		cols = 6
	}
	cells := []fyne.CanvasObject{cellHead(T("Gate")), cellHead(T("Keys")), cellHead(T("State")), cellHead(T("Last seen")), cellHead(T("Requests/min"))}
	if super {
		cells = append(cells, cell(""))
	}
	for _, g := range d.gates {
		keys := make([]string, len(g.KeyIDs))
		for i, id := range g.KeyIDs {
			keys[i] = fmt.Sprintf("#%d", id)
		}
		state := cell(T("active"))
		if g.Revoked {
			state.SetText(T("revoked"))
			state.Importance = widget.DangerImportance
		} else if len(g.KeyIDs) > 1 {
			state.SetText(T("rotating"))
			state.Importance = widget.WarningImportance
		}
		seen := T("never")
		if !g.LastSeen.IsZero() {
			seen = T("{{.Age}} ago", map[string]any{"Age": ageText(d.now.Sub(g.LastSeen))})
		}
		cells = append(cells, cell(g.ID), cell(strings.Join(keys, ", ")), state, cell(seen), cell(fmt.Sprintf("%.0f", g.PerMin)))
		if super {
			rot := widget.NewButton(T("Rotate key"), func() { s.askRotate(g.ID) })
			rev := widget.NewButton(T("Revoke"), func() { s.askRevoke(g.ID) })
			rev.Importance = widget.DangerImportance
			if g.Revoked {
				rot.Disable()
				rev.Disable()
			}
			// Stacked, so the table stays narrow enough for a 1280-pixel
			// display with the navigation (and the demo drawer) beside it.
			cells = append(cells, container.NewVBox(rot, rev))
		}
	}
	s.gatesBox.Objects = nil
	if len(d.gates) == 0 {
		s.gatesBox.Add(widget.NewLabel(T("No gate is commissioned yet.")))
	} else {
		s.gatesBox.Add(newColumns(cols, 0, cells...))
	}
	s.gatesBox.Refresh()
	return true
}

func (s *gatesScreen) applyRecent(d gatesData) (changed bool) {
	var sig strings.Builder
	for _, e := range d.recent {
		fmt.Fprintf(&sig, "%s/%s;", e.Gate, e.RequestID)
	}
	if sig.String() == s.recentSig {
		return false
	}
	s.recentSig = sig.String()
	s.recentBox.Objects = nil
	if len(d.recent) == 0 {
		s.recentBox.Add(widget.NewLabel(T("No decision yet.")))
		s.recentBox.Refresh()
		return true
	}
	cells := []fyne.CanvasObject{cellHead(T("Time")), cellHead(T("Gate")), cellHead(T("Medium")), cellHead(T("Decision")), cellHead(T("Reason"))}
	for _, e := range d.recent {
		dec := cellHead(decisionLabel(e.Decision))
		dec.Importance = decisionImportance(e.Decision)
		medium := T("card")
		if e.Medium == "qr" {
			medium = T("ride code")
		}
		reason := widget.NewLabel(reasonLabel(e.Reason))
		reason.Wrapping = fyne.TextWrapWord
		cells = append(cells, cell(e.At.In(app.ChinaTime()).Format("15:04:05")), cell(e.Gate), cell(medium), dec, reason)
	}
	s.recentBox.Add(newColumns(5, 4, cells...))
	s.recentBox.Refresh()
	return true
}

// ---- actions ----

// supervisorOnly reports whether the operator may change gate settings and
// says so in the banner when not. The service audits; the screen refuses.
func (s *gatesScreen) supervisorOnly() bool {
	if s.k.hasRole(app.RoleSupervisor) {
		return true
	}
	s.result.Set(ToneError, T("Not allowed"), T("Only a supervisor can change the mode or the gate keys."))
	return false
}

// askMode confirms a mode switch, then makes it.
func (s *gatesScreen) askMode(m app.GateMode) {
	cur := s.svc.Mode()
	if m == cur || !m.Valid() {
		return
	}
	if !s.supervisorOnly() {
		s.reload() // put the radio back
		return
	}
	m0 := m
	s.confirmShown = s.k.confirm(T("Change gate mode"),
		T("Switch the gate service from {{.From}} to {{.To}}? Every gate of this station follows at once. The change is recorded with your operator number.",
			map[string]any{"From": modeLabel(cur), "To": modeLabel(m)}),
		T("Switch mode"), m == app.ModeOff, func() { s.setMode(m0) })
	// Cancel (or the switch) puts the radio back to what the service says.
	s.confirmShown.onClose = s.reload
}

func (s *gatesScreen) setMode(m app.GateMode) {
	if !s.supervisorOnly() {
		return
	}
	op := s.k.op.ID
	async(s.k.d.Background, func() (struct{}, error) { return struct{}{}, s.svc.SetMode(m, op) }, func(_ struct{}, err error) {
		if err != nil {
			s.result.Set(ToneError, T("Mode not changed"), s.k.msg(err))
		} else {
			s.result.Set(ToneOK, T("Mode changed"), T("Gates now run in {{.Mode}} mode.", map[string]any{"Mode": modeLabel(m)}))
		}
		s.reload()
	})
}

func (s *gatesScreen) addGate() {
	s.k.touch()
	if !s.supervisorOnly() {
		return
	}
	id := strings.TrimSpace(s.gateID.Text)
	if !app.ValidGateID(id) {
		s.result.Set(ToneError, T("Gate not added"), T("A gate id is 1–32 lower-case letters, digits or '-'."))
		return
	}
	op := s.k.op.ID
	s.addBtn.Disable()
	async(s.k.d.Background, func() (string, error) { return s.svc.AddGate(id, op) }, func(key string, err error) {
		s.addBtn.Enable()
		if err != nil {
			s.result.Set(ToneError, T("Gate not added"), s.k.msg(err))
			return
		}
		s.gateID.SetText("")
		s.result.Set(ToneOK, T("Gate added"), id)
		s.showKey(id, key)
		s.reload()
	})
}

func (s *gatesScreen) askRotate(id string) {
	s.k.touch()
	if !s.supervisorOnly() {
		return
	}
	s.confirmShown = s.k.confirm(T("Rotate key"),
		T("Give gate {{.Gate}} a new key? Its current key keeps working until the next rotation, so the gate can be re-keyed while it runs.", map[string]any{"Gate": id}),
		T("Rotate key"), false, func() {
			op := s.k.op.ID
			async(s.k.d.Background, func() (string, error) { return s.svc.RotateGate(id, op) }, func(key string, err error) {
				if err != nil {
					s.result.Set(ToneError, T("Key not rotated"), s.k.msg(err))
					return
				}
				s.result.Set(ToneOK, T("New key issued"), id)
				s.showKey(id, key)
				s.reload()
			})
		})
}

func (s *gatesScreen) askRevoke(id string) {
	s.k.touch()
	if !s.supervisorOnly() {
		return
	}
	s.confirmShown = s.k.confirm(T("Revoke gate"),
		T("Revoke every key of gate {{.Gate}}? The gate is refused from now on until it is added again with a new key.", map[string]any{"Gate": id}),
		T("Revoke"), true, func() {
			op := s.k.op.ID
			async(s.k.d.Background, func() (struct{}, error) { return struct{}{}, s.svc.RevokeGate(id, op) }, func(_ struct{}, err error) {
				if err != nil {
					s.result.Set(ToneError, T("Gate not revoked"), s.k.msg(err))
					return
				}
				s.result.Set(ToneWarn, T("Gate revoked"), id)
				s.reload()
			})
		})
}

// showKey shows a new gate key once, with a copy button and the warning
// that it cannot be shown again. The key is not kept: closing the dialog
// drops the last reference the screen holds, and it is never logged.
func (s *gatesScreen) showKey(id, key string) {
	keyText := widget.NewLabelWithStyle(key, fyne.TextAlignCenter, fyne.TextStyle{Monospace: true, Bold: true})
	keyText.Selectable = true
	keyText.Wrapping = fyne.TextWrapBreak
	warn := widget.NewLabel(T("Enter this key into gate {{.Gate}} now. It is shown only once: StationDesk keeps no copy it could show again. If it is lost, rotate the key.", map[string]any{"Gate": id}))
	warn.Wrapping = fyne.TextWrapWord
	warn.Importance = widget.WarningImportance
	copied := widget.NewLabel("")
	copyBtn := widget.NewButtonWithIcon(T("Copy key"), theme.ContentCopyIcon(), func() {
		s.k.a.Clipboard().SetContent(keyText.Text)
		copied.SetText(T("Copied to the clipboard."))
	})
	content := container.NewVBox(warn, keyText, container.NewHBox(copyBtn, copied))
	done := widget.NewButton(T("I have entered the key"), nil)
	done.Importance = widget.HighImportance
	m := s.k.showModal(T("Gate key for {{.Gate}}", map[string]any{"Gate": id}), content, 800, done)
	m.onClose = func() {
		keyText.SetText("")
		s.keyShown = nil
	}
	s.keyShown = m
}

func (s *gatesScreen) syncNow() {
	s.k.touch()
	gs := s.k.d.GateSync
	s.syncBtn.Disable()
	async(s.k.d.Background, func() (struct{}, error) { gs.SyncNow(); return struct{}{}, nil }, func(struct{}, error) {
		s.syncBtn.Enable()
		s.result.Set(ToneInfo, T("Sync started"), T("Progress shows below."))
		s.reload()
	})
}

// cell is a table cell (newColumns sizes each column to its widest cell).
func cell(t string) *widget.Label {
	return widget.NewLabel(t)
}

// cellHead is a bold cell (column headings, decisions).
func cellHead(t string) *widget.Label {
	l := cell(t)
	l.TextStyle.Bold = true
	return l
}

// section is a titled part of a screen: a bold sub-heading over its
// content (lighter than widget.Card, so the gates screen fits a desk
// display at the large text sizes).
func section(title string, content fyne.CanvasObject) fyne.CanvasObject {
	h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.SizeName = theme.SizeNameSubHeadingText
	return container.NewBorder(h, nil, nil, nil, content)
}

// ---- labels ----

func modeLabel(m app.GateMode) string {
	switch m {
	case app.ModeOff:
		return T("Off")
	case app.ModeTest:
		return T("Test")
	case app.ModeEnforce:
		return T("Enforce")
	}
	return string(m)
}

func modeOfLabel(l string) app.GateMode {
	for _, m := range []app.GateMode{app.ModeOff, app.ModeTest, app.ModeEnforce} {
		if modeLabel(m) == l {
			return m
		}
	}
	return ""
}

func decisionLabel(d app.GateDecision) string {
	switch d {
	case app.DecisionAllow:
		return T("Allow")
	case app.DecisionDeny:
		return T("Deny")
	case app.DecisionManual:
		return T("Staff check")
	}
	return string(d)
}

func decisionImportance(d app.GateDecision) widget.Importance {
	switch d {
	case app.DecisionAllow:
		return widget.SuccessImportance
	case app.DecisionDeny:
		return widget.DangerImportance
	}
	return widget.WarningImportance
}

func decisionTone(d app.GateDecision) Tone {
	switch d {
	case app.DecisionAllow:
		return ToneOK
	case app.DecisionDeny:
		return ToneError
	}
	return ToneWarn
}

func reasonLabel(r app.GateReason) string {
	switch r {
	case app.ReasonOK:
		return T("green code, recent negative test")
	case app.ReasonNotBound:
		return T("card not upgraded")
	case app.ReasonCodeRed:
		return T("red health code")
	case app.ReasonCodeYellow:
		return T("yellow health code")
	case app.ReasonNoHealthAccount:
		return T("no Beijing health-kit account")
	case app.ReasonTestTooOld:
		return T("negative test too old")
	case app.ReasonCardBlocked:
		return T("card blocked or reported lost")
	case app.ReasonCacheStale:
		return T("gate cache too old")
	case app.ReasonCacheEmpty:
		return T("gate cache never synced")
	case app.ReasonQRUnknownIssuer:
		return T("ride code from an unknown issuer")
	case app.ReasonQRExpired:
		return T("ride code expired")
	case app.ReasonQRNotYetValid:
		return T("ride code not yet valid (check the station clock)")
	case app.ReasonQRInvalid:
		return T("ride code invalid")
	case app.ReasonServiceOff:
		return T("gate service off")
	case app.ReasonBadMedium:
		return T("not a card number or ride code")
	case app.ReasonUnavailable:
		return T("cache could not be read")
	}
	return string(r)
}

func phaseLabel(p app.SyncPhase) string {
	switch p {
	case app.SyncIdle:
		return T("up to date")
	case app.SyncManifest:
		return T("checking for changes")
	case app.SyncSnapshot:
		return T("building a new cache")
	case app.SyncDeltas:
		return T("applying changes")
	case app.SyncRepair:
		return T("repairing")
	case app.SyncError:
		return T("error")
	}
	return string(p)
}

// ageText renders a duration for people: "45 s", "12 min", "3 h 05 min",
// "2 d 4 h".
func ageText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return T("{{.N}} s", map[string]any{"N": int(d / time.Second)})
	case d < time.Hour:
		return T("{{.N}} min", map[string]any{"N": int(d / time.Minute)})
	case d < 48*time.Hour:
		return T("{{.H}} h {{.M}} min", map[string]any{"H": int(d / time.Hour), "M": fmt.Sprintf("%02d", int(d%time.Hour/time.Minute))})
	}
	return T("{{.D}} d {{.H}} h", map[string]any{"D": int(d / (24 * time.Hour)), "H": int(d % (24 * time.Hour) / time.Hour)})
}
