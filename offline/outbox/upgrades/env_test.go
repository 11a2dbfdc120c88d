package upgrades_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/central"
	"stationdesk/offline/outbox/upgrades"
	"stationdesk/offline/sim/centralsim"
)

// cnid completes a 17-digit prefix with its GB 11643 check character.
func cnid(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	s := 0
	for i := 0; i < 17; i++ {
		s += int(first17[i]-'0') * w[i]
	}
	return first17 + string("10X98765432"[s%11])
}

// Test riders. Their full numbers and names are what the PII scan looks for.
var (
	docAlice   = "11010519491231002X"
	docBob     = cnid("44052419800101001")
	docGrandma = cnid("11010219400101002")
	docHelper  = cnid("11010819800202003")
	docVisitor = "GBR:123456789"
	docStrange = cnid("11010519850505004") // a person central has never seen

	nameAlice   = "王秀英"
	nameBob     = "李建国"
	nameGrandma = "张桂兰"

	cardAliceP1     = "1000000000000001"
	cardAliceP2     = "1000000000000002"
	cardAliceN1     = "2000000000000001"
	cardAliceUP     = "6200000000000001"
	cardBobP1       = "1000000000000011"
	cardGrandmaSpec = "3000000000000001"
	cardGrandmaP1   = "1000000000000021"
	cardVisitorU    = "4000000000000001"
)

func mustDoc(t testing.TB, typ app.DocType, raw string) app.DocNumber {
	t.Helper()
	d, err := app.ParseDoc(typ, raw)
	if err != nil {
		t.Fatalf("test document %s: %v", typ, err)
	}
	return d
}

func testRiders(t testing.TB) []centralsim.Rider {
	now := time.Now()
	return []centralsim.Rider{
		{Key: "alice", Doc: mustDoc(t, app.DocCNID, docAlice), Name: app.NewName(nameAlice), Phone: "13800000001",
			Health: app.HealthStatus{Color: app.ColorGreen, LastNegative: now.Add(-5 * time.Hour)},
			Cards: []centralsim.RiderCard{
				{Card: app.Card{Number: cardAliceP1, Kind: app.CardOrdinary, Form: app.FormPhysical}},
				{Card: app.Card{Number: cardAliceP2, Kind: app.CardOrdinary, Form: app.FormPhysical}},
				{Card: app.Card{Number: cardAliceN1, Kind: app.CardOrdinary, Form: app.FormNFC}},
				{Card: app.Card{Number: cardAliceUP, Kind: app.CardUnionPay, Form: app.FormPhysical}},
			}},
		{Key: "bob", Doc: mustDoc(t, app.DocCNID, docBob), Name: app.NewName(nameBob), Phone: "13800000002",
			Health: app.HealthStatus{Color: app.ColorYellow},
			Cards:  []centralsim.RiderCard{{Card: app.Card{Number: cardBobP1, Kind: app.CardOrdinary, Form: app.FormPhysical}, Bound: true}}},
		{Key: "grandma", Doc: mustDoc(t, app.DocCNID, docGrandma), Name: app.NewName(nameGrandma), Phone: "13800000003",
			Health: app.HealthStatus{Color: app.ColorGreen, LastNegative: now.Add(-72 * time.Hour)}, Welfare: "elderly",
			Cards: []centralsim.RiderCard{
				{Card: app.Card{Number: cardGrandmaSpec, Kind: app.CardSpecialElder, Form: app.FormPhysical}},
				{Card: app.Card{Number: cardGrandmaP1, Kind: app.CardOrdinary, Form: app.FormPhysical}},
			}},
		{Key: "helper", Doc: mustDoc(t, app.DocCNID, docHelper), Phone: "13800000004", Health: app.HealthStatus{Color: app.ColorGreen}},
		{Key: "visitor", Doc: mustDoc(t, app.DocPassport, docVisitor), Health: app.HealthStatus{Color: app.ColorNone},
			Cards: []centralsim.RiderCard{{Card: app.Card{Number: cardVisitorU, Kind: app.CardUnion, Form: app.FormPhysical, City: "上海"}}}},
	}
}

// secrets are strings that must never appear in a log line, an answer body
// or an audit entry.
func secrets() []string {
	bare := strings.TrimPrefix(docVisitor, "GBR:")
	return []string{docAlice, docBob, docGrandma, docHelper, bare, docStrange, nameAlice, nameBob, nameGrandma}
}

// memAudit is a fake app.AuditLog (an app interface seam) that also
// validates every entry like the real ledger does.
type memAudit struct {
	mu      sync.Mutex
	entries []app.AuditEntry
	fail    bool
}

func (m *memAudit) Append(_ context.Context, e app.AuditEntry) error {
	if err := app.ValidateAuditEntry(e); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return app.NewError(app.CodeUnavailable, "disk_full", "磁盘已满。", "Disk full.")
	}
	m.entries = append(m.entries, e)
	return nil
}

func (m *memAudit) list() []app.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]app.AuditEntry(nil), m.entries...)
}

func (m *memAudit) count(act app.AuditAction, out app.AuditOutcome) int {
	n := 0
	for _, e := range m.list() {
		if e.Action == act && e.Outcome == out {
			n++
		}
	}
	return n
}

// gcmSealer is a test Sealer (AES-256-GCM, AAD table|column|row).
type gcmSealer struct{ aead cipher.AEAD }

// macKeyFor is the tests' pending MAC key, kept apart from the sealing key
// as the station's keys are.
func macKeyFor(sealKey []byte) []byte {
	m := sha256.Sum256(append([]byte("pending-mac\x00"), sealKey...))
	return m[:]
}

func newSealer(t testing.TB, key []byte) *gcmSealer {
	b, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(b)
	return &gcmSealer{a}
}

func (s *gcmSealer) Seal(pt []byte, table, column, row string) ([]byte, error) {
	n := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(n); err != nil {
		return nil, err
	}
	return s.aead.Seal(n, n, pt, []byte(table+"|"+column+"|"+row)), nil
}

func (s *gcmSealer) Open(ct []byte, table, column, row string) ([]byte, error) {
	if len(ct) < s.aead.NonceSize() {
		return nil, errors.New("short")
	}
	return s.aead.Open(nil, ct[:s.aead.NonceSize()], ct[s.aead.NonceSize():], []byte(table+"|"+column+"|"+row))
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bodyTap records every answer body the client receives.
type bodyTap struct {
	rt http.RoundTripper
	syncBuf
}

func (b *bodyTap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	data, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.Write(data)
	b.Write([]byte("\n"))
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if rerr != nil {
		return resp, nil // a cut connection: the client sees the short body
	}
	return resp, nil
}

type env struct {
	t      *testing.T
	dir    string
	sim    *centralsim.Server
	client *central.Client
	up     *app.Upgrades
	outbox *upgrades.Outbox
	worker *upgrades.Worker
	audit  *memAudit
	board  *app.StatusBoard
	// clock is the central client's: it times only the breaker's
	// cooldown, so a test lets the cooldown pass with coolBreaker.
	clock   *app.FakeClock
	logs    *syncBuf
	tap     *bodyTap
	op      app.Operator
	ctx     context.Context
	sealKey []byte
}

type envOpt struct {
	callTimeout time.Duration
	central     func(app.Central) app.Central // wrap the client
}

func newEnv(t *testing.T, o envOpt) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	logs := &syncBuf{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim, err := centralsim.New(centralsim.Config{DataDir: filepath.Join(dir, "sim"), NoDemo: true, Logger: log.With("c", "sim")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddRiders(ctx, testRiders(t)); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if o.callTimeout == 0 {
		o.callTimeout = 2 * time.Second
	}
	board := app.NewStatusBoard(app.SystemClock{})
	clock := app.NewFakeClock(time.Now())
	tap := &bodyTap{rt: http.DefaultTransport.(*http.Transport).Clone()}
	cl, err := central.New(central.Config{
		BaseURL: sim.URL(), StationToken: centralsim.DefaultStationToken,
		CallTimeout: o.callTimeout, RetryWait: 5 * time.Millisecond, RetryMaxWait: 30 * time.Millisecond,
		BreakerFailures: 3, BreakerCooldown: breakerCooldown, Clock: clock,
		Status: board, Transport: tap, Logger: log.With("c", "client"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sealKey := make([]byte, 32)
	if _, err := rand.Read(sealKey); err != nil {
		t.Fatal(err)
	}
	ob, err := upgrades.OpenOutbox(ctx, filepath.Join(dir, upgrades.FileName), upgrades.OutboxOptions{Sealer: newSealer(t, sealKey), MACKey: macKeyFor(sealKey), Logger: log.With("c", "outbox")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	tok, err := app.NewTokenizer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var c app.Central = cl
	if o.central != nil {
		c = o.central(cl)
	}
	audit := &memAudit{}
	up, err := app.NewUpgrades(app.UpgradesConfig{Central: c, Outbox: ob, Audit: audit, Tokens: tok, Logger: log.With("c", "upgrades")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := upgrades.New(upgrades.Config{Outbox: ob, Completer: up, RetryMin: time.Millisecond, RetryMax: time.Millisecond, Logger: log.With("c", "forward")})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, sim: sim, client: cl, up: up, outbox: ob, worker: w, audit: audit, board: board, clock: clock, logs: logs, tap: tap,
		op: app.Operator{ID: "2001", Role: app.RoleAssistant}, ctx: ctx, sealKey: sealKey}
	t.Cleanup(e.scanPII)
	return e
}

// scanPII fails the test if a full document number or a name appears in a
// log line, an answer body or an audit entry.
func (e *env) scanPII() {
	for _, l := range e.leaks() {
		e.t.Error(l)
	}
}

func (e *env) leaks() []string {
	var out []string
	var audit strings.Builder
	for _, a := range e.audit.list() {
		fmt.Fprintf(&audit, "%s|%s|%s|%s|%s\n", a.Operator, a.Action, a.Subject, a.Outcome, a.Detail)
	}
	for name, text := range map[string]string{"logs": e.logs.String(), "answers": e.tap.String(), "audit": audit.String()} {
		for _, s := range secrets() {
			if strings.Contains(text, s) {
				out = append(out, "personal data leaked into "+name+": a test rider's number or name appears")
			}
		}
		if app.ContainsResidentID(text) {
			out = append(out, "something shaped like a resident ID number appears in "+name)
		}
	}
	return out
}

func (e *env) doc(typ app.DocType, raw string) app.DocNumber { return mustDoc(e.t, typ, raw) }

func (e *env) bindings() int {
	n, err := e.sim.CountBindings(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) boundTo(card string) string {
	b, err := e.sim.CardBindingOf(e.ctx, card)
	if err != nil {
		e.t.Fatal(err)
	}
	if !b.Bound {
		return ""
	}
	return b.RiderKey
}

// breakerCooldown is how long the client's breaker stays open after three
// failures, on env.clock (which only coolBreaker moves).
const breakerCooldown = time.Minute

// coolBreaker lets the breaker's cooldown pass, so the next call to
// central is let through as the probe.
func (e *env) coolBreaker() { e.clock.Advance(breakerCooldown + time.Second) }
