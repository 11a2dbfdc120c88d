package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// demoGatePanel is the "Simulated gate" of demo mode: pick a demo card or a
// demo rider's ride code (valid or expired) and present it at the
// simulated gate, which sends a real signed request to the station's
// verify service. The answer is shown large and coloured — green allow,
// red deny, amber staff check — with the reason and, in test mode, what
// the gate would have decided.
func (s *gatesScreen) demoGatePanel() fyne.CanvasObject {
	k := s.k
	g := k.d.DemoGate
	answer := NewBanner()

	// Choice labels stay short (a Select is as wide as its text, and the
	// screen must not outgrow the window); the note of the chosen card or
	// rider shows in a wrapping line below.
	cards := demo.Cards()
	cardLabels := make([]string, len(cards))
	cardNotes := make([]string, len(cards))
	for i, c := range cards {
		en, zh, _ := demo.CardNote(c.Number)
		cardNotes[i] = en
		if k.lang == app.LangZH {
			cardNotes[i] = zh
		}
		if owner := demoCardOwner(c); owner != "" {
			cardNotes[i] = T("{{.Card}} {{.Number}} of demo rider {{.Rider}}",
				map[string]any{"Card": cardWords(c.Form, c.Kind), "Number": c.MaskedNumber(), "Rider": owner})
		}
		cardLabels[i] = demoCardLabel(c)
	}
	note := widget.NewLabel("")
	note.Wrapping = fyne.TextWrapWord
	note.TextStyle.Italic = true
	cardSel := widget.NewSelect(cardLabels, nil)
	cardSel.OnChanged = func(string) { note.SetText(cardNotes[max(cardSel.SelectedIndex(), 0)]) }
	cardSel.PlaceHolder = T("Choose a demo card")

	riders := demo.Riders()
	riderLabels := make([]string, len(riders))
	for i, r := range riders {
		riderLabels[i] = r.Key
	}
	riderSel := widget.NewSelect(riderLabels, nil)
	riderSel.OnChanged = func(string) {
		r := riders[max(riderSel.SelectedIndex(), 0)]
		if k.lang == app.LangZH {
			note.SetText(r.Key + "：" + r.NoteZH)
		} else {
			note.SetText(r.Key + ": " + r.Note)
		}
	}
	riderSel.PlaceHolder = T("Choose a demo rider")

	var buttons []*widget.Button
	busy := func(on bool) {
		for _, b := range buttons {
			if on {
				b.Disable()
			} else {
				b.Enable()
			}
		}
	}
	present := func(what string, f func(ctx context.Context) (app.DemoGateResult, error)) {
		k.touch()
		busy(true)
		async(s.k.d.Background, func() (app.DemoGateResult, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return f(ctx)
		}, func(r app.DemoGateResult, err error) {
			busy(false)
			if err != nil {
				answer.Set(ToneError, T("No answer"), what, k.msg(err))
				return
			}
			showGateAnswer(answer, what, r)
			s.reload()
		})
	}
	tap := widget.NewButton(T("Tap card at the gate"), func() {
		i := cardSel.SelectedIndex()
		if i < 0 {
			answer.Set(ToneWarn, T("Choose a demo card first."))
			return
		}
		num := cards[i].Number
		present(cardLabels[i], func(ctx context.Context) (app.DemoGateResult, error) { return g.TapCard(ctx, num) })
	})
	tap.Importance = widget.HighImportance
	qr := func(expired bool) func() {
		return func() {
			i := riderSel.SelectedIndex()
			if i < 0 {
				answer.Set(ToneWarn, T("Choose a demo rider first."))
				return
			}
			key := riders[i].Key
			what := T("ride code of {{.Rider}}", map[string]any{"Rider": key})
			if expired {
				what = T("expired ride code of {{.Rider}}", map[string]any{"Rider": key})
			}
			present(what, func(ctx context.Context) (app.DemoGateResult, error) { return g.ScanRideQR(ctx, key, expired) })
		}
	}
	scan := widget.NewButton(T("Scan ride code"), qr(false))
	scan.Importance = widget.HighImportance
	scanOld := widget.NewButton(T("Scan an expired ride code"), qr(true))
	buttons = []*widget.Button{tap, scan, scanOld}

	intro := widget.NewLabel(T("Gate {{.Gate}} is simulated: it signs real requests to this station's verify service, like a gate on the station network.", map[string]any{"Gate": g.GateID()}))
	intro.Wrapping = fyne.TextWrapWord
	return section(T("Simulated gate"), container.NewVBox(
		intro,
		// The demo labels are long; capped, the selects truncate them
		// rather than widen the window past a 1280-pixel display.
		container.NewBorder(nil, nil, nil, tap, container.New(capWidth(240), cardSel)),
		container.New(capWidth(240), riderSel),
		container.NewHBox(scan, scanOld),
		note,
		answer,
	))
}

// demoCardLabel is a short label for a demo card: masked number, NFC and
// whose card it is (or its kind). It does not say whether the card is
// upgraded: that changes as the desk binds and unbinds, and the gate's
// answer below is what counts. The note under the list names the card in
// words (form and kind).
func demoCardLabel(c app.Card) string {
	l := c.MaskedNumber()
	if c.Form == app.FormNFC {
		l += " NFC"
	}
	owner := demoCardOwner(c)
	if owner == "" {
		owner = kindLabel(c.Kind)
	}
	return l + " · " + owner
}

// demoCardOwner is the key of the demo rider who carries c, or "".
func demoCardOwner(c app.Card) string {
	for _, r := range demo.Riders() {
		for _, rc := range r.Cards {
			if rc.Number == c.Number {
				return r.Key
			}
		}
	}
	return ""
}

// showGateAnswer puts a gate's answer into b: the decision as heading in
// its colour, then the reason, the would-be decision in test mode, the
// mode, the cache age and the round trip.
func showGateAnswer(b *Banner, what string, r app.DemoGateResult) {
	a := r.Answer
	details := []string{what}
	if a.WouldBe == "" {
		details = append(details, T("Reason: {{.R}}", map[string]any{"R": reasonLabel(a.Reason)}))
	} else {
		details = append(details, T("Test mode — would be: {{.D}} ({{.R}}). Staff decide.",
			map[string]any{"D": decisionLabel(a.WouldBe), "R": reasonLabel(a.WouldBeReason)}))
	}
	details = append(details, T("Mode: {{.Mode}} · cache age {{.Age}} · round trip {{.Ms}} ms",
		map[string]any{"Mode": modeLabel(a.Mode), "Age": ageText(r.CacheAge), "Ms": r.Latency.Milliseconds()}))
	b.Set(decisionTone(a.Decision), decisionLabel(a.Decision), details...)
}
