package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// Unbinding a card from the upgrade flow: from the bindings list, or before
// a re-bind.

func (s *upgradeScreen) unbindView() fyne.CanvasObject {
	k, f := s.k, s.f
	u := f.unbind
	s.toBottom = true
	target := formLabel(u.target.Form) + " " + u.target.CardMasked
	box := container.NewVBox(heading(T("Unbind {{.Card}}", map[string]any{"Card": target})))
	cancel := k.newButton(T("Cancel"), func() {
		if !u.inflight {
			f.unbind = nil
			f.redraw()
		}
	})
	if u.number == "" {
		box.Add(note(T("Place that card on the card reader, or type its full number: the list shows only its last digits, and central needs the whole number."), widget.MediumImportance))
		if k.d.CardReader != nil {
			s.status = note(T("Waiting for the card reader…"), widget.MediumImportance)
			box.Add(s.status)
			s.later = append(s.later, s.waitCard(cardID(f.card), func(c app.Card) { s.takeUnbindCard(c.Number) }))
		}
		num := k.newEntry()
		num.SetPlaceHolder(T("Number of the card to unbind"))
		num.SetText(u.text)
		num.OnChanged = func(v string) { u.text = v }
		num.OnSubmitted = func(v string) { s.takeUnbindCard(v) }
		if u.mismatch != "" {
			box.Add(note(T("That is card {{.Got}}, not {{.Want}}.", map[string]any{"Got": u.mismatch, "Want": u.target.CardMasked}), widget.DangerImportance))
		}
		s.focusOn = num
		box.Add(container.NewBorder(nil, nil, widget.NewLabel(T("Card number")), nil, num))
		box.Add(container.NewHBox(k.newButton(T("Continue (Enter)"), func() { s.takeUnbindCard(num.Text) }), cancel))
		return box
	}
	// Every destructive action asks first.
	ask := NewBanner()
	lines := []string{T("The card stops being checked at the gates for this person.")}
	if u.rebind {
		lines = append(lines, T("Then the new card {{.Card}} is bound.", map[string]any{"Card": f.card.MaskedNumber()}))
	}
	ask.Set(ToneWarn, T("Unbind {{.Card}} from {{.Person}}?", map[string]any{"Card": target, "Person": maskedPerson(f.holder.id, k.lang)}), lines...)
	yes := k.newButton(T("Yes, unbind (Enter)"), s.doUnbind)
	yes.Importance = widget.DangerImportance
	if u.inflight {
		yes.Disable()
		cancel.Disable()
	}
	s.focusOn = yes
	box.Add(ask)
	box.Add(container.NewHBox(yes, cancel))
	return box
}

// takeUnbindCard accepts the old card's full number if its masked form is
// the bound card's.
func (s *upgradeScreen) takeUnbindCard(raw string) {
	f := s.f
	u := f.unbind
	if u == nil {
		return
	}
	n, err := app.ParseCardNumber(raw)
	if err != nil {
		u.mismatch = T("(not a card number)")
		f.redraw()
		return
	}
	if app.MaskCardNumber(n) != u.target.CardMasked {
		u.mismatch, u.text = app.MaskCardNumber(n), ""
		f.redraw()
		return
	}
	u.number, u.mismatch, u.text = n, "", ""
	f.seq++
	f.redraw()
}

func (s *upgradeScreen) doUnbind() {
	k, f := s.k, s.f
	u := f.unbind
	if u == nil || u.number == "" || u.inflight || k.op == nil {
		return
	}
	u.inflight = true
	op, seq := *k.op, f.seq
	holder := f.holder.id.Doc
	f.redraw()
	if u.rebind {
		in := app.RebindInput{UnbindKey: f.unbindKey, BindKey: f.rebindKey, Holder: holder, OldCardNumber: u.number, NewCard: f.card}
		if f.proxy {
			in.Helper, in.Code = f.helper.id.Doc, f.code
		}
		async(s.k.d.Background, func() (app.UpgradeResult, error) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			return k.d.Upgrades.Rebind(ctx, op, in)
		}, func(r app.UpgradeResult, err error) {
			if f.seq != seq {
				return
			}
			f.unbind = nil
			f.result, f.resErr = &r, err
			f.goTo(stepResult)
			f.redraw()
		})
		return
	}
	in := app.UnbindInput{Key: u.key, Holder: holder, CardNumber: u.number}
	async(s.k.d.Background, func() (app.UpgradeResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.Unbind(ctx, op, in)
	}, func(r app.UpgradeResult, err error) {
		if f.seq != seq {
			return
		}
		f.unbind = nil
		f.unbindDone, f.unbindError = &r, err
		f.seq++
		s.loadBindings()
		f.redraw()
	})
}
