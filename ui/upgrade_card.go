package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The upgrade flow's card step: which card, what kind, and whether it may
// be bound.

type verdict int

const (
	verdictOK      verdict = iota
	verdictSpecial         // already upgraded automatically
	verdictNo              // this kind cannot be upgraded
)

// cardKind is the best knowledge of the card's kind: central's when it
// answered, else the reader's, else unknown (central decides).
func (f *upgradeFlow) cardKind() app.CardKind {
	if f.look != nil && f.look.Known && f.look.Kind != "" && f.look.Kind != app.CardUnknown {
		return f.look.Kind
	}
	return f.card.Kind
}

func (s *upgradeScreen) cardVerdict() verdict {
	f := s.f
	kind := f.cardKind()
	if kind.Special() || f.look != nil && f.look.Known && f.look.Auto {
		return verdictSpecial
	}
	if !app.Explain(app.Card{Kind: kind}).Upgradeable || f.look != nil && f.look.Known && !f.look.Upgradeable {
		return verdictNo
	}
	return verdictOK
}

func (s *upgradeScreen) cardView() fyne.CanvasObject {
	k, f := s.k, s.f
	items := []fyne.CanvasObject{note(T("Card holder:")+" "+maskedPerson(f.holder.id, k.lang), widget.MediumImportance)}
	back := k.newButton(T("Back"), func() {
		if f.proxy {
			f.goTo(stepCode)
		} else {
			f.goTo(stepHolder)
		}
		f.redraw()
	})
	if !f.haveCard {
		items = append(items, heading(T("Place the card on the card reader — or the rider's phone, for a phone NFC card")))
		if k.d.CardReader == nil {
			items = append(items, note(T("This desk has no card reader: type the number printed on the card."), widget.MediumImportance))
		} else {
			s.status = note(T("Waiting for the card reader… placing the card moves on by itself."), widget.MediumImportance)
			items = append(items, s.status)
			s.later = append(s.later, s.waitCard(s.cardTakenElsewhere, func(c app.Card) { s.acceptCard(c) }))
		}
		num := k.newEntry()
		num.SetPlaceHolder(T("Card number as printed, e.g. 1000 2000 0012"))
		setTyped(num, f.cardText)
		check := note("", widget.MediumImportance)
		use := func() {
			n, err := app.ParseCardNumber(num.Text)
			if err != nil {
				check.Importance = widget.DangerImportance
				check.SetText(k.msg(err))
				return
			}
			s.acceptCard(app.Card{Number: n, Kind: app.CardUnknown, Form: app.FormPhysical, Balance: -1})
		}
		num.OnChanged = func(v string) {
			f.cardText = v
			if _, err := app.ParseCardNumber(v); err == nil || strings.TrimSpace(v) == "" {
				check.SetText("")
			} else if len(strings.ReplaceAll(v, " ", "")) > app.MaxCardNumber {
				check.Importance = widget.DangerImportance
				check.SetText(k.msg(err))
			}
		}
		num.OnSubmitted = func(string) { use() }
		s.focusOn = num
		items = append(items, widget.NewSeparator(), widget.NewLabel(T("Or type the card number:")),
			container.NewBorder(nil, nil, widget.NewLabel(T("Card number")), nil, num), check,
			container.NewHBox(k.newButton(T("Use this card (Enter)"), use), back))
		return container.NewVBox(items...)
	}

	kind := f.cardKind()
	if f.card.Number != "" {
		items = append(items, bigText(app.GroupCardNumber(f.card.Number), numberSize(f.card.Number)))
	} else {
		items = append(items, note(T("This card carries no transit card number."), widget.MediumImportance))
	}
	items = append(items, heading(kindLabel(kind)))
	switch {
	case f.looking:
		items = append(items, note(T("Asking central about this card…"), widget.MediumImportance))
	case f.look != nil && f.look.Known && f.look.Bound && f.look.HolderDocMasked == f.holder.id.Doc.Masked():
		items = append(items, note(T("Central: this card is already bound to this person."), widget.MediumImportance))
	case f.look != nil && f.look.Known && f.look.Bound:
		items = append(items, note(T("Central: this card is bound to {{.Doc}}.", map[string]any{"Doc": f.look.HolderDocMasked}), widget.WarningImportance))
	case f.look != nil && f.look.Known:
		items = append(items, widget.NewLabel(T("Central: this card is not bound yet.")))
	case f.look != nil && f.look.Reason == string(app.CentralNotFound):
		items = append(items, note(T("Central has no record of this card number: check the number."), widget.WarningImportance))
	case f.look != nil || f.lookErr != nil:
		items = append(items, note(T("Central could not be asked; it will decide when the link returns."), widget.WarningImportance))
	}
	another := k.newButton(T("Another card"), func() {
		f.rejected = cardID(f.card)
		f.card, f.haveCard, f.cardText, f.look, f.lookErr = app.Card{}, false, "", nil, nil
		f.seq++
		f.redraw()
	})
	switch s.cardVerdict() {
	case verdictSpecial:
		b := NewBanner()
		b.Set(ToneInfo, headAuto.in(k.lang), explainLines(app.Explain(app.Card{Kind: kind}), k.lang)...)
		s.focusOn = another
		return container.NewVBox(append(items, b, container.NewHBox(another, back))...)
	case verdictNo:
		b := NewBanner()
		ex := app.Explain(app.Card{Kind: kind})
		if ex.Upgradeable && f.look != nil {
			ex = f.look.Explanation
		}
		b.Set(ToneError, headNoUpgrade.in(k.lang), explainLines(ex, k.lang)...)
		s.focusOn = another
		return container.NewVBox(append(items, b, container.NewHBox(another, back))...)
	}
	items = append(items, s.formChooser())
	if w := s.limitWarning(); w != "" {
		items = append(items, note(w, widget.WarningImportance))
	}
	next := k.newButton(T("Next (Enter)"), s.next)
	next.Importance = widget.HighImportance
	s.focusOn = next
	items = append(items, container.NewHBox(next, another, back))
	return container.NewVBox(items...)
}

func (s *upgradeScreen) formChooser() fyne.CanvasObject {
	f := s.f
	pick := func(form app.CardForm) func() {
		return func() {
			f.card.Form = form
			f.redraw()
		}
	}
	phys := s.k.newButton(T("Physical card"), pick(app.FormPhysical))
	nfc := s.k.newButton(T("Phone NFC card"), pick(app.FormNFC))
	if f.card.Form == app.FormNFC {
		nfc.Importance = widget.HighImportance
	} else {
		phys.Importance = widget.HighImportance
	}
	return container.NewHBox(widget.NewLabel(T("Bind as:")), phys, nfc)
}

// limitWarning says early that the holder already has an ordinary card of
// this form bound; central decides, and the result offers unbind-then-bind.
func (s *upgradeScreen) limitWarning() string {
	f := s.f
	if f.holder.bindings == nil {
		return ""
	}
	form := f.card.Form
	if form == "" {
		form = app.FormPhysical
	}
	b, ok := f.holder.bindings.Ordinary(form)
	if !ok || b.CardMasked == app.MaskCardNumber(f.card.Number) {
		return ""
	}
	return T("This person already has a card of this form bound ({{.Card}}). Only one is allowed: central will refuse, and the result will offer to unbind the old card and bind this one.", map[string]any{"Card": bindingName(b)})
}

// cardTakenElsewhere reports whether c, lying on the reader when the card
// step began, is a card not wanted here: the card the desk last took for
// another holder (the previous rider's card left behind) or the one the
// clerk turned down with "Another card". Any other card lying there — one
// placed before the step began, or looked up just before — is taken as if
// it had just been placed.
func (s *upgradeScreen) cardTakenElsewhere(c app.Card) bool {
	id := cardID(c)
	if id == s.f.rejected {
		return true
	}
	last, holder := s.k.lastCardTaken()
	return id == last && !holder.IsZero() && !holder.Equal(s.f.holder.id.Doc)
}

// waitCard returns the starter of a card-reader wait delivering to take.
// A card that was lying on the reader when the wait began and is
// unwanted (see cardTakenElsewhere) is passed over until it is lifted.
func (s *upgradeScreen) waitCard(unwanted func(app.Card) bool, take func(app.Card)) func() {
	return func() {
		f, seq, status, k := s.f, s.f.seq, s.status, s.k
		skip := func(c app.Card, lying bool) bool { return lying && unwanted(c) }
		waitReaderSkip(s.k.d.Background, s.ctx, k.d.CardReader.ReadCard, skip, func(c app.Card) {
			if status != nil {
				status.Importance = widget.WarningImportance
				status.SetText(T("The card on the reader ({{.Card}}) is not the one wanted here: lift it, then place the right card.", map[string]any{"Card": cardName(c)}))
			}
		}, func(c app.Card) {
			if f.seq == seq {
				take(c)
			}
		}, k.readerStatus(status, T("Card reader:"), T("Type the number below, or place the card again.")))
	}
}

// acceptCard takes a card read or typed and asks central about it (kind,
// bound or not), which also records the look-up in the audit log.
func (s *upgradeScreen) acceptCard(c app.Card) {
	k, f := s.k, s.f
	if c.Form == "" {
		c.Form = app.FormPhysical
	}
	f.card, f.haveCard, f.cardText, f.look, f.lookErr, f.looking = c, true, "", nil, nil, true
	f.seq++
	k.setLastCardFor(cardID(c), f.holder.id.Doc)
	f.rejected = ""
	seq := f.seq
	if k.op == nil || c.Number == "" {
		// A UnionPay card or a wearable has no transit number: its kind
		// from the reader is all there is (and enough to refuse it).
		f.looking = false
		f.redraw()
		return
	}
	op := *k.op
	f.redraw()
	async(s.k.d.Background, func() (app.CardLookup, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.LookUpCard(ctx, op, c)
	}, func(l app.CardLookup, err error) {
		if f.seq != seq {
			return
		}
		f.looking = false
		if l.Number != "" {
			f.look = &l
		}
		f.lookErr = err
		f.redraw()
	})
}
