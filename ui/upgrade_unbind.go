package ui

import (
	"context"
	"strings"

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
	target := bindingName(u.target)
	box := container.NewVBox(heading(T("Unbind {{.Card}}", map[string]any{"Card": target})))
	cancel := k.newButton(T("Cancel"), func() {
		if !u.inflight {
			f.unbind = nil
			f.redraw()
		}
	})
	if u.number == "" {
		box.Add(note(T("Place that card on the card reader, or type its full number: the list shows only its last digits, and central needs the whole number."), widget.MediumImportance))
		for _, o := range sameTail(s.holderBindings(), u.target) {
			box.Add(note(T("This person's {{.Other}} ends in the same digits. Unbind only the {{.Form}}: compare the full number on the card.",
				map[string]any{"Other": bindingName(o), "Form": formLabel(u.target.Form)}), widget.WarningImportance))
		}
		num := k.newEntry()
		num.SetPlaceHolder(T("Number of the card to unbind"))
		setTyped(num, u.text)
		num.OnChanged = func(v string) { u.text = v }
		num.OnSubmitted = func(v string) { s.takeUnbindCard(app.Card{Number: v}, false) }
		mismatch := note(u.mismatch, widget.DangerImportance)
		if u.mismatch == "" {
			mismatch.Hide()
		}
		onReader := k.newButton(T("Use the card on the reader"), func() {
			if u.onReader.Number != "" {
				s.takeUnbindCard(u.onReader, true)
			}
		})
		onReader.Importance = widget.HighImportance
		if u.onReader.Number == "" {
			onReader.Hide()
		} else {
			onReader.SetText(T("Use the card on the reader ({{.Card}})", map[string]any{"Card": u.onReader.MaskedNumber()}))
		}
		s.unbindUI = &unbindUI{mismatch: mismatch, onReader: onReader}
		if k.d.CardReader != nil {
			s.status = note(T("Waiting for the card reader…"), widget.MediumImportance)
			box.Add(s.status)
			s.later = append(s.later, s.waitUnbindCard(map[string]bool{cardID(f.card): true}))
		}
		box.Add(mismatch)
		s.focusOn = num
		box.Add(container.NewBorder(nil, nil, widget.NewLabel(T("Card number")), nil, num))
		box.Add(container.NewHBox(k.newButton(T("Continue (Enter)"), func() { s.takeUnbindCard(app.Card{Number: num.Text}, false) }), onReader, cancel))
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

// unbindUI holds the unbind form's widgets that a card read or a refused
// number changes in place: rebuilding the form would move the typing
// cursor of the number field.
type unbindUI struct {
	mismatch *widget.Label
	onReader *deskButton
}

// holderBindings are the holder's bound cards as last told by central.
func (s *upgradeScreen) holderBindings() []app.Binding {
	f := s.f
	if f.result != nil && len(f.result.Existing) > 0 {
		return f.result.Existing
	}
	if f.holder.bindings != nil {
		return f.holder.bindings.Bindings
	}
	return nil
}

// unbindFits reports whether card c (read, or typed with no form) can be
// the card to unbind: its masked number is the target's and, when the
// reader says its form, no other card of the holder with the same masked
// number has that form (a rider's physical card and phone card often end
// in the same digits, and central would unbind whichever number it gets).
func (s *upgradeScreen) unbindFits(c app.Card) bool {
	u := s.f.unbind
	if u == nil || app.MaskCardNumber(c.Number) != u.target.CardMasked {
		return false
	}
	if c.Form != "" && c.Form != u.target.Form {
		for _, o := range sameTail(s.holderBindings(), u.target) {
			if o.Form == c.Form {
				return false
			}
		}
	}
	return true
}

// waitUnbindCard waits for the card to unbind on the reader. A card that
// is already lying there when the step begins is taken like one placed
// now if it fits; one that does not fit and was seen before (the new card
// of a re-bind, a card refused here) is passed over until it is lifted.
// A card read never replaces a number the clerk is typing: it is offered
// ("Use the card on the reader") instead.
func (s *upgradeScreen) waitUnbindCard(seen map[string]bool) func() {
	return func() {
		f, seq, status, k := s.f, s.f.seq, s.status, s.k
		skip := func(c app.Card, lying bool) bool { return lying && seen[cardID(c)] && !s.unbindFits(c) }
		waitReaderSkip(k.d.Background, s.ctx, k.d.CardReader.ReadCard, skip, func(c app.Card) {
			if status != nil {
				status.Importance = widget.WarningImportance
				status.SetText(T("The card on the reader ({{.Card}}) is not the one wanted here: lift it, then place the right card.", map[string]any{"Card": cardName(c)}))
			}
		}, func(c app.Card) {
			u := f.unbind
			if f.seq != seq || u == nil || u.number != "" {
				return
			}
			if !s.unbindFits(c) {
				s.refuseUnbindCard(c)
				seen[cardID(c)] = true
				s.waitUnbindCard(seen)()
				return
			}
			if typing := strings.TrimSpace(u.text); typing == "" || u.text == u.refused {
				s.takeUnbindCard(c, true)
				return
			}
			u.onReader = c
			if ui := s.unbindUI; ui != nil {
				ui.onReader.SetText(T("Use the card on the reader ({{.Card}})", map[string]any{"Card": c.MaskedNumber()}))
				ui.onReader.Show()
			}
			if status != nil {
				status.Importance = widget.MediumImportance
				status.SetText(T("The card to unbind is on the reader. The number you are typing stays; choose which to use."))
			}
		}, k.readerStatus(status, T("Card reader:"), T("Type the number below, or place the card again.")))
	}
}

// refuseUnbindCard says that c is not the card to unbind, in place: what
// the clerk has typed stays as it is.
func (s *upgradeScreen) refuseUnbindCard(c app.Card) {
	u := s.f.unbind
	got, want := c.MaskedNumber(), u.target.CardMasked
	if len(sameTail(s.holderBindings(), u.target)) > 0 {
		if c.Form != "" {
			got = formLabel(c.Form) + " " + got
		}
		want = formLabel(u.target.Form) + " " + want
	}
	if c.Number == "" {
		got = T("(not a card number)")
	}
	u.mismatch = T("That is card {{.Got}}, not {{.Want}}.", map[string]any{"Got": got, "Want": want})
	if ui := s.unbindUI; ui != nil {
		ui.mismatch.SetText(u.mismatch)
		ui.mismatch.Show()
	}
}

// takeUnbindCard accepts the old card's full number (read, or typed when
// read is false) if it fits the bound card; otherwise it says so and
// keeps what was typed.
func (s *upgradeScreen) takeUnbindCard(c app.Card, read bool) {
	f := s.f
	u := f.unbind
	if u == nil {
		return
	}
	n, err := app.ParseCardNumber(c.Number)
	if err == nil {
		c.Number = n
	}
	if err != nil || !s.unbindFits(c) {
		if err != nil {
			c.Number = ""
		}
		if !read {
			u.refused = u.text
		}
		s.refuseUnbindCard(c)
		return
	}
	u.number, u.mismatch, u.text, u.refused, u.onReader = n, "", "", "", app.Card{}
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
