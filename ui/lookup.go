package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
)

// The card look-up screen reads a card (or takes a typed number) and shows
// its number very large, in groups of four to read aloud — the answer for
// a card whose printed number has worn off — with its kind, whether it is
// bound (the holder's document masked) and, for a card that cannot be
// upgraded, why and what to use instead. Every look-up is audited by the
// use case.

func init() {
	registerScreen(screenDef{id: "lookup", order: 11, title: "Card look-up",
		available: func(d Deps) bool { return d.Upgrades != nil },
		build:     (*Desk).buildLookup})
}

// lookupState survives a language switch: the last card looked up (the
// number is not personal data by itself; the holder appears masked).
type lookupState struct {
	text   string
	last   string // cardID of the card last read here (it may still lie on the reader)
	result *app.CardLookup
	err    error
	busy   bool
	seq    int
	// onReader is a card read while the clerk was typing a number: it is
	// offered ("Use the card on the reader"), never put over the typing.
	onReader app.Card
	screen   *lookupScreen
	// outlook is what the gates do with the card looked up.
	outlook outlookState
}

type lookupScreen struct {
	k        *Desk
	st       *lookupState
	root     *fyne.Container
	building bool
	dead     bool
	cancel   context.CancelFunc
	// offerRow holds offerBtn, "Use the card on the reader", shown when a
	// card was read while the clerk was typing.
	offerRow *fyne.Container
	offerBtn *deskButton
	// life ends when this instance stops (the gate outlook's asking).
	life    context.Context
	endLife context.CancelFunc
}

func (k *Desk) buildLookup() fyne.CanvasObject {
	st := keepState(k, "lookup", func() *lookupState { return &lookupState{} })
	if old := st.screen; old != nil {
		old.stop()
	}
	s := &lookupScreen{k: k, st: st, root: container.NewStack()}
	s.life, s.endLife = context.WithCancel(context.Background())
	st.screen = s
	s.building = true
	s.show()
	s.building = false
	k.onLeave(s.stop)
	return s.root
}

func (s *lookupScreen) stop() {
	s.dead = true
	if s.cancel != nil {
		s.cancel()
	}
	s.endLife()
}

func (st *lookupState) redraw() {
	if s := st.screen; s != nil && !s.dead {
		s.show()
	}
}

func (s *lookupScreen) show() {
	if s.dead {
		return
	}
	if s.cancel != nil {
		s.cancel()
	}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	k, st := s.k, s.st

	var status *widget.Label
	// The instruction heads the empty screen; with an answer on show its
	// room goes to the answer (the field and the reader line stay).
	var items []fyne.CanvasObject
	if st.result == nil && st.err == nil && !st.busy {
		items = append(items, heading(T("Place the card on the card reader, or type its number")))
	}
	if k.d.CardReader != nil {
		status = note(T("Waiting for the card reader… each card placed is looked up by itself."), widget.MediumImportance)
		items = append(items, status)
	}
	num := k.newEntry()
	num.SetPlaceHolder(T("As printed, e.g. 1000 2000 0012")) // the label says "Card number"
	setTyped(num, st.text)
	num.OnChanged = func(v string) { st.text = v }
	num.OnSubmitted = func(v string) { s.lookUp(app.Card{Number: v, Kind: app.CardUnknown}) }
	btn := k.newButton(T("Look up (Enter)"), func() { s.lookUp(app.Card{Number: num.Text, Kind: app.CardUnknown}) })
	k.bindKey(keyPrimary, btn, T("Look up the typed card number"))
	btn.Importance = widget.HighImportance
	if st.busy {
		btn.Disable()
	}
	use := k.newButton(T("Use the card on the reader"), func() {
		if c := st.onReader; c.Number != "" || c.Kind != "" {
			s.lookUp(c)
		}
	})
	s.offerRow = container.NewHBox(use)
	s.offerBtn = use
	if st.onReader.Number == "" && st.onReader.Kind == "" {
		s.offerRow.Hide()
	} else {
		use.SetText(T("Use the card on the reader ({{.Card}})", map[string]any{"Card": cardName(st.onReader)}))
	}
	items = append(items, container.NewBorder(nil, nil, widget.NewLabel(T("Card number")), btn, num), s.offerRow)
	// The field stays on show above the answer, which scrolls on its own:
	// the next number is typed where the clerk sees it.
	answer := container.NewVScroll(container.NewVBox(s.resultView()...))
	s.root.Objects = []fyne.CanvasObject{container.NewBorder(container.NewVBox(items...), nil, nil, nil, answer)}
	s.root.Refresh()
	if s.building {
		k.focus = num
	} else {
		k.w.Canvas().Focus(num)
	}
	if k.d.CardReader != nil && !st.busy {
		s.waitCard(ctx, status, k.readerStatus(status, T("Card reader:"), T("Type the number instead, or place the card again.")))
	}
	if o := &st.outlook; st.result != nil && o.card != "" && o.got == nil && o.err == nil && !o.busy {
		k.refreshOutlook(s.life, o, st.redraw)
	}
}

// waitCard looks up each card placed on the reader. The card just looked
// up still lies on the reader: it is passed over until it is lifted (or
// placed again), or it would be looked up again and again. A card read
// while the clerk is typing a number does not replace the typing: it is
// offered beside it, and the reader is watched on.
func (s *lookupScreen) waitCard(ctx context.Context, status *widget.Label, onErr func(error)) {
	k, st := s.k, s.st
	seq, last := st.seq, st.last
	skip := func(c app.Card, lying bool) bool { return lying && last != "" && cardID(c) == last }
	waitReaderSkip(k.d.Background, ctx, k.d.CardReader.ReadCard, skip, nil, func(c app.Card) {
		if st.seq != seq || s.dead {
			return
		}
		st.last = cardID(c)
		k.setLastCard(st.last)
		if strings.TrimSpace(st.text) == "" {
			s.lookUp(c)
			return
		}
		st.onReader = c
		s.offerBtn.SetText(T("Use the card on the reader ({{.Card}})", map[string]any{"Card": cardName(c)}))
		s.offerRow.Show()
		s.waitCard(ctx, status, onErr)
		if status != nil {
			status.Importance = widget.MediumImportance
			status.SetText(T("A card is on the reader. The number you are typing stays; choose which to look up."))
		}
	}, onErr)
}

// resultView is the look-up's answer and, for a card number, what the
// gates do with the card now.
// resultView is the answer: the card (number, kind, binding), what the
// gates do with it now right below, then what the desk can do about it.
// The gates' answer comes before the upgrade advice so it is on screen
// with the number even at the largest text on a 768-pixel screen.
func (s *lookupScreen) resultView() []fyne.CanvasObject {
	card, advice := s.resultLines()
	st := s.st
	if st.result != nil && st.result.Number != "" && st.outlook.card != "" {
		card = append(card, s.k.outlookView(s.life, &st.outlook, st.redraw))
	}
	return append(card, advice...)
}

// resultLines returns the answer's card lines and its advice lines.
func (s *lookupScreen) resultLines() (card, advice []fyne.CanvasObject) {
	k, st := s.k, s.st
	if st.busy {
		return []fyne.CanvasObject{note(T("Looking up…"), widget.MediumImportance)}, nil
	}
	if st.result == nil {
		if st.err != nil {
			b := NewBanner()
			b.Set(ToneError, T("Not a card number"), k.msg(st.err))
			return []fyne.CanvasObject{b}, nil
		}
		return nil, nil
	}
	r := st.result
	out := []fyne.CanvasObject{widget.NewSeparator()}
	if r.Number != "" {
		out = append(out, bigText(r.Grouped, 1.3*numberSize(r.Number))) // the field above says "Card number"
	} else {
		out = append(out, note(T("This card carries no transit card number."), widget.MediumImportance))
	}
	out = append(out, heading(kindLabel(r.Kind)+"  ·  "+formLabel(r.Form)))
	switch {
	case r.Number == "":
	case !r.Known && r.Reason == string(app.CentralNotFound):
		out = append(out, note(T("Central has no record of this card number: check the number."), widget.WarningImportance))
	case !r.Known:
		out = append(out, note(T("Central could not be asked, so whether the card is bound is not known now."), widget.WarningImportance))
	case r.Auto:
		out = append(out, heading(T("Upgraded automatically by the backend (special card).")))
	case r.Bound:
		out = append(out, heading(T("Bound (upgraded) to {{.Doc}}", map[string]any{"Doc": r.HolderDocMasked})))
	default:
		out = append(out, heading(T("Not bound (not upgraded)")))
	}
	ex := r.Explanation
	b := NewBanner()
	switch {
	case r.Auto || r.Kind.Special():
		b.Set(ToneInfo, headAuto.in(k.lang), explainLines(ex, k.lang)...)
	case !r.Upgradeable || !ex.Upgradeable:
		if ex.Upgradeable {
			ex = app.ExplainReason(string(app.CentralNotUpgradeable))
		}
		b.Set(ToneError, headNoUpgrade.in(k.lang), explainLines(ex, k.lang)...)
	case r.Bound:
		return out, nil // bound: "can be upgraded" would only confuse
	default:
		line := ex.ZH
		if k.lang == app.LangEN {
			line = ex.EN
		}
		if strings.TrimSpace(line) != "" {
			advice = append(advice, note(line, widget.MediumImportance))
		}
		return out, advice
	}
	return out, append(advice, b)
}

// lookUp asks the use case about c (read or typed).
func (s *lookupScreen) lookUp(c app.Card) {
	k, st := s.k, s.st
	if st.busy || k.op == nil {
		return
	}
	if strings.TrimSpace(c.Number) == "" {
		if c.Kind == "" || c.Kind == app.CardUnknown {
			return
		}
		// Read from the reader without a transit number (a UnionPay card,
		// a wearable): the kind says all the desk can say.
		ex := app.Explain(c)
		st.onReader = app.Card{}
		st.result, st.err = &app.CardLookup{Kind: c.Kind, Form: c.Form, Upgradeable: ex.Upgradeable, Explanation: ex}, nil
		st.seq++
		st.redraw()
		return
	}
	st.busy, st.err, st.onReader = true, nil, app.Card{}
	st.seq++
	seq := st.seq
	op := *k.op
	st.redraw()
	async(s.k.d.Background, func() (app.CardLookup, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return k.d.Upgrades.LookUpCard(ctx, op, c)
	}, func(l app.CardLookup, err error) {
		if st.seq != seq {
			return
		}
		st.busy = false
		st.result, st.err = nil, err
		st.outlook.halt()
		st.outlook = outlookState{}
		if l.Number != "" {
			st.result = &l
			st.text = ""
			st.outlook.card = l.Number
		}
		st.seq++
		st.redraw()
	})
}
