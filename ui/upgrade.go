package ui

import (
	"context"

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
	// refused is the typed text last refused (the clerk pressed Enter on
	// it): a card read may replace that, never text still being typed.
	refused string
	// onReader is the fitting card on the reader, offered while the
	// clerk types.
	onReader app.Card
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
	// rejected is the cardID the clerk turned down with "Another card":
	// while it lies on the reader it is not taken again.
	rejected string
	cardText string
	look     *app.CardLookup
	lookErr  error
	looking  bool

	// Keys are made when the flow opens, so a double click, a retry and a
	// pending item all carry the same key (docs/contracts.md "Idempotency"). unbindKey and
	// rebindKey serve the "unbind the old card and bind this one" offer.
	key, unbindKey, rebindKey string
	inflight                  bool
	result                    *app.UpgradeResult
	resErr                    error

	unbind      *unbindState
	unbindDone  *app.UpgradeResult
	unbindError error

	// outlook is what the gates do with the card once it is bound.
	outlook outlookState

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
	unbindUI *unbindUI     // the unbind form's in-place widgets
	confirm  *deskButton
	// life ends when this instance stops (the gate outlook's asking again).
	life    context.Context
	endLife context.CancelFunc
}

func (k *Desk) buildUpgrade() fyne.CanvasObject {
	f := keepState(k, "upgrade", newUpgradeFlow)
	if old := f.screen; old != nil {
		old.stop()
	}
	s := &upgradeScreen{k: k, f: f, root: container.NewStack()}
	s.life, s.endLife = context.WithCancel(context.Background())
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
	if s.endLife != nil {
		s.endLife()
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
	s.later, s.focusOn, s.status, s.confirm, s.toBottom, s.unbindUI = nil, nil, nil, nil, false, nil
	view := s.view()
	sc := container.NewVScroll(view)
	s.root.Objects = []fyne.CanvasObject{sc}
	if b := s.unbindResult(); b != nil {
		// The unbind's result is pinned above the page (the bound cards
		// come below a long document step), so it is on show however
		// large the text.
		s.root.Objects = []fyne.CanvasObject{container.NewBorder(b, nil, nil, nil, sc)}
	}
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

// unbindResult is the banner of the last unbind on the holder's document
// step, or nil.
func (s *upgradeScreen) unbindResult() fyne.CanvasObject {
	f := s.f
	if f.step != stepHolder || (f.unbindDone == nil && f.unbindError == nil) {
		return nil
	}
	b := NewBanner()
	r := app.UpgradeResult{}
	if f.unbindDone != nil {
		r = *f.unbindDone
	}
	s.k.outcomeBanner(b, r, f.unbindError)
	return b
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
	again := s.k.newButton(T("New rider"), s.newRider)
	s.k.bindKey(keyNext, again, T("New rider"))
	items = append(items, widget.NewSeparator(), container.NewHBox(again))
	return container.NewVBox(items...)
}

// newRider forgets this rider and starts again at the first step.
func (s *upgradeScreen) newRider() {
	old := s.f
	old.screen = nil
	old.outlook.halt()
	*old = upgradeFlow{} // drop the rider's data even if a late answer still holds the flow
	f := newUpgradeFlow()
	s.k.states["upgrade"] = f
	f.screen = s
	s.f = f
	s.show()
}
