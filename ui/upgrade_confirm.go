package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The upgrade flow's last steps: what will happen, confirm, and the result.

func (s *upgradeScreen) confirmView() fyne.CanvasObject {
	k, f := s.k, s.f
	card := formLabel(f.card.Form) + "  " + f.card.MaskedNumber() + " · " + kindLabel(f.cardKind())
	items := []fyne.CanvasObject{
		heading(T("What will happen")),
		widget.NewLabel(T("Bind this card:")),
		heading(card),
		widget.NewLabel(T("to this person:")),
		heading(maskedPerson(f.holder.id, k.lang)),
	}
	if f.proxy {
		items = append(items, note(T("on the holder's behalf, by the helper:")+" "+maskedPerson(f.helper.id, k.lang), widget.MediumImportance))
		if f.helper.quotaKnown {
			items = append(items, note(T("This will be the helper's proxy upgrade {{.N}} of {{.Limit}}.", map[string]any{"N": f.helper.quotaUsed + 1, "Limit": f.helper.quotaLimit}), widget.MediumImportance))
		}
	}
	if w := s.limitWarning(); w != "" {
		items = append(items, note(w, widget.WarningImportance))
	}
	items = append(items, note(T("Tell the rider what will happen, then confirm. The request is sent once, even if Confirm is pressed twice."), widget.MediumImportance))
	s.confirm = k.newButton(T("Confirm (Enter)"), s.doConfirm)
	k.bindKey(keyPrimary, s.confirm, T("Confirm the upgrade"))
	s.confirm.Importance = widget.HighImportance
	back := k.newButton(T("Back"), func() {
		if !f.inflight {
			f.goTo(stepCard)
			f.redraw()
		}
	})
	if f.inflight {
		s.confirm.Disable()
		back.Disable()
		items = append(items, note(T("Sending to central…"), widget.MediumImportance))
	}
	s.focusOn = s.confirm
	items = append(items, container.NewHBox(s.confirm, back))
	return container.NewVBox(items...)
}

// doConfirm sends the upgrade with the key made when the flow opened. It
// does nothing while a request is in flight or off the confirm step, so a
// double click or a held Enter sends one request.
func (s *upgradeScreen) doConfirm() {
	k, f := s.k, s.f
	if f.inflight || f.step != stepConfirm || k.op == nil {
		return
	}
	f.inflight = true
	if s.confirm != nil {
		s.confirm.Disable()
	}
	op, seq := *k.op, f.seq
	proxy := f.proxy
	holder, helper, card, key, code := f.holder.id.Doc, f.helper.id.Doc, f.card, f.key, f.code
	f.redraw()
	async(s.k.d.Background, func() (app.UpgradeResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if proxy {
			return k.d.Upgrades.ProxyUpgrade(ctx, op, app.ProxyUpgradeRequest{Key: key, Helper: helper, Holder: holder, Card: card, Code: code})
		}
		return k.d.Upgrades.Upgrade(ctx, op, app.UpgradeRequest{Key: key, Holder: holder, Card: card})
	}, func(r app.UpgradeResult, err error) {
		if f.seq != seq {
			return
		}
		f.inflight = false
		f.result, f.resErr = &r, err
		f.goTo(stepResult)
		f.redraw()
	})
}

// ---------------------------------------------------------------------------
// The result.

func (s *upgradeScreen) resultView() fyne.CanvasObject {
	k, f := s.k, s.f
	if f.unbind != nil && f.unbind.rebind {
		// Unbind-then-bind in progress: a short reminder instead of the
		// large refusal, so the sub-form is in view.
		return container.NewVBox(
			note(T("Only one card of each form per person: the old card is unbound first, then the new card is bound."), widget.WarningImportance),
			note(T("Card:")+" "+f.card.MaskedNumber()+"   "+T("Person:")+" "+maskedPerson(f.holder.id, k.lang), widget.MediumImportance),
			s.unbindView())
	}
	b := NewBanner()
	r := app.UpgradeResult{}
	if f.result != nil {
		r = *f.result
	}
	k.outcomeBanner(b, r, f.resErr)
	card := r.Binding.CardMasked
	if card == "" {
		card = f.card.MaskedNumber()
	}
	card = cardWords(f.card.Form, f.cardKind()) + "  " + card
	items := []fyne.CanvasObject{b,
		note(T("Card:")+" "+card+"   "+T("Person:")+" "+maskedPerson(f.holder.id, k.lang), widget.MediumImportance)}
	if r.Outcome == app.UpgradeBound || r.Outcome == app.UpgradeAlready || r.Outcome == app.UpgradeAuto {
		// Tell the rider what the gates will do with this card now: a
		// yellow code or an old test is refused even on an upgraded card.
		o := &f.outlook
		if o.card != f.card.Number {
			o.halt()
			*o = outlookState{card: f.card.Number, justBound: r.Outcome != app.UpgradeAlready}
		}
		items = append(items, k.outlookView(s.life, o, f.redraw))
		if o.got == nil && o.err == nil && !o.busy {
			s.later = append(s.later, func() { k.refreshOutlook(s.life, o, f.redraw) })
		}
	}
	if r.Outcome == app.UpgradePending {
		items = append(items, note(T("The pending list ({{.Key}}) shows its progress. Nothing needs to be done again.", map[string]any{"Key": k.screenKey("pending")}), widget.MediumImportance))
	}
	buttons := container.NewHBox()
	if r.Outcome == "" {
		// The desk failed before an outcome was known: the same request
		// again, with the same key, cannot bind twice.
		buttons.Add(k.newButton(T("Try again"), func() {
			f.result, f.resErr = nil, nil
			f.goTo(stepConfirm)
			f.redraw()
		}))
	}
	if r.Outcome == app.UpgradeRefused {
		switch app.CentralCode(r.Reason) {
		case app.CentralLimitReached:
			items = append(items, s.limitOffer(r))
		case app.CentralCodeMismatch, app.CentralInvalidCode:
			if f.proxy {
				buttons.Add(k.newButton(T("Enter the code again"), func() {
					f.key, f.code, f.result, f.resErr = app.NewIdempotencyKey(), "", nil, nil
					f.goTo(stepCode)
					f.redraw()
				}))
			}
		}
		if f.unbind == nil {
			// Another card is a new request: it gets a new key (central
			// keeps its answer to the old one).
			buttons.Add(k.newButton(T("Use another card"), func() {
				f.key, f.result, f.resErr = app.NewIdempotencyKey(), nil, nil
				f.rejected = cardID(f.card)
				f.card, f.haveCard, f.cardText, f.look, f.lookErr = app.Card{}, false, "", nil, nil
				f.goTo(stepCard)
				f.redraw()
			}))
		}
	}
	items = append(items, buttons)
	return container.NewVBox(items...)
}

// limitOffer lists the holder's cards and offers to unbind the one of the
// same form and bind the new card instead.
func (s *upgradeScreen) limitOffer(r app.UpgradeResult) fyne.CanvasObject {
	k, f := s.k, s.f
	box := container.NewVBox(heading(T("Cards bound now")))
	existing := r.Existing
	if len(existing) == 0 && f.holder.bindings != nil {
		existing = f.holder.bindings.Bindings
	}
	var target *app.Binding
	for i, b := range existing {
		box.Add(note(bindingLine(b), widget.MediumImportance))
		if !b.Auto && b.Form == f.card.Form && target == nil {
			target = &existing[i]
		}
	}
	if target == nil {
		return box
	}
	if f.unbind != nil && f.unbind.rebind {
		box.Add(s.unbindView())
		return box
	}
	t := *target
	offer := k.newButton(T("Unbind the old card and bind this one"), func() {
		f.unbind = &unbindState{target: t, rebind: true, key: f.unbindKey}
		f.redraw()
	})
	offer.Importance = widget.HighImportance
	s.focusOn = offer
	box.Add(container.NewHBox(offer))
	return box
}
