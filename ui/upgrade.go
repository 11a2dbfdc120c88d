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

// The upgrade screen is the guided flow a service-desk assistant runs for a
// rider, elderly riders included, without training: the rider's document
// (reader first, typed as a fallback), the card (reader first), what will
// happen, confirm, and an unmistakable result. A proxy upgrade (代办) reads
// the helper's document first, shows how many of the helper's proxy
// upgrades are used, then the holder's document and the verification code
// sent to the holder's phone.
//
// Personal data on screen: the full document number and name appear only
// on the document steps, where the clerk compares them with the document in
// the rider's hand; every other step, the bindings list and the result show
// the masked forms. Nothing here logs personal data.

func init() {
	registerScreen(screenDef{id: "upgrade", order: 10, title: "Upgrade a card",
		roles:     []app.Role{app.RoleAssistant, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Upgrades != nil },
		build:     (*Desk).buildUpgrade})
}

type upStep int

const (
	stepHelper  upStep = iota // proxy only: the helper's document
	stepHolder                // the card holder's document
	stepCode                  // proxy only: the verification code
	stepCard                  // the card
	stepConfirm               // what will happen
	stepResult                // the result
)

// docState is one document step: the identity once read or typed, what the
// clerk typed so far, and what central said about the person.
type docState struct {
	id   app.Identity
	typ  int    // index into app.DocTypes of the manual entry
	text string // typed number (personal data; kept only while on this step)
	nat  string // typed passport nationality

	// Holder: the cards bound to them.
	bindings *app.PersonBindings
	bindErr  error
	// Helper: proxy upgrades used.
	quotaKnown            bool
	quotaUsed, quotaLimit int
	quotaErr              error
}

func (d *docState) has() bool { return !d.id.Doc.IsZero() }

// unbindState is the unbind sub-form: which bound card, the full number of
// the card once the rider presents it (the bindings list has only masked
// numbers), and whether the bind of the new card follows (re-bind).
type unbindState struct {
	target   app.Binding
	rebind   bool
	key      string
	text     string
	number   string
	mismatch string
	inflight bool
}

// upgradeFlow is the state of one rider's upgrade. It lives outside the
// widgets so a language switch keeps it, and is dropped on "New rider" or
// when the clerk leaves the screen.
type upgradeFlow struct {
	proxy  bool
	step   upStep
	seq    int // bumped whenever a step's data changes; late answers for an older seq are dropped
	helper docState
	holder docState
	info   string // a one-off remark (e.g. helper and holder are the same person)

	codeKey  string
	codeSent *app.ProxyCodeSent
	codeErr  error
	code     string
	sending  bool
	checking bool   // the typed code is being checked with central
	codeMsg  string // why the typed code was not accepted (shown under it)

	card     app.Card
	haveCard bool
	cardText string
	look     *app.CardLookup
	lookErr  error
	looking  bool

	// Keys are made when the flow opens, so a double click, a retry and a
	// pending item all carry the same key (docs/contracts.md, idempotency). unbindKey and
	// rebindKey serve the "unbind the old card and bind this one" offer.
	key, unbindKey, rebindKey string
	inflight                  bool
	result                    *app.UpgradeResult
	resErr                    error

	unbind      *unbindState
	unbindDone  *app.UpgradeResult
	unbindError error

	screen *upgradeScreen // the instance on show, for late answers
}

func newUpgradeFlow() *upgradeFlow {
	return &upgradeFlow{step: stepHolder, key: app.NewIdempotencyKey(), unbindKey: app.NewIdempotencyKey(),
		rebindKey: app.NewIdempotencyKey(), codeKey: app.NewIdempotencyKey()}
}

func (f *upgradeFlow) redraw() {
	if s := f.screen; s != nil && !s.dead {
		s.show()
	}
}

func (f *upgradeFlow) goTo(st upStep) {
	f.step = st
	f.seq++
}

// upgradeScreen is one build of the screen (a language switch makes a new
// one on the same flow).
type upgradeScreen struct {
	k        *Desk
	f        *upgradeFlow
	root     *fyne.Container
	building bool
	dead     bool
	gen      int
	ctx      context.Context
	cancel   context.CancelFunc
	later    []func()
	focusOn  fyne.Focusable
	toBottom bool          // scroll to the end (an unbind sub-form below a long page)
	status   *widget.Label // reader status of the current step
	confirm  *deskButton
}

func (k *Desk) buildUpgrade() fyne.CanvasObject {
	f := keepState(k, "upgrade", newUpgradeFlow)
	if old := f.screen; old != nil {
		old.stop()
	}
	s := &upgradeScreen{k: k, f: f, root: container.NewStack()}
	f.screen = s
	s.building = true
	s.show()
	s.building = false
	k.onLeave(s.stop)
	return s.root
}

// stop cancels this instance's reader wait; it draws nothing any more.
func (s *upgradeScreen) stop() {
	s.dead = true
	if s.cancel != nil {
		s.cancel()
	}
}

// show draws the current step. Reader waits and use-case calls the step
// needs start after the step is on screen (in tests they complete inline
// and may draw the next step at once).
func (s *upgradeScreen) show() {
	if s.dead {
		return
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.gen++
	gen := s.gen
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.later, s.focusOn, s.status, s.confirm, s.toBottom = nil, nil, nil, nil, false
	view := s.view()
	sc := container.NewVScroll(view)
	s.root.Objects = []fyne.CanvasObject{sc}
	s.root.Refresh()
	if s.toBottom {
		sc.ScrollToBottom()
	}
	if s.focusOn != nil {
		if s.building {
			s.k.focus = s.focusOn
		} else {
			s.k.w.Canvas().Focus(s.focusOn)
		}
	} else if !s.building {
		s.k.w.Canvas().Unfocus()
	}
	for _, fn := range s.later {
		if s.gen != gen || s.dead {
			break
		}
		fn()
	}
}

func (s *upgradeScreen) stepNames() ([]string, int) {
	f := s.f
	if f.proxy {
		names := []string{T("1 Helper"), T("2 Holder"), T("3 Code"), T("4 Card"), T("5 Check"), T("6 Result")}
		return names, int(f.step)
	}
	names := []string{T("1 Document"), T("2 Card"), T("3 Check"), T("4 Result")}
	idx := map[upStep]int{stepHolder: 0, stepCard: 1, stepConfirm: 2, stepResult: 3}[f.step]
	return names, idx
}

func (s *upgradeScreen) view() fyne.CanvasObject {
	f := s.f
	names, cur := s.stepNames()
	items := []fyne.CanvasObject{stepBar(names, cur), widget.NewSeparator()}
	if f.info != "" {
		items = append(items, note(f.info, widget.HighImportance))
	}
	switch f.step {
	case stepHelper:
		items = append(items, s.docView(&f.helper, true))
	case stepHolder:
		items = append(items, s.docView(&f.holder, false))
	case stepCode:
		items = append(items, s.codeView())
	case stepCard:
		items = append(items, s.cardView())
	case stepConfirm:
		items = append(items, s.confirmView())
	case stepResult:
		items = append(items, s.resultView())
	}
	items = append(items, widget.NewSeparator(), container.NewHBox(s.k.newButton(T("New rider"), s.newRider)))
	return container.NewVBox(items...)
}

// newRider forgets this rider and starts again at the first step.
func (s *upgradeScreen) newRider() {
	old := s.f
	old.screen = nil
	*old = upgradeFlow{} // drop the rider's data even if a late answer still holds the flow
	f := newUpgradeFlow()
	s.k.states["upgrade"] = f
	f.screen = s
	s.f = f
	s.show()
}

// ---------------------------------------------------------------------------
// Document steps.

func (s *upgradeScreen) modeChooser() fyne.CanvasObject {
	f := s.f
	own := s.k.newButton(T("Own card"), func() {
		if f.proxy {
			f.proxy, f.helper = false, docState{}
			f.goTo(stepHolder)
			f.redraw()
		}
	})
	proxy := s.k.newButton(T("For someone else (proxy, 代办)"), func() {
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
	if f.unbindDone != nil || f.unbindError != nil {
		b := NewBanner()
		r := app.UpgradeResult{}
		if f.unbindDone != nil {
			r = *f.unbindDone
		}
		k.outcomeBanner(b, r, f.unbindError)
		box.Add(b)
	}
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

// ---------------------------------------------------------------------------
// Verification code (proxy).

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
		sent += " " + T("Valid until {{.Time}}.", map[string]any{"Time": f.codeSent.ExpiresAt.In(time.Local).Format("15:04")})
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

// ---------------------------------------------------------------------------
// The card.

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
			s.later = append(s.later, s.waitCard(k.lastCard(), func(c app.Card) { s.acceptCard(c) }))
		}
		num := k.newEntry()
		num.SetPlaceHolder(T("Card number as printed, e.g. 1000 2000 0012"))
		num.SetText(f.cardText)
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
	return T("This person already has a card of this form bound ({{.Card}}). Only one is allowed: central will refuse, and the result will offer to unbind the old card and bind this one.", map[string]any{"Card": b.CardMasked})
}

// waitCard returns the starter of a card-reader wait delivering to take.
// A card that was lying on the reader when the wait began and has the
// number avoid (the previous rider's card, or the new card during an
// unbind) is passed over until it is lifted.
func (s *upgradeScreen) waitCard(avoid string, take func(app.Card)) func() {
	return func() {
		f, seq, status, k := s.f, s.f.seq, s.status, s.k
		skip := func(c app.Card, lying bool) bool { return lying && avoid != "" && cardID(c) == avoid }
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
	k.setLastCard(cardID(c))
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

// ---------------------------------------------------------------------------
// What will happen, and confirm.

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
	items := []fyne.CanvasObject{b,
		note(T("Card:")+" "+card+"   "+T("Person:")+" "+maskedPerson(f.holder.id, k.lang), widget.MediumImportance)}
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

// ---------------------------------------------------------------------------
// Unbind (from the bindings list, or before a re-bind).

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
