package ui

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// fakeGates is a fake at the app.GateService seam (the real service, its
// audit and its key store are tested in offline/verify).
type fakeGates struct {
	mu      sync.Mutex
	mode    app.GateMode
	gates   []app.GateInfo
	recent  []app.GateEvent
	fresh   app.CacheFreshness
	outbox  app.OutboxStats
	policy  *app.Policy // nil: the default
	setMode []string    // "mode by operator"
	added   []string
	revoked []string
	rotated []string
	nextKey string
}

func (f *fakeGates) Mode() app.GateMode { f.mu.Lock(); defer f.mu.Unlock(); return f.mode }
func (f *fakeGates) SetMode(m app.GateMode, op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setMode = append(f.setMode, string(m)+" by "+op)
	f.mode = m
	return nil
}
func (f *fakeGates) Gates() []app.GateInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]app.GateInfo(nil), f.gates...)
}
func (f *fakeGates) AddGate(id, op string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.gates {
		if g.ID == id {
			return "", app.NewError(app.CodeConflict, "gate_exists", "闸机已存在", "gate already exists")
		}
	}
	f.added = append(f.added, id+" by "+op)
	f.gates = append(f.gates, app.GateInfo{ID: id, KeyIDs: []int{1}})
	return f.nextKey, nil
}
func (f *fakeGates) RotateGate(id, op string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotated = append(f.rotated, id+" by "+op)
	return f.nextKey, nil
}
func (f *fakeGates) RevokeGate(id, op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id+" by "+op)
	for i := range f.gates {
		if f.gates[i].ID == id {
			f.gates[i].Revoked, f.gates[i].KeyIDs = true, nil
		}
	}
	return nil
}
func (f *fakeGates) Recent(n int) []app.GateEvent  { f.mu.Lock(); defer f.mu.Unlock(); return f.recent }
func (f *fakeGates) Freshness() app.CacheFreshness { f.mu.Lock(); defer f.mu.Unlock(); return f.fresh }
func (f *fakeGates) Outbox() app.OutboxStats       { f.mu.Lock(); defer f.mu.Unlock(); return f.outbox }
func (f *fakeGates) Policy() app.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.policy != nil {
		return *f.policy
	}
	return app.DefaultPolicy()
}

type fakeSync struct {
	calls int
	skew  atomic.Int64 // central minus station, ns; 0: unknown
}

func (f *fakeSync) Progress() app.SyncProgress {
	p := app.SyncProgress{Phase: app.SyncSnapshot, Rows: 250, Total: 1000, ETA: 90 * time.Second}
	if d := f.skew.Load(); d != 0 {
		p.ClockSkew, p.SkewKnown = time.Duration(d), true
	}
	return p
}
func (f *fakeSync) SyncNow() { f.calls++ }

// fakeDemoGate is a fake at the app.DemoGate seam (the real one is tested
// against a real verify server in offline/sim/gatesim).
type fakeDemoGate struct {
	res  app.DemoGateResult
	err  error
	last string
}

func (f *fakeDemoGate) GateID() string { return "demo-gate-1" }
func (f *fakeDemoGate) TapCard(_ context.Context, n string) (app.DemoGateResult, error) {
	f.last = "card " + n
	return f.res, f.err
}
func (f *fakeDemoGate) ScanRideQR(_ context.Context, rider string, expired bool) (app.DemoGateResult, error) {
	f.last = "qr " + rider
	if expired {
		f.last += " expired"
	}
	return f.res, f.err
}

const testGateKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

type gatesRig struct {
	t     *testing.T
	desk  *Desk
	win   fyne.Window
	clock *app.FakeClock
	svc   *fakeGates
	s     *gatesScreen
}

// newGatesRig shows the gates screen to an operator of role.
func newGatesRig(t *testing.T, role app.Role, demoGate app.DemoGate) *gatesRig {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1200, 900))
	clock := app.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local))
	svc := &fakeGates{mode: app.ModeTest, nextKey: testGateKey,
		fresh: app.CacheFreshness{Version: 42, FreshAsOf: clock.Now().Add(-3 * time.Minute)},
		gates: []app.GateInfo{{ID: "g-a-01", KeyIDs: []int{3}, LastSeen: clock.Now().Add(-5 * time.Second), PerMin: 17}},
	}
	r := &gatesRig{t: t, clock: clock, svc: svc, win: w}
	gatesBuilt = func(s *gatesScreen) { r.s = s }
	t.Cleanup(func() { gatesBuilt = nil })
	r.desk = NewDesk(a, w, Deps{Auth: &fakeAuth{}, Board: app.NewStatusBoard(clock), Clock: clock, Lang: app.LangEN, Scale: ScaleNormal,
		Gates: svc, GateSync: &fakeSync{}, DemoGate: demoGate, Background: inline})
	r.desk.Start()
	t.Cleanup(r.desk.Stop)
	id := map[app.Role]string{app.RoleSupervisor: "9001", app.RoleClerk: "1001"}[role]
	r.desk.loggedIn(app.Operator{ID: id, DisplayName: "Test " + string(role), Role: role})
	r.desk.showScreen("gates")
	if r.s == nil || r.desk.CurrentScreen() != "gates" {
		t.Fatalf("gates screen not shown to %s", role)
	}
	return r
}

// objects returns every visible object on the canvas, overlays (modals)
// included.
func objects(w fyne.Window) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		out = append(out, o)
		if c, ok := o.(*fyne.Container); ok {
			for _, ch := range c.Objects {
				walk(ch)
			}
		}
		if wd, ok := o.(fyne.Widget); ok {
			for _, ch := range test.WidgetRenderer(wd).Objects() {
				walk(ch)
			}
		}
	}
	walk(w.Content())
	for _, o := range w.Canvas().Overlays().List() {
		walk(o)
	}
	return out
}

// screenText is every visible label, button, rich text and banner.
func screenText(w fyne.Window) string {
	var b strings.Builder
	for _, o := range objects(w) {
		switch x := o.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.Button:
			b.WriteString(x.Text + "\n")
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		case *Banner:
			b.WriteString(x.Text() + "\n")
		}
	}
	return b.String()
}

// button returns the n-th (0-based) visible button labelled text.
func (r *gatesRig) button(text string, n int) *widget.Button {
	r.t.Helper()
	for _, o := range objects(r.win) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			if n == 0 {
				return b
			}
			n--
		}
	}
	r.t.Fatalf("no button %q on screen:\n%s", text, screenText(r.win))
	return nil
}

func (r *gatesRig) hasButton(text string) bool {
	for _, o := range objects(r.win) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			return true
		}
	}
	return false
}

func TestGatesClerkSeesButCannotChange(t *testing.T) {
	r := newGatesRig(t, app.RoleClerk, nil)
	got := screenText(r.win)
	for _, want := range []string{"Current mode: Test", "g-a-01", "#3", "17", "Cache version 42, 3 min old.", "Only a supervisor can change the mode or the gate keys."} {
		if !strings.Contains(got, want) {
			t.Errorf("clerk's screen lacks %q:\n%s", want, got)
		}
	}
	for _, b := range []string{"Add gate", "Revoke", "Rotate key"} {
		if r.hasButton(b) {
			t.Errorf("clerk sees %q", b)
		}
	}
	if !r.s.modeRadio.Disabled() {
		t.Error("mode switch enabled for a clerk")
	}
	t.Run("ModeChangeRefused", func(t *testing.T) {
		r.s.modeRadio.SetSelected("Enforce") // what a tap on a disabled radio cannot do, code can
		if len(r.svc.setMode) != 0 || r.s.confirmShown != nil {
			t.Fatalf("clerk reached the service: %v", r.svc.setMode)
		}
		if r.s.result.Tone() != ToneError || !strings.Contains(r.s.result.Text(), "Only a supervisor") {
			t.Fatalf("banner %v %q", r.s.result.Tone(), r.s.result.Text())
		}
		if r.s.modeRadio.Selected != "Test" {
			t.Fatalf("radio left at %q", r.s.modeRadio.Selected)
		}
		r.s.setMode(app.ModeEnforce)
		if len(r.svc.setMode) != 0 {
			t.Fatalf("setMode for a clerk reached the service: %v", r.svc.setMode)
		}
	})
}

func TestGatesSupervisorSwitchesModeAfterConfirm(t *testing.T) {
	r := newGatesRig(t, app.RoleSupervisor, nil)
	t.Run("Cancelled", func(t *testing.T) {
		r.s.modeRadio.SetSelected("Off")
		if r.s.confirmShown == nil || !strings.Contains(screenText(r.win), "from Test to Off") {
			t.Fatalf("no confirmation:\n%s", screenText(r.win))
		}
		test.Tap(r.button("Do not change", 0))
		if len(r.svc.setMode) != 0 || r.s.modeRadio.Selected != "Test" || len(r.win.Canvas().Overlays().List()) != 0 {
			t.Fatalf("cancel: calls %v radio %q overlays %d", r.svc.setMode, r.s.modeRadio.Selected, len(r.win.Canvas().Overlays().List()))
		}
	})
	t.Run("Confirmed", func(t *testing.T) {
		r.s.modeRadio.SetSelected("Enforce")
		test.Tap(r.button("Switch mode", 0))
		if strings.Join(r.svc.setMode, ",") != "enforce by 9001" {
			t.Fatalf("service calls %v", r.svc.setMode)
		}
		if r.s.result.Tone() != ToneOK || !strings.Contains(screenText(r.win), "Current mode: Enforce") {
			t.Fatalf("after switch:\n%s", screenText(r.win))
		}
	})
}

func TestGatesAddGateShowsKeyOnce(t *testing.T) {
	r := newGatesRig(t, app.RoleSupervisor, nil)
	t.Run("ErrBadID", func(t *testing.T) {
		test.Type(r.s.gateID, "Gate A!")
		test.Tap(r.button("Add gate", 0))
		if len(r.svc.added) != 0 || r.s.result.Tone() != ToneError || r.s.keyShown != nil {
			t.Fatalf("bad id: added %v banner %q", r.svc.added, r.s.result.Text())
		}
		r.s.gateID.SetText("")
	})
	t.Run("OK", func(t *testing.T) {
		test.Type(r.s.gateID, "g-b-02")
		test.Tap(r.button("Add gate", 0))
		if strings.Join(r.svc.added, ",") != "g-b-02 by 9001" || r.s.keyShown == nil {
			t.Fatalf("added %v, key dialog %v", r.svc.added, r.s.keyShown)
		}
		got := screenText(r.win)
		if !strings.Contains(got, testGateKey) || !strings.Contains(got, "shown only once") {
			t.Fatalf("key dialog:\n%s", got)
		}
		test.Tap(r.button("Copy key", 0))
		if c := r.desk.a.Clipboard().Content(); c != testGateKey {
			t.Fatalf("clipboard %q", c)
		}
		test.Tap(r.button("I have entered the key", 0))
		r.desk.a.Clipboard().SetContent("")
		if r.s.keyShown != nil || strings.Contains(screenText(r.win), testGateKey) {
			t.Fatalf("key still on screen after closing:\n%s", screenText(r.win))
		}
		// The list shows the new gate; a reload never brings the key back.
		r.s.tick(r.s.collect())
		if got := screenText(r.win); !strings.Contains(got, "g-b-02") || strings.Contains(got, testGateKey) {
			t.Fatalf("after reload:\n%s", got)
		}
	})
}

func TestGatesRevokeNeedsConfirmation(t *testing.T) {
	r := newGatesRig(t, app.RoleSupervisor, nil)
	test.Tap(r.button("Revoke", 0))
	if r.s.confirmShown == nil || !strings.Contains(screenText(r.win), "Revoke every key of gate g-a-01?") {
		t.Fatalf("no confirmation:\n%s", screenText(r.win))
	}
	test.Tap(r.button("Do not change", 0))
	if len(r.svc.revoked) != 0 {
		t.Fatalf("revoked without confirmation: %v", r.svc.revoked)
	}
	test.Tap(r.button("Revoke", 0))
	// The modal's confirm button is the second "Revoke" on the canvas
	// (the row's button comes first in the walk).
	test.Tap(r.button("Revoke", 1))
	if strings.Join(r.svc.revoked, ",") != "g-a-01 by 9001" || r.s.result.Tone() != ToneWarn {
		t.Fatalf("revoked %v banner %q", r.svc.revoked, r.s.result.Text())
	}
	if !strings.Contains(screenText(r.win), "revoked") {
		t.Fatalf("row not marked revoked:\n%s", screenText(r.win))
	}
	if b := r.button("Revoke", 0); !b.Disabled() {
		t.Fatal("revoke still enabled for a revoked gate")
	}
}

func TestGatesRotateShowsNewKey(t *testing.T) {
	r := newGatesRig(t, app.RoleSupervisor, nil)
	test.Tap(r.button("Rotate key", 0))
	test.Tap(r.button("Rotate key", 1))
	if strings.Join(r.svc.rotated, ",") != "g-a-01 by 9001" || r.s.keyShown == nil || !strings.Contains(screenText(r.win), testGateKey) {
		t.Fatalf("rotate: %v\n%s", r.svc.rotated, screenText(r.win))
	}
}

func TestGatesCacheAgeWarns(t *testing.T) {
	r := newGatesRig(t, app.RoleClerk, nil)
	now := r.clock.Now()
	// Central's manifest may set other thresholds than the defaults; the
	// screen follows the ones the gate answers use.
	central := app.DefaultPolicy()
	central.CacheWarnAfter, central.CacheManualAfter = 2*time.Minute, time.Hour
	for _, tc := range []struct {
		name string
		pol  *app.Policy
		f    app.CacheFreshness
		imp  widget.Importance
		want string
	}{
		{"Fresh", nil, app.CacheFreshness{Version: 7, FreshAsOf: now.Add(-4 * time.Minute)}, widget.SuccessImportance, "Cache version 7, 4 min old."},
		{"WarnAfter10Min", nil, app.CacheFreshness{Version: 7, FreshAsOf: now.Add(-11 * time.Minute)}, widget.WarningImportance, "no sync for over 10 min — check the central link. Gates answer \"manual\" after 6 h 00 min."},
		{"ManualAfter6h", nil, app.CacheFreshness{Version: 7, FreshAsOf: now.Add(-7 * time.Hour)}, widget.DangerImportance, "7 h 00 min old: older than central's limit of 6 h 00 min"},
		{"CentralWarnAfter2Min", &central, app.CacheFreshness{Version: 7, FreshAsOf: now.Add(-4 * time.Minute)}, widget.WarningImportance, "no sync for over 2 min"},
		{"CentralManualAfter1h", &central, app.CacheFreshness{Version: 7, FreshAsOf: now.Add(-90 * time.Minute)}, widget.DangerImportance, "limit of 1 h 00 min"},
		{"NeverSynced", nil, app.CacheFreshness{}, widget.DangerImportance, "Never synced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.svc.mu.Lock()
			r.svc.fresh, r.svc.policy = tc.f, tc.pol
			r.svc.mu.Unlock()
			r.s.tick(r.s.collect())
			if r.s.cache.Importance != tc.imp || !strings.Contains(r.s.cache.Text, tc.want) {
				t.Fatalf("got %v %q", r.s.cache.Importance, r.s.cache.Text)
			}
		})
	}
	if got := r.s.syncText.Text; !strings.Contains(got, "building a new cache · 250 / 1000 rows · about 1 min left") {
		t.Fatalf("sync line %q", got)
	}
	if r.s.syncBar.Value != 250 || r.s.syncBar.Max != 1000 {
		t.Fatalf("bar %v/%v", r.s.syncBar.Value, r.s.syncBar.Max)
	}
}

func TestGatesClockSkewWarns(t *testing.T) {
	r := newGatesRig(t, app.RoleClerk, nil)
	fs := r.desk.d.GateSync.(*fakeSync)
	fs.skew.Store(int64(-3 * time.Minute)) // central 3 min behind: the station is ahead
	r.s.tick(r.s.collect())
	if got := r.s.syncText.Text; !strings.Contains(got, "Station clock is 3 min ahead of central") || r.s.syncText.Importance != widget.DangerImportance {
		t.Fatalf("skew line %q (%v)", got, r.s.syncText.Importance)
	}
	fs.skew.Store(int64(5 * time.Second)) // within the window: no warning
	r.s.tick(r.s.collect())
	if got := r.s.syncText.Text; strings.Contains(got, "Station clock") || r.s.syncText.Importance == widget.DangerImportance {
		t.Fatalf("small skew flagged: %q", got)
	}
}

func TestGatesRecentAndOutboxWithoutPersonalData(t *testing.T) {
	r := newGatesRig(t, app.RoleClerk, nil)
	now := r.clock.Now()
	r.svc.mu.Lock()
	r.svc.recent = []app.GateEvent{
		{Gate: "g-a-01", RequestID: "r1", At: now, Medium: "card", CardToken: "d3adb33fcafe", Decision: app.DecisionDeny, Reason: app.ReasonCodeRed, Mode: app.ModeEnforce},
		{Gate: "g-a-02", RequestID: "r2", At: now, Medium: "qr", Decision: app.DecisionAllow, Reason: app.ReasonOK, Mode: app.ModeEnforce},
	}
	r.svc.outbox = app.OutboxStats{Pending: 12, OldestUnsent: now.Add(-15 * time.Minute), Uploaded: 340}
	r.svc.mu.Unlock()
	r.s.tick(r.s.collect())
	got := screenText(r.win)
	for _, want := range []string{"Deny", "red health code", "ride code", "Allow", "Waiting: 12 · oldest unsent 15 min ago · uploaded: 340"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "d3adb33f") {
		t.Error("card token shown")
	}
	if r.s.outbox.Importance != widget.WarningImportance {
		t.Errorf("15 min backlog not warned: %v", r.s.outbox.Importance)
	}
}

func TestGatesRefreshStopsWhenLeft(t *testing.T) {
	r := newGatesRig(t, app.RoleSupervisor, nil)
	if !r.s.tick(r.s.collect()) {
		t.Fatal("tick refused while shown")
	}
	old := r.s
	r.desk.showScreen("doccheck")
	if old.tick(old.collect()) {
		t.Fatal("tick still applies after leaving the screen")
	}
	r.desk.showScreen("gates")
	if old.tick(old.collect()) || !r.s.tick(r.s.collect()) {
		t.Fatal("an old screen's ticker revived, or the new one refused")
	}
	r.desk.Lock()
	if r.s.tick(r.s.collect()) {
		t.Fatal("tick applies on the lock screen")
	}
}

func TestGatesSyncNow(t *testing.T) {
	r := newGatesRig(t, app.RoleClerk, nil)
	test.Tap(r.button("Sync now", 0))
	if n := r.desk.d.GateSync.(*fakeSync).calls; n != 1 {
		t.Fatalf("SyncNow called %d times", n)
	}
}

func TestSimulatedGatePanel(t *testing.T) {
	g := &fakeDemoGate{}
	r := newGatesRig(t, app.RoleSupervisor, g)
	var cardSel, riderSel *widget.Select
	for _, o := range objects(r.win) {
		if s, ok := o.(*widget.Select); ok {
			switch s.PlaceHolder {
			case "Choose a demo card":
				cardSel = s
			case "Choose a demo rider":
				riderSel = s
			}
		}
	}
	if cardSel == nil || riderSel == nil {
		t.Fatal("simulated gate panel missing")
	}
	answer := func() *Banner {
		for _, o := range objects(r.win) {
			if b, ok := o.(*Banner); ok && b != r.s.result && b.Tone() != ToneNone {
				return b
			}
		}
		t.Fatalf("no answer shown:\n%s", screenText(r.win))
		return nil
	}
	for _, tc := range []struct {
		name string
		act  func()
		res  app.DemoGateResult
		err  error
		tone Tone
		want []string
		last string
	}{
		{"AllowGreen", func() { cardSel.SetSelectedIndex(0); test.Tap(r.button("Tap card at the gate", 0)) },
			app.DemoGateResult{Answer: app.GateAnswer{Decision: app.DecisionAllow, Reason: app.ReasonOK, Mode: app.ModeEnforce}, Latency: 3 * time.Millisecond},
			nil, ToneOK, []string{"Allow", "green code, recent negative test", "Mode: Enforce"}, "card 1000200001"},
		{"DenyRedQR", func() { riderSel.SetSelectedIndex(3); test.Tap(r.button("Scan ride code", 0)) },
			app.DemoGateResult{Answer: app.GateAnswer{Decision: app.DecisionDeny, Reason: app.ReasonCodeRed, Mode: app.ModeEnforce}},
			nil, ToneError, []string{"Deny", "red health code", "ride code of red"}, "qr red"},
		{"ManualTestModeShowsWouldBe", func() { riderSel.SetSelectedIndex(0); test.Tap(r.button("Scan an expired ride code", 0)) },
			app.DemoGateResult{Answer: app.GateAnswer{Decision: app.DecisionManual, Reason: app.ReasonQRExpired, Mode: app.ModeTest, WouldBe: app.DecisionDeny, WouldBeReason: app.ReasonQRExpired}},
			nil, ToneWarn, []string{"Staff check", "would be: Deny (ride code expired)"}, "qr green-fresh expired"},
		{"ErrRejected", func() { cardSel.SetSelectedIndex(0); test.Tap(r.button("Tap card at the gate", 0)) },
			app.DemoGateResult{}, app.NewError(app.CodeUnauthorized, "gate_rejected", "拒绝", "The station rejected the simulated gate."),
			ToneError, []string{"No answer", "rejected the simulated gate"}, "card 1000200001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.res, g.err = tc.res, tc.err
			tc.act()
			b := answer()
			if g.last != tc.last || b.Tone() != tc.tone {
				t.Fatalf("sent %q, tone %v: %q", g.last, b.Tone(), b.Text())
			}
			for _, w := range tc.want {
				if !strings.Contains(b.Text(), w) {
					t.Errorf("answer lacks %q: %q", w, b.Text())
				}
			}
		})
	}
}
