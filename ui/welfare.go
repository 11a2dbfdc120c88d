package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// welfareView is the welfare-ticket exchange after a passed ID and health
// check: central's eligibility, the destination, and — when central does
// not confirm — a duty supervisor's override with their own PIN.
func (s *buyerScreen) welfareView() []fyne.CanvasObject {
	k, f := s.k, s.f
	var out []fyne.CanvasObject
	eligible := false
	switch {
	case f.welfare == nil && f.welfareErr == nil:
		out = append(out, heading(T("Asking central for the welfare eligibility…")))
	case f.welfareErr != nil:
		out = append(out, note(T("Central cannot confirm the welfare eligibility:")+" "+k.msg(f.welfareErr), widget.WarningImportance))
	case f.welfare.Eligible:
		eligible = true
		out = append(out, note(T("Entitled to a welfare ticket:")+" "+app.WelfareCategoryLabel(f.welfare.Category, k.lang), widget.SuccessImportance))
	default:
		out = append(out, note(T("Not entitled according to central:")+" "+langText(k.lang, f.welfare.ReasonZH, f.welfare.Reason), widget.DangerImportance))
	}
	dest := s.destinationSelect(func(code string) { f.dest = code })
	assisted := widget.NewCheck(T("Assisted purchase (elderly rider or child)"), func(v bool) { f.assisted = v })
	assisted.SetChecked(f.assisted)
	out = append(out, widget.NewForm(widget.NewFormItem(T("Destination"), dest), widget.NewFormItem("", assisted)))
	if !eligible && f.override == nil && (f.welfare != nil || f.welfareErr != nil) {
		out = append(out, s.overrideForm())
	}
	if f.override != nil {
		out = append(out, note(T("Authorised by duty supervisor")+" "+f.override.ID+" ("+app.OverrideReasonLabel(f.overReason, k.lang)+")", widget.WarningImportance))
	}
	ex := k.newButton(T("Exchange welfare ticket"), s.exchange)
	ex.Importance = widget.HighImportance
	k.bindKey(keyPrimary, ex, T("Exchange welfare ticket"))
	if f.busy || f.dest == "" || (!eligible && f.override == nil) {
		ex.Disable()
	}
	out = append(out, ex)
	if ex.Disabled() {
		k.focus = dest
	} else {
		k.focus = ex
	}
	if f.busy {
		out = append(out, note(T("Place a blank single-journey token on the card reader…"), widget.HighImportance))
	}
	return out
}

func (s *buyerScreen) overrideForm() fyne.CanvasObject {
	k, f := s.k, s.f
	id := k.newEntry()
	id.SetPlaceHolder(T("Supervisor's operator number"))
	pin := k.newPasswordEntry()
	pin.SetPlaceHolder(T("Supervisor's PIN"))
	var reasons []string
	for _, r := range app.OverrideReasons {
		reasons = append(reasons, app.OverrideReasonLabel(r, k.lang))
	}
	reason := k.newSelect(reasons, nil)
	if f.welfareErr != nil {
		reason.SetSelectedIndex(0)
	}
	msg := widget.NewLabel("")
	msg.Importance = widget.DangerImportance
	var auth *deskButton
	auth = k.newButton(T("Authorise"), func() {
		ri := reason.SelectedIndex()
		if ri < 0 || strings.TrimSpace(id.Text) == "" || pin.Text == "" {
			msg.SetText(T("Enter the supervisor's number, PIN and the reason."))
			return
		}
		op, sid, p, r := *k.op, strings.TrimSpace(id.Text), pin.Text, app.OverrideReasons[ri]
		pin.SetText("")
		auth.Disable()
		async(s.k.d.Background, func() (app.Operator, error) {
			return k.d.Sales.AuthorizeOverride(context.Background(), op, sid, p)
		}, func(sup app.Operator, err error) {
			auth.Enable()
			if err != nil {
				msg.SetText(k.msg(err))
				return
			}
			f.override, f.overReason = &sup, r
			s.redraw()
		})
	})
	form := widget.NewForm(
		widget.NewFormItem(T("Supervisor"), id),
		widget.NewFormItem(T("PIN"), pin),
		widget.NewFormItem(T("Reason"), reason),
	)
	return widget.NewCard("", T("Supervisor override"), container.NewVBox(form, auth, msg))
}

func (s *buyerScreen) exchange() {
	f, k := s.f, s.k
	if f.busy {
		return
	}
	f.busy, f.errText = true, ""
	s.redraw()
	op, c := *k.op, f.check
	in := app.WelfareInput{DestCode: f.dest, Assisted: f.assisted, Override: f.override, OverrideReason: f.overReason}
	async(s.k.d.Background, func() (app.SaleResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), tokenWait)
		defer cancel()
		return k.d.Sales.Exchange(ctx, op, c, in)
	}, func(r app.SaleResult, err error) { s.saleDone(c, r, err) })
}
