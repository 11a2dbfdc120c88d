package ui

import (
	"context"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// kindCheck marks the buyer screen as the manual-check screen: the ID is
// read, central is not asked, and the check is recorded.
const kindCheck app.TicketKind = "check"

func init() {
	registerScreen(screenDef{id: "check", order: 3, title: "Manual health check",
		roles:     []app.Role{app.RoleClerk, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Sales != nil },
		build:     func(k *Desk) fyne.CanvasObject { return k.buildBuyerScreen("check", kindCheck) }})
}

// manualState is what the clerk has typed into the manual-check form.
type manualState struct {
	color    int    // index into manualColors, -1 none chosen yet
	nat      string // certificate time as typed
	issuer   string
	decision int // 0 pass, 1 refuse, -1 none
	reason   int // index into app.ManualReasons, -1 none
	busy     bool
	err      string
	started  bool
}

var manualColors = []app.HealthColor{app.ColorGreen, app.ColorYellow, app.ColorRed, app.ColorNone}

func colorLabel(c app.HealthColor) string {
	switch c {
	case app.ColorGreen:
		return T("Green code")
	case app.ColorYellow:
		return T("Yellow code")
	case app.ColorRed:
		return T("Red code")
	}
	return T("No Beijing health code (visitor)")
}

// parseNATTime reads "YYYY-MM-DD HH:MM" (or "MM-DD HH:MM" this year) in
// China time.
func parseNATTime(s string, now time.Time) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, app.ChinaTime()); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", now.In(app.ChinaTime()).Format("2006")+"-"+s, app.ChinaTime()); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// manualForm is the manual health check: what was shown, the policy window
// applied live to the certificate time, the decision and its reason. done
// gets the updated purchase after the check is recorded.
func (k *Desk) manualForm(ms *manualState, key string, c app.BuyerCheck, done func(app.BuyerCheck, app.ManualCheckResult)) []fyne.CanvasObject {
	if !ms.started {
		// Nothing is preselected: the clerk says what the rider shows and
		// decides; a default would be recorded unread.
		*ms = manualState{started: true, color: -1, decision: -1, reason: -1}
	}
	sales := k.d.Sales
	var colors []string
	for _, col := range manualColors {
		colors = append(colors, colorLabel(col))
	}
	// The code shown is a list of choices the keyboard reaches as one
	// field (1…4 choose), focused first: it is what the clerk looks at
	// first on the rider's phone or paper.
	color := k.newChoice(colors, 0, nil)
	color.SetSelected(ms.color)
	k.focus = color
	k.hintKey(color, "1 … 4", T("Health code shown (while that list has the focus)"))
	window := widget.NewLabel("")
	window.Wrapping = fyne.TextWrapWord
	window.TextStyle.Bold = true
	assess := func() {
		t, ok := parseNATTime(ms.nat, sales.Now())
		switch {
		case strings.TrimSpace(ms.nat) == "":
			window.SetText(T("Type the sampling time on the certificate."))
			window.Importance = widget.MediumImportance
		case !ok:
			window.SetText(T("Write the time as YYYY-MM-DD HH:MM (or MM-DD HH:MM)."))
			window.Importance = widget.WarningImportance
		default:
			a := sales.AssessNAT(t)
			window.SetText(a.Line(k.lang))
			window.Importance = widget.SuccessImportance
			if a.State != app.NATInside {
				window.Importance = widget.DangerImportance
			}
		}
		window.Refresh()
	}
	nat := k.newEntry()
	nat.SetPlaceHolder(T("Sampling time, YYYY-MM-DD HH:MM"))
	nat.SetText(ms.nat)
	nat.OnChanged = func(v string) { ms.nat = v; assess() }
	assess()
	issuer := k.newEntry()
	issuer.SetPlaceHolder(T("Where issued (testing institution, city)"))
	issuer.SetText(ms.issuer)
	issuer.OnChanged = func(v string) { ms.issuer = v }
	var reasons []string
	for _, r := range app.ManualReasons {
		reasons = append(reasons, app.ManualReasonLabel(r, k.lang))
	}
	reason := k.newSelect(reasons, func(string) {})
	if ms.reason >= 0 {
		reason.SetSelectedIndex(ms.reason)
	}
	decisions := []string{T("Pass"), T("Refuse")}
	decision := k.newChoice(decisions, 2, nil)
	decision.SetSelected(ms.decision)
	k.hintKey(decision, "1 / 2", T("Pass / refuse (while the decision has the focus)"))
	// A pass takes the pass reason that fits the code shown (a green
	// code's, or a visitor's); a refusal never keeps a pass reason.
	fitReason := func() {
		switch {
		case ms.decision == 0 && ms.color >= 0 && app.PassReason(manualColors[ms.color]) != "":
			want := app.PassReason(manualColors[ms.color])
			for i, r := range app.ManualReasons {
				if r == want {
					reason.SetSelectedIndex(i)
				}
			}
		case ms.reason >= 0 && app.IsPassReason(app.ManualReasons[ms.reason]):
			reason.ClearSelected()
		}
	}
	decision.OnChanged = func(i int) { ms.decision = i; fitReason() }
	color.OnChanged = func(i int) { ms.color = i; fitReason() }
	reason.OnChanged = func(string) { ms.reason = reason.SelectedIndex() }
	msg := widget.NewLabel(ms.err)
	msg.Wrapping = fyne.TextWrapWord
	msg.Importance = widget.DangerImportance
	var rec *deskButton
	defer func() { k.bindKey(keyPrimary, rec, T("Record the check")) }()
	rec = k.newButton(T("Record the check"), func() {
		if ms.busy {
			return
		}
		if ms.color < 0 {
			msg.SetText(T("Choose the health code the rider shows."))
			return
		}
		in := app.ManualCheckInput{Key: key, ShownColor: manualColors[ms.color], Issuer: ms.issuer}
		if t, ok := parseNATTime(ms.nat, sales.Now()); ok {
			in.NATTime = t
		} else if strings.TrimSpace(ms.nat) != "" {
			msg.SetText(T("Write the time as YYYY-MM-DD HH:MM (or MM-DD HH:MM)."))
			return
		}
		switch ms.decision {
		case 0:
			in.Decision = app.ManualPass
		case 1:
			in.Decision = app.ManualRefuse
		}
		if ms.reason >= 0 {
			in.Reason = app.ManualReasons[ms.reason]
		}
		ms.busy = true
		rec.Disable()
		op := *k.op
		type out struct {
			res  app.ManualCheckResult
			next app.BuyerCheck
		}
		async(k.d.Background, func() (out, error) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			r, n, err := sales.RecordManualCheck(ctx, op, c, in)
			return out{r, n}, err
		}, func(o out, err error) {
			ms.busy = false
			rec.Enable()
			if err != nil {
				ms.err = k.msg(err)
				msg.SetText(ms.err)
				return
			}
			done(o.next, o.res)
		})
	})
	rec.Importance = widget.HighImportance
	k.nameFocus(map[string]fyne.Focusable{"check.shown": color, "check.certificate": nat, "check.issuer": issuer,
		"check.decision": decision, "check.reason": reason, "check.record": rec})
	form := widget.NewForm(
		widget.NewFormItem(T("Health code shown"), color),
		widget.NewFormItem(T("Test certificate"), nat),
		widget.NewFormItem("", window),
		widget.NewFormItem(T("Issued by"), issuer),
		widget.NewFormItem(T("Decision"), decision),
		widget.NewFormItem(T("Reason"), reason),
	)
	hint := note(T("The record keeps the masked document and a keyed hash; what was shown is stored encrypted and sent to central."), widget.LowImportance)
	return []fyne.CanvasObject{widget.NewCard("", T("Manual health check"), container.NewVBox(form, rec, msg, hint))}
}
