package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The upgrade flow's document steps: the rider's (or, for a proxy upgrade,
// the helper's and the holder's) document from the reader or typed, the
// comparison with the document in hand, and the bindings already held.

func (s *upgradeScreen) modeChooser() fyne.CanvasObject {
	f := s.f
	own := s.k.newButton(T("Own card"), func() {
		if f.proxy {
			f.proxy, f.helper = false, docState{}
			f.goTo(stepHolder)
			f.redraw()
		}
	})
	proxy := s.k.newButton(T("For someone else (proxy)"), func() {
		if !f.proxy {
			f.proxy, f.holder = true, docState{}
			f.goTo(stepHelper)
			f.redraw()
		}
	})
	if f.proxy {
		proxy.Importance = widget.HighImportance
	} else {
		own.Importance = widget.HighImportance
	}
	return container.NewHBox(widget.NewLabel(T("Who is upgrading?")), own, proxy)
}

func (s *upgradeScreen) docView(d *docState, isHelper bool) fyne.CanvasObject {
	if d.has() {
		return s.compareView(d, isHelper)
	}
	k, f := s.k, s.f
	var items []fyne.CanvasObject
	if isHelper || !f.proxy {
		items = append(items, s.modeChooser())
	}
	switch {
	case isHelper:
		items = append(items, heading(T("Place the helper's ID card on the ID reader")))
	case f.proxy:
		items = append(items, heading(T("Now place the card holder's ID card on the ID reader")))
	default:
		items = append(items, heading(T("Place the rider's ID card on the ID reader")))
	}
	if k.d.IDReader == nil {
		items = append(items, note(T("This desk has no ID reader: type the document below."), widget.MediumImportance))
	} else {
		s.status = note(T("Waiting for the ID reader… placing the card moves on by itself."), widget.MediumImportance)
		items = append(items, s.status)
		s.later = append(s.later, s.waitID(d))
	}

	// Manual entry: passports, permits the reader cannot read, a broken reader.
	var labels []string
	for _, t := range app.DocTypes {
		labels = append(labels, t.Label(k.lang))
	}
	num := k.newEntry()
	num.SetPlaceHolder(T("Document number"))
	num.SetText(d.text)
	nat := k.newEntry()
	nat.SetPlaceHolder(T("Nationality, 3 letters, e.g. GBR"))
	nat.SetText(d.nat)
	check := note("", widget.MediumImportance)
	natRow := container.NewBorder(nil, nil, widget.NewLabel(T("Nationality")), nil, nat)
	typ := k.newSelect(labels, nil)
	typ.SetSelectedIndex(d.typ)
	validate := func() {
		d.text, d.nat = num.Text, nat.Text
		if app.DocTypes[d.typ] == app.DocPassport {
			natRow.Show()
		} else {
			natRow.Hide()
		}
		if strings.TrimSpace(d.text) == "" {
			check.SetText("")
			return
		}
		doc, err := parseTypedDoc(d)
		switch {
		case err == nil:
			check.Importance = widget.SuccessImportance
			check.SetText("✓ " + doc.Type().Label(k.lang) + "  " + doc.Masked())
		case app.ErrorReason(err) == "length":
			check.Importance = widget.MediumImportance
			check.SetText(T("Keep typing…"))
		default:
			check.Importance = widget.DangerImportance
			check.SetText(k.msg(err))
		}
	}
	typ.OnChanged = func(string) {
		d.typ = max(typ.SelectedIndex(), 0)
		validate()
		if app.DocTypes[d.typ] == app.DocPassport {
			k.w.Canvas().Focus(nat)
		} else {
			k.w.Canvas().Focus(num)
		}
	}
	use := func() {
		d.text, d.nat = num.Text, nat.Text
		doc, err := parseTypedDoc(d)
		if err != nil {
			check.Importance = widget.DangerImportance
			check.SetText(k.msg(err))
			k.w.Canvas().Focus(num)
			return
		}
		s.acceptID(d, app.Identity{Doc: doc, Nationality: doc.Nationality(), Source: app.SourceManual})
	}
	num.OnChanged = func(string) { validate() }
	nat.OnChanged = func(string) { validate() }
	num.OnSubmitted = func(string) { use() }
	nat.OnSubmitted = func(string) { k.w.Canvas().Focus(num) }
	validate()
	form := container.NewVBox(
		widget.NewLabel(T("Or type the document:")),
		container.NewBorder(nil, nil, widget.NewLabel(T("Document type")), nil, typ),
		natRow,
		container.NewBorder(nil, nil, widget.NewLabel(T("Number")), nil, num),
		check,
		container.NewHBox(k.newButton(T("Use this document (Enter)"), use)),
	)
	items = append(items, widget.NewSeparator(), form)
	if app.DocTypes[d.typ] == app.DocPassport && d.nat == "" {
		s.focusOn = nat
	} else {
		s.focusOn = num
	}
	return container.NewVBox(items...)
}

// parseTypedDoc validates what the clerk typed as the chosen type. A
// passport takes the nationality and number fields, or a whole MRZ line 2
// typed (or scanned) into the number field.
func parseTypedDoc(d *docState) (app.DocNumber, error) {
	t := app.DocTypes[d.typ]
	if t != app.DocPassport {
		return app.ParseDoc(t, d.text)
	}
	raw := strings.TrimSpace(d.text)
	if len(raw) == 44 && strings.Contains(raw, "<") {
		return app.ParseDoc(app.DocPassport, raw)
	}
	if strings.TrimSpace(d.nat) == "" {
		return app.DocNumber{}, app.NewError(app.CodeInvalid, "length", "请输入3位国籍代码。", "Enter the 3-letter nationality code.")
	}
	return app.ParsePassport(d.nat, raw, "")
}

// waitID returns the starter of the ID-reader wait for d.
func (s *upgradeScreen) waitID(d *docState) func() {
	return func() {
		f, seq, status := s.f, s.f.seq, s.status
		waitReader(s.k.d.Background, s.ctx, s.k.d.IDReader.ReadID, func(id app.Identity) {
			if f.seq == seq && !d.has() {
				s.acceptID(d, id)
			}
		}, s.k.readerStatus(status, T("ID reader:"), T("Type the document below, or place the card again.")))
	}
}

// acceptID takes a document read or typed for d and moves to its compare
// view; a holder's bindings or a helper's proxy count are fetched.
func (s *upgradeScreen) acceptID(d *docState, id app.Identity) {
	f := s.f
	if f.proxy && d == &f.holder && f.helper.has() && id.Doc.Equal(f.helper.id.Doc) {
		f.proxy, f.helper = false, docState{}
		f.info = T("Helper and holder are the same person: this is an own upgrade.")
	}
	d.id, d.text, d.nat = id, "", ""
	f.seq++
	if d == &f.holder {
		s.loadBindings()
	} else {
		s.loadQuota()
	}
	f.redraw()
}

func (s *upgradeScreen) loadBindings() {
	f, k := s.f, s.k
	f.holder.bindings, f.holder.bindErr = nil, nil
	doc, seq := f.holder.id.Doc, f.seq
	async(s.k.d.Background, func() (app.PersonBindings, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.Bindings(ctx, doc)
	}, func(pb app.PersonBindings, err error) {
		if f.seq != seq {
			return
		}
		if err != nil {
			f.holder.bindErr = err
		} else {
			f.holder.bindings = &pb
		}
		f.redraw()
	})
}

func (s *upgradeScreen) loadQuota() {
	f, k := s.f, s.k
	doc, seq := f.helper.id.Doc, f.seq
	type quota struct{ used, limit int }
	async(s.k.d.Background, func() (quota, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		u, l, err := k.d.Upgrades.HelperQuota(ctx, doc)
		return quota{u, l}, err
	}, func(q quota, err error) {
		if f.seq != seq {
			return
		}
		f.helper.quotaErr = err
		f.helper.quotaKnown = err == nil
		f.helper.quotaUsed, f.helper.quotaLimit = q.used, q.limit
		f.redraw()
	})
}

// compareView shows a read or typed document for the clerk to compare with
// the document in the rider's hand.
func (s *upgradeScreen) compareView(d *docState, isHelper bool) fyne.CanvasObject {
	k, f := s.k, s.f
	id := d.id
	title := T("Compare with the rider's document")
	if isHelper {
		title = T("Compare with the helper's document")
	} else if f.proxy {
		title = T("Compare with the card holder's document")
	}
	// The full number and name are shown here, and only here: this is the
	// step where the clerk compares them with the physical document (and a
	// typed number with what is printed). Every later step, the bindings and
	// the result show masked forms only.
	rows := []*widget.FormItem{
		widget.NewFormItem(T("Document type"), widget.NewLabel(id.Doc.Type().Label(k.lang))),
		widget.NewFormItem(T("Number"), widget.NewLabelWithStyle(id.Doc.Reveal(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})),
	}
	if !id.Name.IsZero() {
		name := id.Name.Reveal()
		if !id.OtherName.IsZero() {
			name += " / " + id.OtherName.Reveal()
		}
		rows = append(rows, widget.NewFormItem(T("Name"), widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})))
	}
	if id.Doc.Type() == app.DocPassport || id.Doc.Type() == app.DocForeignPR {
		if n := id.Doc.Nationality(); n != "" {
			rows = append(rows, widget.NewFormItem(T("Nationality"), widget.NewLabel(n)))
		}
	}
	if !id.Birth.IsZero() {
		rows = append(rows, widget.NewFormItem(T("Date of birth"), widget.NewLabel(id.Birth.Format("2006-01-02"))))
	}
	switch {
	case id.LongTerm:
		rows = append(rows, widget.NewFormItem(T("Valid until"), widget.NewLabel(T("long-term"))))
	case !id.ValidTo.IsZero():
		rows = append(rows, widget.NewFormItem(T("Valid until"), widget.NewLabel(id.ValidTo.Format("2006-01-02"))))
	}
	src := T("Typed by the clerk")
	if id.Source == app.SourceReader {
		src = T("Read from the chip by the ID reader")
	}
	rows = append(rows, widget.NewFormItem(T("Source"), widget.NewLabel(src)))
	items := []fyne.CanvasObject{heading(title), widget.NewForm(rows...)}

	again := s.k.newButton(T("Read another document"), func() {
		*d = docState{typ: d.typ}
		f.unbind, f.unbindDone, f.unbindError = nil, nil, nil
		f.seq++
		f.redraw()
	})
	if err := id.Check(k.d.Clock.Now()); err != nil {
		b := NewBanner()
		b.Set(ToneError, T("Document not accepted"), k.msg(err))
		s.focusOn = again
		return container.NewVBox(append(items, b, container.NewHBox(again))...)
	}

	canGoOn := true
	if isHelper {
		switch {
		case d.quotaErr != nil:
			items = append(items, note(T("Could not ask central for the helper's count:")+" "+k.queryMsg(d.quotaErr)+" "+T("Central will check it when binding."), widget.WarningImportance))
		case !d.quotaKnown:
			items = append(items, note(T("Asking central how many proxy upgrades this helper has used…"), widget.MediumImportance))
		default:
			items = append(items, bigText(T("Proxy upgrades used: {{.Used}} of {{.Limit}}", map[string]any{"Used": d.quotaUsed, "Limit": d.quotaLimit}), 1))
			if d.quotaLimit > 0 && d.quotaUsed >= d.quotaLimit {
				b := NewBanner()
				b.Set(ToneError, headRefused.in(k.lang), explainLines(app.ExplainReason(string(app.CentralProxyLimitReached)), k.lang)...)
				items = append(items, b)
				canGoOn = false
			}
		}
	} else {
		items = append(items, s.bindingsView(d))
	}
	if f.unbind != nil && !f.unbind.rebind {
		items = append(items, s.unbindView())
		canGoOn = false
	}
	buttons := container.NewHBox()
	if canGoOn {
		next := s.k.newButton(T("Next (Enter)"), s.next)
		next.Importance = widget.HighImportance
		buttons.Add(next)
		if s.focusOn == nil {
			s.focusOn = next
		}
	} else if s.focusOn == nil {
		s.focusOn = again
	}
	buttons.Add(again)
	return container.NewVBox(append(items, buttons)...)
}

func (s *upgradeScreen) bindingsView(d *docState) fyne.CanvasObject {
	k, f := s.k, s.f
	box := container.NewVBox(heading(T("Cards already bound to this person")))
	switch {
	case d.bindErr != nil:
		box.Add(note(T("Could not ask central:")+" "+k.queryMsg(d.bindErr), widget.WarningImportance))
	case d.bindings == nil:
		box.Add(note(T("Asking central…"), widget.MediumImportance))
	case len(d.bindings.Bindings) == 0:
		box.Add(widget.NewLabel(T("None yet.")))
	default:
		for _, b := range d.bindings.Bindings {
			var unbind fyne.CanvasObject
			if !b.Auto && f.unbind == nil {
				unbind = k.newButton(T("Unbind…"), func() {
					f.unbind = &unbindState{target: b, key: app.NewIdempotencyKey()}
					f.unbindDone, f.unbindError = nil, nil
					f.redraw()
				})
			}
			box.Add(container.NewBorder(nil, nil, nil, unbind, note(bindingLine(b), widget.MediumImportance)))
		}
		box.Add(note(T("One physical card and one phone NFC card may be bound per person; special cards do not count."), widget.MediumImportance))
	}
	return box
}

// next moves on from a completed step.
func (s *upgradeScreen) next() {
	f := s.f
	switch f.step {
	case stepHelper:
		if f.helper.has() {
			f.goTo(stepHolder)
		}
	case stepHolder:
		if !f.holder.has() {
			return
		}
		if f.proxy {
			f.goTo(stepCode)
		} else {
			f.goTo(stepCard)
		}
	case stepCode:
		if validCode(f.code) {
			f.goTo(stepCard)
		}
	case stepCard:
		if f.haveCard && s.cardVerdict() == verdictOK {
			f.goTo(stepConfirm)
		}
	default:
		return
	}
	f.redraw()
}
