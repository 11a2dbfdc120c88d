package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"stationdesk/app"
)

// fakeOutlook is a fake at the app.GateService/app.GateOutlooker seam whose
// answers come from the gates' own rules (app.DecideGate, app.ApplyMode)
// over a fake cache; the verify service's CardOutlook is tested against
// real gate requests in offline/verify.
type fakeOutlook struct {
	*fakeGates
	clock *app.FakeClock
	mu    sync.Mutex
	cache map[string]app.GateStatus
	asked int
}

func newFakeOutlook(clock *app.FakeClock, mode app.GateMode) *fakeOutlook {
	return &fakeOutlook{fakeGates: &fakeGates{mode: mode}, clock: clock, cache: map[string]app.GateStatus{}}
}

func (f *fakeOutlook) put(card string, st app.GateStatus) {
	f.mu.Lock()
	f.cache[card] = st
	f.mu.Unlock()
}

func (f *fakeOutlook) CardOutlook(_ context.Context, card string) (app.GateOutlook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	now := f.clock.Now()
	pol := app.DefaultPolicy()
	fresh := app.CacheFreshness{Version: 1, FreshAsOf: now.Add(-time.Minute)}
	st := f.cache[card]
	d, r := app.DecideGate(st, fresh, now, pol)
	o := app.GateOutlook{Answer: app.ApplyMode(f.Mode(), d, r), Bound: st.Found, Color: st.Color, TestAge: -1,
		NATWindow: pol.NATWindow, CacheAge: time.Minute}
	if !st.LastNegative.IsZero() {
		o.TestAge = now.Sub(st.LastNegative)
	}
	return o, nil
}

// upgradeTo runs an own upgrade of rider key's card to the result step.
func upgradeTo(h *upHarness, key, card string) {
	h.t.Helper()
	h.placeID(rider(h.t, key).Identity)
	h.key(fyne.KeyReturn)
	h.wantStep(stepCard)
	h.placeCard(demoCard(h.t, card))
	h.key(fyne.KeyReturn)
	h.wantStep(stepConfirm)
	h.key(fyne.KeyReturn)
	h.wantStep(stepResult)
}

// TestUpgradeResultSaysWhatTheGateWillDo is finding 6: the rider with a
// 72-hour-old test and the yellow-code rider were told "升级成功 / 闸机将自动
// 核验" and the gate then refused them. The result now shows the gates'
// answer for the card and what the rider can do, in both languages.
func TestUpgradeResultSaysWhatTheGateWillDo(t *testing.T) {
	cases := []struct {
		name, rider, card string
		lang              app.Lang
		st                func(now time.Time) app.GateStatus
		tone              Tone
		want              []string
	}{
		{"TestTooOldZH", "green-72h", "1000200002", app.LangZH,
			func(now time.Time) app.GateStatus {
				return app.GateStatus{Found: true, Color: app.ColorGreen, LastNegative: now.Add(-72 * time.Hour)}
			},
			ToneError, []string{"闸机现在：拒绝", "72 小时", "48 小时", "新的阴性结果"}},
		{"TestTooOldEN", "green-72h", "1000200002", app.LangEN,
			func(now time.Time) app.GateStatus {
				return app.GateStatus{Found: true, Color: app.ColorGreen, LastNegative: now.Add(-72 * time.Hour)}
			},
			ToneError, []string{"At the gates now: Deny", "72 hours ago, older than 48 hours", "until a new negative result arrives"}},
		{"YellowZH", "yellow", "1000200003", app.LangZH,
			func(now time.Time) app.GateStatus {
				return app.GateStatus{Found: true, Color: app.ColorYellow, LastNegative: now.Add(-30 * time.Hour)}
			},
			ToneError, []string{"闸机现在：拒绝", "黄码"}},
		{"GreenEN", "green-72h", "1000200002", app.LangEN,
			func(now time.Time) app.GateStatus {
				return app.GateStatus{Found: true, Color: app.ColorGreen, LastNegative: now.Add(-6 * time.Hour)}
			},
			ToneOK, []string{"At the gates now: Allow", "negative test 6 hours ago", "for 42 hours more"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g *fakeOutlook
			h := newUpHarness(t, c.lang, func(d *Deps) {
				g = newFakeOutlook(d.Clock.(*app.FakeClock), app.ModeEnforce)
				d.Gates = g
			})
			g.put(c.card, c.st(h.clock.Now()))
			upgradeTo(h, c.rider, c.card)
			b := h.bannerWith(c.want[0])
			if b.Tone() != c.tone {
				t.Fatalf("gate banner tone %v, want %v: %q", b.Tone(), c.tone, b.Text())
			}
			for _, w := range c.want {
				if !strings.Contains(b.Text(), w) {
					t.Fatalf("gate banner lacks %q: %q", w, b.Text())
				}
			}
		})
	}
}

// TestUpgradeResultBeforeTheCacheHasTheCard: right after binding the gate
// cache does not have the card yet; the desk says so (staff check until the
// next sync) and asking again shows the real answer once it has.
func TestUpgradeResultBeforeTheCacheHasTheCard(t *testing.T) {
	var g *fakeOutlook
	h := newUpHarness(t, app.LangEN, func(d *Deps) {
		g = newFakeOutlook(d.Clock.(*app.FakeClock), app.ModeEnforce)
		d.Gates = g
	})
	upgradeTo(h, "green-72h", "1000200002")
	b := h.bannerWith("At the gates now: Staff check")
	if !strings.Contains(b.Text(), "do not know this card as upgraded yet") || b.Tone() != ToneWarn {
		t.Fatalf("%v %q", b.Tone(), b.Text())
	}
	g.put("1000200002", app.GateStatus{Found: true, Color: app.ColorGreen, LastNegative: h.clock.Now().Add(-72 * time.Hour)})
	h.tap("Ask the gates again")
	if b := h.bannerWith("At the gates now: Deny"); !strings.Contains(b.Text(), "72 hours ago") {
		t.Fatalf("%q", b.Text())
	}
}

// TestUpgradeResultInTestMode: in test mode the gate answers "staff check"
// and the desk also says what the rules would decide.
func TestUpgradeResultInTestMode(t *testing.T) {
	var g *fakeOutlook
	h := newUpHarness(t, app.LangZH, func(d *Deps) {
		g = newFakeOutlook(d.Clock.(*app.FakeClock), app.ModeTest)
		d.Gates = g
	})
	g.put("1000200003", app.GateStatus{Found: true, Color: app.ColorYellow})
	upgradeTo(h, "yellow", "1000200003")
	b := h.bannerWith("闸机现在：人工核验")
	if !strings.Contains(b.Text(), "测试模式") || !strings.Contains(b.Text(), "拒绝") || !strings.Contains(b.Text(), "黄码") {
		t.Fatalf("%q", b.Text())
	}
}

// TestLookupSaysWhatTheGateWillDo: card look-up shows the gates' answer for
// the card (here the bound card of the 72-hour rider), in both languages,
// and a language switch does not ask the gates again.
func TestLookupSaysWhatTheGateWillDo(t *testing.T) {
	var g *fakeOutlook
	h := newUpHarness(t, app.LangZH, func(d *Deps) {
		g = newFakeOutlook(d.Clock.(*app.FakeClock), app.ModeEnforce)
		d.Gates = g
	})
	g.put("1000200001", app.GateStatus{Found: true, Color: app.ColorGreen, LastNegative: h.clock.Now().Add(-72 * time.Hour)})
	h.key(fyne.KeyF3)
	h.typeFocused("1000200001")
	h.key(fyne.KeyReturn)
	if b := h.bannerWith("闸机现在：拒绝"); !strings.Contains(b.Text(), "72 小时前") {
		t.Fatalf("%q", b.Text())
	}
	asked := g.asked
	h.key(fyne.KeyF12)
	if b := h.bannerWith("At the gates now: Deny"); !strings.Contains(b.Text(), "72 hours ago") {
		t.Fatalf("%q", b.Text())
	}
	if g.asked != asked {
		t.Fatalf("a language switch asked the gates again (%d, then %d)", asked, g.asked)
	}
	// A card not upgraded: the gate asks staff.
	h.typeFocused("1000200012")
	h.key(fyne.KeyReturn)
	if b := h.bannerWith("At the gates now: Staff check"); !strings.Contains(b.Text(), "Card not upgraded") {
		t.Fatalf("%q", b.Text())
	}
}

// TestGatesDemoCardLabelClaimsNoUpgradeState: the simulated gate's card
// list labelled a card bound a minute ago at the desk "未升级" (from the demo
// data as it was at start). The label no longer claims it; the gate's
// answer does.
func TestGatesDemoCardLabelClaimsNoUpgradeState(t *testing.T) {
	test.NewTempApp(t)
	for _, l := range []app.Lang{app.LangZH, app.LangEN} {
		if err := SetLanguage(l); err != nil {
			t.Fatal(err)
		}
		got := demoCardLabel(app.Card{Number: "1000200002", Kind: app.CardOrdinary, Form: app.FormPhysical})
		if got != "******0002 · green-72h" {
			t.Fatalf("%s: label %q", l, got)
		}
	}
}
