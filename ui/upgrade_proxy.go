package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The upgrade flow's verification-code step for a proxy upgrade (代办).

func validCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s *upgradeScreen) codeView() fyne.CanvasObject {
	k, f := s.k, s.f
	items := []fyne.CanvasObject{
		heading(T("Verification code from the card holder's phone")),
		note(T("Card holder:")+" "+maskedPerson(f.holder.id, k.lang), widget.MediumImportance),
	}
	if f.codeErr != nil {
		b := NewBanner()
		if r := app.ErrorReason(f.codeErr); r == string(app.CentralCodeUnavailable) {
			b.Set(ToneError, headRefused.in(k.lang), explainLines(app.ExplainReason(r), k.lang)...)
		} else {
			b.Set(ToneError, T("The code could not be sent"), k.msg(f.codeErr))
		}
		items = append(items, b)
	}
	if f.codeSent == nil {
		items = append(items, note(T("Central texts a 6-digit code to the holder's registered phone; the holder (or the helper, with the holder's phone) reads it out."), widget.MediumImportance))
		send := k.newButton(T("Send the code (Enter)"), s.sendCode)
		send.Importance = widget.HighImportance
		if f.sending {
			send.Disable()
			items = append(items, note(T("Sending…"), widget.MediumImportance))
		}
		s.focusOn = send
		return container.NewVBox(append(items, container.NewHBox(send))...)
	}
	sent := T("Code sent to {{.Phone}}.", map[string]any{"Phone": f.codeSent.PhoneMasked})
	if !f.codeSent.ExpiresAt.IsZero() {
		sent += " " + T("Valid until {{.Time}}.", map[string]any{"Time": f.codeSent.ExpiresAt.In(app.ChinaTime()).Format("15:04")})
	}
	items = append(items, bigText(sent, 0.8))
	code := k.newEntry()
	code.SetPlaceHolder(T("6-digit code"))
	code.SetText(f.code)
	hint := note(f.codeMsg, widget.DangerImportance)
	take := func() {
		v := strings.TrimSpace(code.Text)
		if !validCode(v) {
			hint.SetText(T("The code has 6 digits."))
			return
		}
		f.code = v
		s.checkCode()
	}
	code.OnChanged = func(v string) { f.code = strings.TrimSpace(v); f.codeMsg = ""; hint.SetText("") }
	code.OnSubmitted = func(string) { take() }
	next := k.newButton(T("Next (Enter)"), take)
	next.Importance = widget.HighImportance
	again := k.newButton(T("Send again"), func() {
		f.codeKey, f.codeSent, f.code = app.NewIdempotencyKey(), nil, ""
		s.sendCode()
	})
	if f.checking {
		next.Disable()
		items = append(items, note(T("Checking the code with central…"), widget.MediumImportance))
	}
	s.focusOn = code
	items = append(items, container.NewBorder(nil, nil, widget.NewLabel(T("Code")), nil, code), hint, container.NewHBox(next, again))
	return container.NewVBox(items...)
}

// checkCode asks central whether the typed code is right, here at the
// code step: a wrong code stays on this step with the reason; when central
// cannot be asked the flow goes on and the bind carries the code (central
// checks it again then).
func (s *upgradeScreen) checkCode() {
	k, f := s.k, s.f
	if f.checking || k.op == nil {
		return
	}
	f.checking, f.codeMsg = true, ""
	f.redraw()
	op, doc, code, seq := *k.op, f.holder.id.Doc, f.code, f.seq
	async(s.k.d.Background, func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return struct{}{}, k.d.Upgrades.CheckProxyCode(ctx, op, doc, code)
	}, func(_ struct{}, err error) {
		if f.seq != seq {
			return
		}
		f.checking = false
		switch {
		case err == nil:
			s.next()
			return
		case app.ErrorCode(err) == app.CodeUnavailable:
			f.info = T("Central could not check the code now; it is checked again when the upgrade is sent.")
			s.next()
			return
		default:
			// The field is emptied for the code read out again.
			f.codeMsg, f.code = k.msg(err), ""
		}
		f.redraw()
	})
}

func (s *upgradeScreen) sendCode() {
	k, f := s.k, s.f
	if f.sending || f.codeSent != nil || k.op == nil {
		return
	}
	if f.codeErr != nil {
		f.codeKey = app.NewIdempotencyKey() // a new attempt, not a replay of the refused one
	}
	f.sending, f.codeErr = true, nil
	f.redraw()
	op, key, doc, seq := *k.op, f.codeKey, f.holder.id.Doc, f.seq
	async(s.k.d.Background, func() (app.ProxyCodeSent, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.SendProxyCode(ctx, op, key, doc)
	}, func(sent app.ProxyCodeSent, err error) {
		if f.seq != seq {
			return
		}
		f.sending = false
		if err != nil {
			f.codeErr = err
		} else {
			f.codeSent = &sent
		}
		f.redraw()
	})
}

// maskedPerson is "Resident ID card 1**************036 李**": the masked
// form used on every step but the document steps.
func maskedPerson(id app.Identity, l app.Lang) string {
	s := id.Doc.Type().Label(l) + " " + id.Doc.Masked()
	if !id.Name.IsZero() {
		s += "  " + id.Name.Masked()
	}
	return s
}
