package ui

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"stationdesk/app"
	"stationdesk/app/demo"
)

// Fakes at the app interface seams (app.Central, app.UpgradeOutbox,
// app.AuditLog, app.IDReader, app.CardReader, app.Authenticator): the
// screens drive a real *app.Upgrades. The central rules are the
// simulator's (offline/sim/centralsim, tested over HTTP there); this fake keeps
// just enough of them — one ordinary card per form, five proxy uses,
// refusals by kind, idempotency keys — for the screens' paths.

type fakeCentral struct {
	mu        sync.Mutex
	offline   bool
	cards     map[string]app.Card
	holder    map[string]string       // card number → person key
	masked    map[string]string       // person key → masked document
	auto      map[string]bool         // special cards, bound by central itself
	phone     map[string]string       // person key → masked phone
	proxyUsed map[string]int          // helper key → uses
	answers   map[string]fakeAnswer   // idempotency key → stored answer
	bindCalls int                     // Bind calls that reached central
	bindKeys  []string                // their keys
	bound     map[string]app.CardForm // card number → form as bound
	via       map[string]bool         // bound by proxy
	boundAt   map[string]time.Time    // card → time
	unbinds   int                     // Unbind calls that reached central
	codes     map[string]string       // person key → code sent
	sentKeys  map[string]app.ProxyCodeSent
}

type fakeAnswer struct {
	bind   app.BindResult
	unbind app.UnbindResult
	err    error
}

const fakeCode = "246135"

func personKey(d app.DocNumber) string {
	return string(d.Type()) + ":" + d.Nationality() + ":" + d.Reveal()
}

func newFakeCentral() *fakeCentral {
	c := &fakeCentral{cards: map[string]app.Card{}, holder: map[string]string{}, masked: map[string]string{},
		auto: map[string]bool{}, phone: map[string]string{}, proxyUsed: map[string]int{}, answers: map[string]fakeAnswer{},
		bound: map[string]app.CardForm{}, via: map[string]bool{}, boundAt: map[string]time.Time{}, codes: map[string]string{},
		sentKeys: map[string]app.ProxyCodeSent{}}
	for _, card := range demo.Cards() {
		c.cards[card.Number] = card
	}
	for _, r := range demo.Riders() {
		pk := personKey(r.Identity.Doc)
		c.masked[pk] = r.Identity.Doc.Masked()
		c.phone[pk] = r.Phone
		c.proxyUsed[pk] = r.ProxyUsed
		for _, card := range r.Cards {
			if card.Kind.Special() {
				c.holder[card.Number], c.auto[card.Number], c.bound[card.Number] = pk, true, card.Form
			}
		}
		for _, n := range r.Bound {
			c.holder[n], c.bound[n] = pk, c.cards[n].Form
			// Seeded bindings: physical cards bound in March, phone cards
			// in June (the look-up shows the date).
			c.boundAt[n] = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
			if c.cards[n].Form == app.FormNFC {
				c.boundAt[n] = time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
			}
		}
	}
	return c
}

func errOffline() error {
	return app.NewError(app.CodeUnavailable, string(app.CentralOffline), "中心系统无法连接。", "Central cannot be reached.")
}

func refuse(code app.Code, reason app.CentralCode) error {
	return app.NewError(code, string(reason), "中心系统拒绝："+string(reason), "Central refused: "+string(reason))
}

func (c *fakeCentral) setOffline(v bool) { c.mu.Lock(); c.offline = v; c.mu.Unlock() }

func (c *fakeCentral) CardStatus(_ context.Context, n string) (app.CardStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return app.CardStatus{}, errOffline()
	}
	card, ok := c.cards[n]
	if !ok {
		return app.CardStatus{}, refuse(app.CodeNotFound, app.CentralNotFound)
	}
	st := app.CardStatus{Card: card, Upgradeable: card.Kind.Upgradeable(), Auto: card.Kind.Special()}
	if pk, ok := c.holder[n]; ok {
		st.Bound, st.HolderDocMasked = true, c.masked[pk]
	}
	return st, nil
}

func (c *fakeCentral) Bind(_ context.Context, key string, req app.BindRequest) (app.BindResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return app.BindResult{}, errOffline()
	}
	c.bindCalls++
	c.bindKeys = append(c.bindKeys, key)
	if a, ok := c.answers[key]; ok {
		return a.bind, a.err
	}
	r, err := c.bind(req)
	c.answers[key] = fakeAnswer{bind: r, err: err}
	return r, err
}

func (c *fakeCentral) bind(req app.BindRequest) (app.BindResult, error) {
	card, ok := c.cards[req.CardNumber]
	if !ok {
		card = app.Card{Number: req.CardNumber, Kind: app.CardOrdinary, Form: req.Form}
	}
	if card.Kind.Special() {
		return app.BindResult{}, refuse(app.CodeConflict, app.CentralSpecialCardAuto)
	}
	if !card.Kind.Upgradeable() {
		return app.BindResult{}, refuse(app.CodeConflict, app.CentralNotUpgradeable)
	}
	pk := personKey(req.Holder)
	c.masked[pk] = req.Holder.Masked()
	if h, ok := c.holder[req.CardNumber]; ok {
		if h != pk {
			return app.BindResult{}, refuse(app.CodeConflict, app.CentralBoundToOther)
		}
		return app.BindResult{Already: true, Binding: app.Binding{CardMasked: app.MaskCardNumber(req.CardNumber), Kind: card.Kind, Form: c.bound[req.CardNumber]}}, nil
	}
	for n, h := range c.holder {
		if h == pk && !c.auto[n] && c.bound[n] == req.Form {
			return app.BindResult{}, refuse(app.CodeConflict, app.CentralLimitReached)
		}
	}
	res := app.BindResult{HolderDocMasked: req.Holder.Masked()}
	if req.Proxy() {
		hk := personKey(req.Helper)
		if c.codes[pk] == "" || req.Code != c.codes[pk] {
			return app.BindResult{}, refuse(app.CodeInvalid, app.CentralCodeMismatch)
		}
		if c.proxyUsed[hk] >= 5 {
			return app.BindResult{}, refuse(app.CodeConflict, app.CentralProxyLimitReached)
		}
		c.proxyUsed[hk]++
		res.ProxyUsed, res.ProxyLimit = c.proxyUsed[hk], 5
	}
	c.holder[req.CardNumber], c.bound[req.CardNumber], c.via[req.CardNumber] = pk, req.Form, req.Proxy()
	res.Binding = app.Binding{CardMasked: app.MaskCardNumber(req.CardNumber), Kind: card.Kind, Form: req.Form, ViaProxy: req.Proxy()}
	return res, nil
}

func (c *fakeCentral) Unbind(_ context.Context, key string, req app.UnbindRequest) (app.UnbindResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return app.UnbindResult{}, errOffline()
	}
	c.unbinds++
	if a, ok := c.answers[key]; ok {
		return a.unbind, a.err
	}
	var (
		r   app.UnbindResult
		err error
	)
	switch h, ok := c.holder[req.CardNumber]; {
	case !ok:
		err = refuse(app.CodeNotFound, app.CentralNotFound)
	case h != personKey(req.Holder):
		err = refuse(app.CodeConflict, app.CentralBoundToOther)
	case c.auto[req.CardNumber]:
		err = refuse(app.CodeConflict, app.CentralSpecialCardAuto)
	default:
		delete(c.holder, req.CardNumber)
		delete(c.bound, req.CardNumber)
		r = app.UnbindResult{CardMasked: app.MaskCardNumber(req.CardNumber)}
	}
	c.answers[key] = fakeAnswer{unbind: r, err: err}
	return r, err
}

func (c *fakeCentral) SendProxyCode(_ context.Context, key string, holder app.DocNumber) (app.ProxyCodeSent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return app.ProxyCodeSent{}, errOffline()
	}
	pk := personKey(holder)
	if c.phone[pk] == "" {
		return app.ProxyCodeSent{}, refuse(app.CodeConflict, app.CentralCodeUnavailable)
	}
	c.codes[pk] = fakeCode
	s := app.ProxyCodeSent{PhoneMasked: c.phone[pk]}
	c.sentKeys[key] = s
	return s, nil
}

func (c *fakeCentral) VerifyProxyCode(_ context.Context, holder app.DocNumber, code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return errOffline()
	}
	if c.codes[personKey(holder)] != code {
		return refuse(app.CodeInvalid, app.CentralCodeMismatch)
	}
	return nil
}

func (c *fakeCentral) PersonBindings(_ context.Context, d app.DocNumber) (app.PersonBindings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline {
		return app.PersonBindings{}, errOffline()
	}
	pk := personKey(d)
	pb := app.PersonBindings{ProxyUsed: c.proxyUsed[pk], ProxyLimit: 5}
	for n, h := range c.holder {
		if h == pk {
			card := c.cards[n]
			pb.Bindings = append(pb.Bindings, app.Binding{CardMasked: app.MaskCardNumber(n), Kind: card.Kind, Form: c.bound[n], Auto: c.auto[n], ViaProxy: c.via[n], BoundAt: c.boundAt[n]})
		}
	}
	return pb, nil
}

// boundTo reports the person key card n is bound to ("" if none).
func (c *fakeCentral) boundTo(n string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holder[n]
}

func (c *fakeCentral) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bindCalls
}

// fakeOutbox keeps pending items in memory.
type fakeOutbox struct {
	mu     sync.Mutex
	items  []app.PendingUpgrade
	state  map[string]app.PendingState
	reason map[string]string
}

func (o *fakeOutbox) SavePending(_ context.Context, p app.PendingUpgrade) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == nil {
		o.state = map[string]app.PendingState{}
	}
	if _, ok := o.state[p.Key]; ok {
		return nil
	}
	o.items = append(o.items, p)
	o.state[p.Key] = app.PendingWaiting
	return nil
}

func (o *fakeOutbox) DuePending(context.Context, time.Time, int) ([]app.PendingUpgrade, error) {
	return nil, nil
}

func (o *fakeOutbox) SettlePending(_ context.Context, key string, st app.PendingState, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reason == nil {
		o.reason = map[string]string{}
	}
	o.state[key], o.reason[key] = st, reason
	return nil
}

func (o *fakeOutbox) RetryPending(context.Context, string, string, time.Time) error { return nil }

func (o *fakeOutbox) ListPending(_ context.Context, limit int) ([]app.PendingView, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []app.PendingView
	for i := len(o.items) - 1; i >= 0 && len(out) < limit; i-- {
		p := o.items[i]
		out = append(out, app.PendingView{Key: p.Key, Kind: p.Kind, Subject: p.Subject, State: o.state[p.Key], Reason: o.reason[p.Key], Attempts: p.Attempts, Created: p.Created})
	}
	return out, nil
}

func (o *fakeOutbox) keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var k []string
	for _, p := range o.items {
		k = append(k, p.Key)
	}
	return k
}

// fakeAudit validates and keeps entries (ValidateAuditEntry rejects
// anything shaped like a resident ID number).
type fakeAudit struct {
	mu      sync.Mutex
	entries []app.AuditEntry
}

func (a *fakeAudit) Append(_ context.Context, e app.AuditEntry) error {
	if err := app.ValidateAuditEntry(e); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

// fakeReader hands out queued items; with nothing queued it answers like a
// reader whose wait ran out. (Tests run background work inline, so a wait
// cannot block: placing a card is push + a redraw that starts a new wait,
// as the retry loop does in the running program.)
type fakeReader[T any] struct {
	mu    sync.Mutex
	queue []T
	reads int
}

func (r *fakeReader[T]) push(v ...T) { r.mu.Lock(); r.queue = append(r.queue, v...); r.mu.Unlock() }

func (r *fakeReader[T]) next(ctx context.Context) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if len(r.queue) == 0 {
		return zero, app.NewError(app.CodeUnavailable, "timeout", "未放卡。", "No card was placed.")
	}
	v := r.queue[0]
	r.queue = r.queue[1:]
	return v, nil
}

type fakeIDReader struct{ fakeReader[app.Identity] }

func (r *fakeIDReader) ReadID(ctx context.Context) (app.Identity, error) { return r.next(ctx) }

type fakeCardReader struct{ fakeReader[app.Card] }

func (r *fakeCardReader) ReadCard(ctx context.Context) (app.Card, error) { return r.next(ctx) }
func (r *fakeCardReader) IssueSingleJourney(context.Context, app.TicketSpec) (string, error) {
	return "", app.NewError(app.CodeInvalid, "not_blank", "不是空白票。", "Not a blank ticket.")
}

type assistantAuth struct{}

func (assistantAuth) Login(_ context.Context, id, pin string) (app.Operator, error) {
	if id == "2001" && pin == "200101" {
		return app.Operator{ID: "2001", DisplayName: "Demo Assistant", Role: app.RoleAssistant}, nil
	}
	return app.Operator{}, app.NewError(app.CodeUnauthorized, "bad_pin", "工号或密码错误。", "Wrong operator number or PIN.")
}

// upHarness is the desk harness with the upgrade use cases wired to fakes.
type upHarness struct {
	*harness
	central *fakeCentral
	outbox  *fakeOutbox
	audit   *fakeAudit
	ids     *fakeIDReader
	cards   *fakeCardReader
}

func newUpHarness(t *testing.T, lang app.Lang, mods ...func(*Deps)) *upHarness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1280, 900))
	clock := app.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.Local))
	board := app.NewStatusBoard(clock)
	u := &upHarness{central: newFakeCentral(), outbox: &fakeOutbox{}, audit: &fakeAudit{}, ids: &fakeIDReader{}, cards: &fakeCardReader{}}
	tok, err := app.NewTokenizer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ups, err := app.NewUpgrades(app.UpgradesConfig{Central: u.central, Outbox: u.outbox, Audit: u.audit, Tokens: tok, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Auth: assistantAuth{}, Board: board, Clock: clock, Lang: lang, Scale: ScaleNormal,
		Upgrades: ups, IDReader: u.ids, CardReader: u.cards, Background: inline}
	for _, m := range mods {
		m(&deps)
	}
	d := NewDesk(a, w, deps)
	d.Start()
	t.Cleanup(d.Stop)
	u.harness = &harness{t: t, desk: d, win: w, clock: clock, board: board}
	u.login("2001", "200101")
	u.eventually("login", func() bool { return d.Operator() != nil })
	return u
}

// flow returns the upgrade flow on show.
func (h *upHarness) flow() *upgradeFlow {
	h.t.Helper()
	f, _ := h.desk.states["upgrade"].(*upgradeFlow)
	if f == nil {
		h.t.Fatal("no upgrade flow")
	}
	return f
}

// placeID puts a document on the ID reader; the waiting step picks it up.
func (h *upHarness) placeID(id app.Identity) {
	h.ids.push(id)
	h.flow().redraw()
}

// placeCard puts a card on the card reader; the waiting step picks it up.
func (h *upHarness) placeCard(c app.Card) {
	h.cards.push(c)
	h.flow().redraw()
}

func rider(t *testing.T, key string) demo.Rider {
	t.Helper()
	r, ok := demo.RiderByKey(key)
	if !ok {
		t.Fatalf("no demo rider %q", key)
	}
	return r
}

func demoCard(t *testing.T, number string) app.Card {
	t.Helper()
	for _, c := range demo.Cards() {
		if c.Number == number {
			return c
		}
	}
	t.Fatalf("no demo card %s", number)
	return app.Card{}
}

// screenText returns every visible text on the window: labels, buttons,
// rich text, banners, canvas text and what is typed in entries.
func (h *upHarness) screenText() string {
	var b strings.Builder
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
			return
		case *canvas.Text:
			b.WriteString(x.Text + "\n")
			return
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
			return
		case *Banner:
			b.WriteString(x.Text() + "\n")
			return
		case *Entry:
			b.WriteString(x.Text + "\n")
			return
		case *deskButton:
			b.WriteString(x.Text + "\n")
			return
		case *widget.Button:
			b.WriteString(x.Text + "\n")
			return
		}
		if c, ok := o.(*fyne.Container); ok {
			for _, ch := range c.Objects {
				walk(ch)
			}
		}
		if w, ok := o.(fyne.Widget); ok {
			for _, ch := range test.WidgetRenderer(w).Objects() {
				walk(ch)
			}
		}
	}
	walk(h.win.Content())
	return b.String()
}

// findButton finds a visible button by its text, or nil.
func (h *upHarness) findButton(text string) *deskButton {
	return findWidget(h.win.Content(), func(b *deskButton) bool { return b.Text == text })
}

func (h *upHarness) button(text string) *deskButton {
	h.t.Helper()
	b := h.findButton(text)
	if b == nil {
		h.t.Fatalf("no button %q on screen:\n%s", text, h.screenText())
	}
	return b
}

func (h *upHarness) tap(text string) { test.Tap(h.button(text)) }

// key sends a key to the focused widget, as the keyboard would.
func (h *upHarness) key(name fyne.KeyName) {
	h.t.Helper()
	ev := &fyne.KeyEvent{Name: name}
	if f := h.win.Canvas().Focused(); f != nil {
		f.TypedKey(ev)
		return
	}
	h.win.Canvas().OnTypedKey()(ev) // nothing focused: the canvas gets it
}

// typeFocused types into the focused widget.
func (h *upHarness) typeFocused(s string) {
	h.t.Helper()
	f := h.win.Canvas().Focused()
	if f == nil {
		h.t.Fatalf("nothing focused to type %q", s)
	}
	for _, r := range s {
		f.TypedRune(r)
	}
}

// bannerWith finds the visible banner whose text contains s.
func (h *upHarness) bannerWith(s string) *Banner {
	h.t.Helper()
	b := findWidget(h.win.Content(), func(b *Banner) bool { return strings.Contains(b.Text(), s) })
	if b == nil {
		h.t.Fatalf("no banner with %q on screen:\n%s", s, h.screenText())
	}
	return b
}

func (h *upHarness) banner() *Banner {
	h.t.Helper()
	b := findWidget(h.win.Content(), func(*Banner) bool { return true })
	if b == nil {
		h.t.Fatalf("no banner on screen:\n%s", h.screenText())
	}
	return b
}

func (h *upHarness) wantText(what string, want ...string) {
	h.t.Helper()
	got := h.screenText()
	for _, w := range want {
		if !strings.Contains(got, w) {
			h.t.Fatalf("%s: screen lacks %q:\n%s", what, w, got)
		}
	}
}

func (h *upHarness) wantStep(st upStep) {
	h.t.Helper()
	if got := h.flow().step; got != st {
		h.t.Fatalf("step %d, want %d:\n%s", got, st, h.screenText())
	}
}
