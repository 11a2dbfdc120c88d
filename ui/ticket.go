package ui

// The ticket window: single-journey tickets and welfare-ticket exchanges
// on the buyer's own ID document (read or typed), their health status, a
// manual check when the status is not known well enough, the sale, the
// receipt, and a form that resets for the next buyer.

import (
	"context"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

func init() {
	registerScreen(screenDef{id: "ticket", order: 1, title: "Sell a ticket",
		roles:     []app.Role{app.RoleClerk, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Sales != nil },
		build:     func(k *Desk) fyne.CanvasObject { return k.buildBuyerScreen("ticket", app.KindSingleJourney) }})
	registerScreen(screenDef{id: "welfare", order: 2, title: "Welfare ticket",
		roles:     []app.Role{app.RoleClerk, app.RoleSupervisor},
		available: func(d Deps) bool { return d.Sales != nil },
		build:     func(k *Desk) fyne.CanvasObject { return k.buildBuyerScreen("welfare", app.KindWelfare) }})
}

// buyerFlow is the state of one ticket or welfare screen: the current
// purchase (the ID check), the clerk's choices, the last result.
type buyerFlow struct {
	kind  app.TicketKind
	check app.BuyerCheck
	doc   docState // manual entry
	valid string   // typed "valid until" date of a manually entered document
	name  string   // typed name of a manually entered document (personal data)

	dest     string // destination code
	fare     int64  // fare chosen without a destination
	payment  app.Payment
	assisted bool

	manual    bool   // the manual-check form is open
	manualKey string // idempotency key of that form
	mc        manualState

	welfare    *app.WelfareStatus
	welfareErr error
	override   *app.Operator
	overReason string

	busy    bool
	errText string
	// receipt is the last sale, and info a remark after an action; both
	// are put into words when drawn, so a language switch (F12) shows them
	// in the new language.
	receipt *app.SaleRecord
	info    func() string
	seq     int
}

type buyerScreen struct {
	k       *Desk
	id      string
	f       *buyerFlow
	root    *fyne.Container
	pinned  *fyne.Container // the result of the last action, above the scrolling form
	ctx     context.Context
	cancel  context.CancelFunc
	shift   *app.Shift
	waiting int // 1 + the state version an ID wait runs for
	// building: the screen's build is drawing it (display focuses
	// k.focus afterwards); later redraws focus it themselves.
	building bool
}

func (k *Desk) buildBuyerScreen(id string, kind app.TicketKind) fyne.CanvasObject {
	f := keepState(k, id, func() *buyerFlow { return &buyerFlow{kind: kind, payment: app.PayCash} })
	s := &buyerScreen{k: k, id: id, f: f, root: container.NewVBox(), pinned: container.NewVBox()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The result of an action (ticket issued, refused, not done) is pinned
	// above the form, so it is on show however far the form was scrolled.
	scroll := container.NewVScroll(s.root)
	k.onLeave(s.cancel)
	s.building = true
	s.loadShift()
	s.redraw()
	s.building = false
	return container.NewBorder(s.pinned, nil, nil, nil, scroll)
}

func (s *buyerScreen) loadShift() {
	if s.k.d.Shifts == nil {
		return
	}
	async(s.k.d.Background, func() (app.Shift, error) {
		sh, ok, err := s.k.d.Shifts.Current(context.Background())
		if !ok {
			return app.Shift{}, err
		}
		return sh, err
	}, func(sh app.Shift, err error) {
		s.shift = &sh
		s.refresh()
	})
}

// redraw renders the state after the clerk's action or its answer, focuses
// the field the new state asks for (the next step's), and (re)starts the
// ID wait when the screen is waiting for a document.
func (s *buyerScreen) redraw() { s.redrawFocus(false) }

// refresh is redraw for news the clerk did not act for (the shift loaded,
// the welfare status): the clerk may be halfway through the form, so the
// field they are in keeps the focus, in its new drawing, with the cursor
// after what they typed. Without it the shift loaded after a language
// switch sent the focus back to the first field, and the next digit typed
// chose a health code there.
func (s *buyerScreen) refresh() { s.redrawFocus(true) }

func (s *buyerScreen) redrawFocus(keep bool) {
	if s.ctx.Err() != nil {
		// Left (navigated away, or rebuilt for a language switch) before
		// this answer came: the drawing on show is another screen's, whose
		// focus and fields this one must not touch.
		return
	}
	was := ""
	if keep {
		was = s.k.focusedName()
	}
	s.draw()
	if !s.building && s.k.current == s.id && !s.k.focusNamed(was) && s.k.focus != nil {
		s.k.w.Canvas().Focus(s.k.focus)
	}
	if s.f.check.IsZero() && s.k.d.IDReader != nil && !s.f.busy {
		s.waitID()
	}
}

// draw renders the state: the results pinned, the rest in the scroll.
func (s *buyerScreen) draw() {
	if s.ctx.Err() != nil {
		return // left: see redrawFocus
	}
	s.k.focus, s.k.named = nil, nil
	pinned, rest := s.view()
	s.pinned.Objects = pinned
	s.pinned.Refresh()
	s.root.Objects = rest
	s.root.Refresh()
}

// waitID waits for an ID card on the reader (once per state version).
func (s *buyerScreen) waitID() {
	if s.waiting == s.f.seq+1 {
		return
	}
	s.waiting = s.f.seq + 1
	seq := s.f.seq
	waitReader(s.k.d.Background, s.ctx, s.k.d.IDReader.ReadID, func(id app.Identity) {
		s.waiting = 0
		if s.f.seq == seq && s.f.check.IsZero() {
			s.takeID(id)
		}
	}, func(err error) {
		if err == nil && s.f.errText != "" { // the reader is back
			s.f.errText = ""
			s.draw()
			return
		}
		if err != nil && s.f.check.IsZero() && app.ErrorReason(err) != "timeout" {
			s.f.errText = T("ID reader:") + " " + s.k.msg(err)
			s.draw()
		}
	})
}

// takeID checks the document read or typed.
func (s *buyerScreen) takeID(id app.Identity) {
	f := s.f
	f.busy, f.errText, f.info, f.receipt = true, "", nil, nil
	f.seq++
	s.redraw()
	op := *s.k.op
	async(s.k.d.Background, func() (app.BuyerCheck, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if f.kind == kindCheck {
			return s.k.d.Sales.ManualOnly(ctx, op, id)
		}
		return s.k.d.Sales.CheckBuyer(ctx, op, id)
	}, func(c app.BuyerCheck, err error) {
		f.busy = false
		f.doc, f.name, f.valid = docState{}, "", ""
		f.check = c
		if f.kind == kindCheck && c.ManualAllowed() {
			f.manual, f.manualKey, f.mc = true, app.NewIdempotencyKey(), manualState{}
		}
		if err != nil {
			f.errText = s.k.msg(err)
		}
		if f.kind == app.KindWelfare && c.Decision() == app.BuyerOK {
			s.loadWelfare()
		}
		s.redraw()
	})
}

func (s *buyerScreen) loadWelfare() {
	f, c := s.f, s.f.check
	async(s.k.d.Background, func() (app.WelfareStatus, error) {
		return s.k.d.Sales.Welfare(context.Background(), c)
	}, func(w app.WelfareStatus, err error) {
		if f.check.Key() != c.Key() {
			return
		}
		f.welfare, f.welfareErr = &w, err
		s.refresh()
	})
}

// newBuyer forgets the purchase: the next ticket needs the ID again.
func (s *buyerScreen) newBuyer(keepReceipt bool) {
	f := s.f
	receipt, info := f.receipt, f.info
	*f = buyerFlow{kind: f.kind, payment: app.PayCash, seq: f.seq + 1}
	if keepReceipt {
		f.receipt, f.info = receipt, info
	}
	s.redraw()
}

// view returns what is pinned above the form (the results of the last
// action) and the form.
func (s *buyerScreen) view() (pinned, out []fyne.CanvasObject) {
	f, k := s.f, s.k
	switch f.kind {
	case kindCheck:
		out = append(out, note(T("For riders whose card or code is not upgraded and visitors without a Beijing health-kit account: record what was shown and the decision."), widget.MediumImportance))
	case app.KindSingleJourney:
		notice := NewBanner()
		notice.Set(ToneInfo, T("Electronic single-journey tickets are suspended."),
			T("Only tokens are sold here. Refunds of electronic single-journey tickets bought earlier go back through the channel they were bought in (the app or machine used)."))
		out = append(out, notice)
	default:
		out = append(out, note(T("A welfare ticket is exchanged on the holder's own ID document after the same health check; central says who is entitled. A duty supervisor may authorise an exception; it is audited."), widget.MediumImportance))
	}
	if s.shift != nil && !s.shift.Open() && k.d.Shifts != nil {
		open := k.newButton(T("Open shift"), s.openShift)
		open.Importance = widget.HighImportance
		k.bindKey(keyOpen, open, T("Open shift"))
		out = append(out, note(T("No shift is open at this window: sales need an open shift."), widget.WarningImportance), container.NewHBox(open))
	}
	if f.receipt != nil {
		b := NewBanner()
		head := T("Ticket issued")
		if f.receipt.Kind == app.KindWelfare {
			head = T("Welfare ticket issued")
		}
		b.Set(ToneOK, head, f.receipt.ReceiptLines(k.lang, k.d.Sales.Fares())...)
		pinned = append(pinned, b)
	}
	if f.info != nil {
		pinned = append(pinned, note(f.info(), widget.SuccessImportance))
	}
	if f.errText != "" {
		b := NewBanner()
		b.Set(ToneError, T("Not done"), f.errText)
		pinned = append(pinned, b)
	}
	switch {
	case f.busy && f.check.IsZero():
		out = append(out, heading(T("Checking the document and health status…")))
	case f.check.IsZero():
		out = append(out, s.idView()...)
	default:
		out = append(out, s.checkView()...)
	}
	return pinned, out
}

// idView asks for the buyer's own document: the reader, or typed.
func (s *buyerScreen) idView() []fyne.CanvasObject {
	k, f := s.k, s.f
	var out []fyne.CanvasObject
	// The heading names the document, not only the ID card: passports and
	// permits have no chip the reader takes and are typed below.
	step := T("Step 1: the buyer's own ID document — an ID card on the reader, or a passport or permit typed below.")
	rule := T("One ticket per person per purchase: every ticket needs the ID again, also for the same person.")
	switch {
	case f.kind == kindCheck && k.d.IDReader == nil:
		step = T("Step 1: type the rider's ID document.")
		rule = T("The check is recorded for this rider's document; a passed check can go on to a sale.")
	case f.kind == kindCheck:
		step = T("Step 1: the rider's ID document — an ID card on the reader, or a passport or permit typed below.")
		rule = T("The check is recorded for this rider's document; a passed check can go on to a sale.")
	case k.d.IDReader == nil:
		step = T("Step 1: type the buyer's own ID document.")
	}
	out = append(out, heading(step), note(rule, widget.MediumImportance))
	typ := k.newSelect(nil, nil)
	for _, t := range app.DocTypes {
		typ.Options = append(typ.Options, t.Label(k.lang))
	}
	typ.SetSelectedIndex(f.doc.typ)
	typ.OnChanged = func(string) { f.doc.typ = typ.SelectedIndex() }
	num := k.newEntry()
	num.SetPlaceHolder(T("Document number"))
	num.SetText(f.doc.text)
	num.OnChanged = func(v string) { f.doc.text = v }
	nat := k.newEntry()
	nat.SetPlaceHolder(T("Nationality (passport), e.g. GBR"))
	nat.SetText(f.doc.nat)
	nat.OnChanged = func(v string) { f.doc.nat = v }
	name := k.newEntry()
	name.SetPlaceHolder(T("Name as printed on the document"))
	name.SetText(f.name)
	name.OnChanged = func(v string) { f.name = v }
	valid := k.newEntry()
	valid.SetPlaceHolder(T("Valid until, YYYY-MM-DD (as printed)"))
	valid.SetText(f.valid)
	valid.OnChanged = func(v string) { f.valid = v }
	use := k.newButton(T("Use this document"), s.useTyped)
	num.OnSubmitted = func(string) { s.useTyped() }
	k.nameFocus(map[string]fyne.Focusable{"doc.type": typ, "doc.number": num, "doc.name": name,
		"doc.nationality": nat, "doc.valid": valid, "doc.use": use})
	form := widget.NewForm(
		widget.NewFormItem(T("Document type"), typ),
		widget.NewFormItem(T("Number"), num),
		widget.NewFormItem(T("Name"), name),
		widget.NewFormItem(T("Nationality"), nat),
		widget.NewFormItem(T("Valid until"), valid),
	)
	out = append(out, widget.NewCard("", T("Manual entry"), container.NewVBox(form, use)))
	// The number field has the focus also beside a reader: a passport is
	// typed, and the reader takes an ID card whatever has the focus.
	k.focus = num
	return out
}

func (s *buyerScreen) useTyped() {
	f := s.f
	doc, err := parseTypedDoc(&f.doc)
	if err != nil {
		f.errText = s.k.msg(err)
		s.redraw()
		return
	}
	id := app.Identity{Doc: doc, Name: app.NewName(f.name), Source: app.SourceManual}
	if v := strings.TrimSpace(f.valid); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			f.errText = T("Valid until: write the date as YYYY-MM-DD.")
			s.redraw()
			return
		}
		id.ValidTo = t
	} else if doc.Type() == app.DocPassport || doc.Type() == app.DocHKMOPermit || doc.Type() == app.DocTWPermit {
		f.errText = T("Type the document's expiry date: a typed document is checked for expiry like a read one.")
		s.redraw()
		return
	}
	s.takeID(id)
}

// checkView shows the result of the ID and health check and what follows.
func (s *buyerScreen) checkView() []fyne.CanvasObject {
	k, f := s.k, s.f
	c := f.check
	ex := c.Explanation()
	var out []fyne.CanvasObject
	who := T("Buyer") + ": " + c.DocMasked()
	if f.kind == kindCheck {
		who = T("Rider") + ": " + c.DocMasked()
	}
	if c.NameMasked() != "" {
		who += "  " + c.NameMasked()
	}
	out = append(out, heading(who))
	b := NewBanner()
	switch c.Decision() {
	case app.BuyerOK:
		title := T("May buy one ticket")
		if f.kind == kindCheck {
			title = T("Check passed") // the check screen sells nothing itself
		}
		b.Set(ToneOK, title, langText(k.lang, ex.ZH, ex.EN), langText(k.lang, ex.NextZH, ex.NextEN))
	case app.BuyerManual:
		b.Set(ToneWarn, T("Manual check needed"), langText(k.lang, ex.ZH, ex.EN), langText(k.lang, ex.NextZH, ex.NextEN))
	default:
		title := T("No ticket")
		if f.kind == kindCheck {
			title = T("Check refused")
		}
		b.Set(ToneError, title, langText(k.lang, ex.ZH, ex.EN), langText(k.lang, ex.NextZH, ex.NextEN))
	}
	out = append(out, b)
	nextLabel := T("Next buyer")
	if f.kind == kindCheck {
		nextLabel = T("Next rider") // a check is not a purchase
	}
	next := k.newButton(nextLabel, func() { s.newBuyer(false) })
	k.bindKey(keyNext, next, nextLabel)
	switch {
	case c.Decision() == app.BuyerOK && f.kind == kindCheck:
		if k.op.Role == app.RoleClerk || k.op.Role == app.RoleSupervisor {
			sale := k.newButton(T("Go on to a sale"), func() {
				// The passed check goes to the ticket screen as its state;
				// nothing else of this screen survives the navigation.
				k.showScreenWith("ticket", func() {
					k.states["ticket"] = &buyerFlow{kind: app.KindSingleJourney, payment: app.PayCash, check: c,
						info: func() string { return T("Manual check passed: go on to the sale.") }}
				})
			})
			sale.Importance = widget.HighImportance
			k.bindKey(keyPrimary, sale, T("Go on to a sale"))
			out = append(out, sale)
		}
	case c.Decision() == app.BuyerOK && f.kind == app.KindWelfare:
		out = append(out, s.welfareView()...)
	case c.Decision() == app.BuyerOK:
		out = append(out, s.saleView()...)
	case c.ManualAllowed() && f.manual:
		out = append(out, k.manualForm(&f.mc, f.manualKey, c, s.manualDone)...)
	case c.ManualAllowed():
		m := k.newButton(T("Manual check"), func() {
			f.manual, f.manualKey, f.mc = true, app.NewIdempotencyKey(), manualState{}
			s.redraw()
		})
		m.Importance = widget.HighImportance
		k.bindKey(keyPrimary, m, T("Manual check"))
		out = append(out, m)
	}
	return append(out, widget.NewSeparator(), next)
}

// manualDone takes a recorded manual check: after a pass, the sale form.
func (s *buyerScreen) manualDone(next app.BuyerCheck, res app.ManualCheckResult) {
	f := s.f
	f.check, f.manual = next, false
	if res.Record.Decision == app.ManualPass {
		f.info = func() string { return T("Manual check passed and recorded.") }
		if f.kind == app.KindWelfare {
			s.loadWelfare()
		}
	} else {
		f.info = func() string { return T("Manual check recorded: refused.") }
	}
	s.redraw()
}

// destinationSelect lists the fare table's destinations with line and
// fare, shows the form's destination selected, and on a choice calls pick
// with its code and redraws.
func (s *buyerScreen) destinationSelect(pick func(code string)) *deskSelect {
	k := s.k
	fares := k.d.Sales.Fares()
	dests := fares.Destinations()
	opts := make([]string, len(dests))
	sel := -1
	for i, d := range dests {
		fare, _ := fares.FareTo(d.Code)
		opts[i] = d.Name(k.lang) + "  ·  " + d.Line + "  ·  " + money(fare, k.lang)
		if d.Code == s.f.dest {
			sel = i
		}
	}
	dest := k.newSelect(opts, nil)
	if sel >= 0 {
		dest.SetSelectedIndex(sel)
	}
	dest.OnChanged = func(string) {
		if i := dest.SelectedIndex(); i >= 0 {
			pick(dests[i].Code)
			s.redraw()
		}
	}
	return dest
}

// saleView is the single-journey form: destination or fare, payment,
// assisted, sell.
func (s *buyerScreen) saleView() []fyne.CanvasObject {
	k, f := s.k, s.f
	dest := s.destinationSelect(func(code string) { f.dest, f.fare = code, 0 })
	fareBox := container.NewHBox(widget.NewLabel(T("or fare:")))
	for _, fen := range k.d.Sales.Fares().Fares() {
		b := k.newButton(money(fen, k.lang), func() { f.fare, f.dest = fen, ""; s.redraw() })
		if f.dest == "" && f.fare == fen {
			b.Importance = widget.HighImportance
		}
		fareBox.Add(b)
	}
	var payLabels []string
	for _, p := range app.Payments {
		payLabels = append(payLabels, p.Label(k.lang))
	}
	// Two a row, their words wrapping: a row of all of them did not fit
	// 1024 pixels. The digit beside each chooses it while the list has the
	// focus (Tab).
	pay := k.newChoice(payLabels, 2, func(i int) { f.payment = app.Payments[i] })
	for i, p := range app.Payments {
		if p == f.payment {
			pay.SetSelected(i)
		}
	}
	k.hintKey(pay, "1 … "+strconv.Itoa(len(app.Payments)), T("Payment (while that list has the focus)"))
	assisted := widget.NewCheck(T("Assisted purchase (elderly rider or child)"), func(v bool) { f.assisted = v })
	assisted.SetChecked(f.assisted)
	form := widget.NewForm(
		widget.NewFormItem(T("Destination"), dest),
		widget.NewFormItem("", fareBox),
		widget.NewFormItem(T("Payment"), pay),
		widget.NewFormItem("", assisted),
	)
	// Labels above the fields: beside them, the fare buttons asked for
	// more than a 1024-pixel screen at the largest text.
	form.Orientation = widget.Vertical
	total := T("Choose a destination or a fare.")
	if fen := s.chosenFare(); fen > 0 {
		total = T("To pay:") + " " + money(fen, k.lang)
	}
	sell := k.newButton(T("Sell (Enter)"), s.sell)
	sell.Importance = widget.HighImportance
	k.bindKey(keyPrimary, sell, T("Sell the ticket"))
	if f.busy || s.chosenFare() == 0 {
		sell.Disable()
	}
	out := []fyne.CanvasObject{heading(T("Step 2: destination, payment")), form, bigText(total, 1.2), sell}
	if f.busy {
		out = append(out, note(T("Place a blank single-journey token on the card reader…"), widget.HighImportance))
	}
	// Focus: the destination list until a fare is chosen (Right/Left or
	// Space picks), then Sell (Enter).
	if s.chosenFare() == 0 {
		k.focus = dest
	} else {
		k.focus = sell
	}
	k.nameFocus(map[string]fyne.Focusable{"sale.destination": dest, "sale.sell": sell})
	return out
}

func (s *buyerScreen) chosenFare() int64 {
	if s.f.dest != "" {
		fen, _ := s.k.d.Sales.Fares().FareTo(s.f.dest)
		return fen
	}
	return s.f.fare
}

func money(fen int64, l app.Lang) string {
	if l == app.LangEN {
		return app.YuanEN(fen)
	}
	return app.Yuan(fen)
}

func langText(l app.Lang, zh, en string) string {
	if l == app.LangEN {
		return en
	}
	return zh
}

// tokenWait bounds the wait for a blank token on the card reader.
const tokenWait = 60 * time.Second

func (s *buyerScreen) sell() {
	f, k := s.f, s.k
	if f.busy {
		return // a double click: the first one is in flight
	}
	f.busy, f.errText = true, ""
	s.redraw()
	op, c := *k.op, f.check
	in := app.SaleInput{DestCode: f.dest, FareFen: f.fare, Payment: f.payment, Assisted: f.assisted}
	async(s.k.d.Background, func() (app.SaleResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), tokenWait)
		defer cancel()
		return k.d.Sales.Sell(ctx, op, c, in)
	}, func(r app.SaleResult, err error) { s.saleDone(c, r, err) })
}

func (s *buyerScreen) saleDone(c app.BuyerCheck, r app.SaleResult, err error) {
	f, k := s.f, s.k
	f.busy = false
	if f.check.Key() != c.Key() {
		return
	}
	if err != nil {
		f.errText = k.msg(err)
		if app.ErrorReason(err) == "one_ticket_per_read" || app.ErrorReason(err) == "check_expired" {
			s.newBuyer(false)
			f.errText = k.msg(err)
		}
		s.redraw()
		return
	}
	rec := r.Record
	f.receipt = &rec
	f.info = func() string {
		return T("Next buyer: place the ID card on the reader. The next ticket needs the ID again, also for the same person.")
	}
	s.newBuyer(true)
}

func (s *buyerScreen) openShift() {
	op := *s.k.op
	async(s.k.d.Background, func() (app.Shift, error) {
		return s.k.d.Shifts.Open(context.Background(), op)
	}, func(sh app.Shift, err error) {
		if err != nil {
			s.f.errText = s.k.msg(err)
		} else {
			s.shift = &sh
			s.f.errText = ""
		}
		s.redraw()
	})
}
