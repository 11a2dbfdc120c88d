package app

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Component names a part of the terminal whose health the status bar shows.
type Component string

// The components shown in the status bar, in display order.
const (
	CompIDReader    Component = "idreader"
	CompCardReader  Component = "cardreader"
	CompScanner     Component = "scanner"
	CompCentral     Component = "central"
	CompGateCache   Component = "gatecache"
	CompGateService Component = "gateservice"
)

// Components lists every component in display order.
var Components = []Component{CompIDReader, CompCardReader, CompScanner, CompCentral, CompGateCache, CompGateService}

// State is the coarse state of a component.
type State string

// States a component can be in. NotConfigured is the honest answer for a part
// that this installation (or this build) does not have.
const (
	StateNotConfigured State = "not_configured"
	StateConnecting    State = "connecting"
	StateReady         State = "ready"
	StateBusy          State = "busy" // e.g. a card lies on the reader
	StateDegraded      State = "degraded"
	StateOffline       State = "offline"
	StateError         State = "error"
)

// Status is one component's state. Detail is a short, user-safe text (never
// personal data): a value shown as it is, such as "/dev/ttyUSB0" or
// "127.0.0.1:8443", or an English phrase the interface translates, such as
// "card present" or "version {{.Version}}, {{.Age}} old", whose fields Args
// fills (a time.Duration is shown as an age in the clerk's language). Err,
// when set, is the classified cause of the state: screens show its user
// message (UserMessage) in the clerk's language, never its raw text.
type Status struct {
	Component Component
	State     State
	Detail    string
	Args      map[string]any
	Err       error
	Since     time.Time
}

// StatusBoard holds the latest Status of every component and tells
// subscribers about changes. It is safe for concurrent use; subscribers are
// called on the goroutine that called Set and must not block (the UI hands
// the value to fyne.Do).
type StatusBoard struct {
	mu    sync.Mutex
	clock Clock
	cur   map[Component]Status
	subs  []func(Status)
}

// NewStatusBoard returns a board with every component NotConfigured.
func NewStatusBoard(clock Clock) *StatusBoard {
	b := &StatusBoard{clock: clock, cur: make(map[Component]Status)}
	now := clock.Now()
	for _, c := range Components {
		b.cur[c] = Status{Component: c, State: StateNotConfigured, Since: now}
	}
	return b
}

// Set records a component's state with a plain detail; see Put.
func (b *StatusBoard) Set(c Component, s State, detail string) {
	b.Put(Status{Component: c, State: s, Detail: detail})
}

// Put records st (its Since is set here). Since is kept when nothing shown
// changed (state, detail, its fields, the error's message), so "ready since
// 08:00" stays meaningful; subscribers are only called on a change. Args
// values must be comparable (numbers, strings, durations).
func (b *StatusBoard) Put(st Status) {
	b.mu.Lock()
	old, ok := b.cur[st.Component]
	if ok && sameStatus(old, st) {
		b.mu.Unlock()
		return
	}
	st.Since = b.clock.Now()
	b.cur[st.Component] = st
	subs := slices.Clone(b.subs)
	b.mu.Unlock()
	for _, f := range subs {
		f(st)
	}
}

// sameStatus reports whether a and b show the same thing.
func sameStatus(a, b Status) bool {
	return a.State == b.State && a.Detail == b.Detail && maps.Equal(a.Args, b.Args) &&
		ErrorReason(a.Err) == ErrorReason(b.Err) && UserMessage(a.Err, LangEN) == UserMessage(b.Err, LangEN)
}

// Get returns a component's current status.
func (b *StatusBoard) Get(c Component) Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur[c]
}

// Snapshot returns every known component's status in display order, then
// any others sorted by name.
func (b *StatusBoard) Snapshot() []Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Status, 0, len(b.cur))
	for _, c := range Components {
		out = append(out, b.cur[c])
	}
	return out
}

// Subscribe registers f for every later change.
func (b *StatusBoard) Subscribe(f func(Status)) {
	b.mu.Lock()
	b.subs = append(b.subs, f)
	b.mu.Unlock()
}
