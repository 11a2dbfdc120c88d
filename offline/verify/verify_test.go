package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/cache"
	"stationdesk/offline/syncwire"
)

var now0 = time.Date(2022, 6, 1, 8, 0, 0, 0, time.UTC)

var cardKey = bytes.Repeat([]byte{7}, 32)

// Demo riders for the decision table: card number → person state.
type rider struct {
	card    string
	person  uint64
	color   uint8
	test    time.Duration // before now0; 0 = none
	blocked bool
}

var riders = []rider{
	{"1000751000000001", 1, syncwire.ColorGreen, 5 * time.Hour, false},  // allow
	{"1000751000000002", 2, syncwire.ColorGreen, 50 * time.Hour, false}, // test too old
	{"1000751000000003", 3, syncwire.ColorYellow, time.Hour, false},
	{"1000751000000004", 4, syncwire.ColorRed, time.Hour, false},
	{"1000751000000005", 5, syncwire.ColorNone, 0, false},
	{"1000751000000006", 1, syncwire.ColorGreen, 5 * time.Hour, true}, // blocked card of person 1
}

type fakeAudit struct {
	mu sync.Mutex
	es []app.AuditEntry
}

func (f *fakeAudit) Append(_ context.Context, e app.AuditEntry) error {
	if err := app.ValidateAuditEntry(e); err != nil {
		return err
	}
	f.mu.Lock()
	f.es = append(f.es, e)
	f.mu.Unlock()
	return nil
}

func (f *fakeAudit) count(action app.AuditAction) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.es {
		if e.Action == action {
			n++
		}
	}
	return n
}

type fakeEvents struct {
	mu  sync.Mutex
	evs []app.GateEvent
	err error
}

func (f *fakeEvents) Record(_ context.Context, e app.GateEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.evs = append(f.evs, e)
	return nil
}

func (f *fakeEvents) n() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.evs) }

type fixture struct {
	clock  *app.FakeClock
	srv    *Server
	http   *httptest.Server
	keys   *KeyStore
	gate   string
	key    app.GateKey
	audit  *fakeAudit
	events *fakeEvents
	qrPriv ed25519.PrivateKey
	cache  *cache.Cache
}

func buildCache(t testing.TB, dir string, fresh time.Time) *cache.Cache {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "cache.db")
	b, err := cache.OpenBuilder(ctx, path, "test", "k1", 0, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cards []syncwire.Card
	persons := map[uint64]syncwire.Person{}
	for _, r := range riders {
		c := syncwire.Card{Hash: syncwire.HashCard(cardKey, r.card), Person: r.person, Seq: 1}
		if r.blocked {
			c.Flags = syncwire.FlagBlocked
		}
		cards = append(cards, c)
		p := syncwire.Person{Person: r.person, Color: r.color, Seq: 1}
		if r.test > 0 {
			p.TestMin = syncwire.TestMinutes(now0.Add(-r.test))
		}
		persons[r.person] = p
	}
	sortCards(cards)
	var ps []syncwire.Person
	for i := uint64(1); i <= 5; i++ {
		ps = append(ps, persons[i])
	}
	if err := b.AddCards(ctx, "cards", cards); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPersons(ctx, "persons", ps); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(ctx, path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !fresh.IsZero() {
		if err := c.MarkFresh(ctx, 1, fresh); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sortCards(cs []syncwire.Card) {
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if bytes.Compare(cs[j].Hash[:], cs[i].Hash[:]) < 0 {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
	}
}

func newFixture(t testing.TB, mode app.GateMode) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{clock: app.NewFakeClock(now0), gate: "gate-01", audit: &fakeAudit{}, events: &fakeEvents{}}
	f.cache = buildCache(t, dir, now0)
	var err error
	f.keys, err = OpenKeyStore(filepath.Join(dir, "gates.json"), f.clock)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := f.keys.Add(f.gate)
	if err != nil {
		t.Fatal(err)
	}
	f.key, _ = app.ParseGateKey(kh)
	_, f.qrPriv, _ = ed25519.GenerateKey(rand.Reader)
	trust := &Trust{CardKey: cardKey, Issuers: map[uint16]ed25519.PublicKey{1: f.qrPriv.Public().(ed25519.PublicKey)}, Policy: app.DefaultPolicy(), QRSkew: 30 * time.Second}
	f.srv, err = New(Config{Lookup: f.cache, Trust: func() *Trust { return trust }, Keys: f.keys, Events: f.events, Audit: f.audit, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SetMode(mode, "sup1"); err != nil {
		t.Fatal(err)
	}
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.http.Close)
	return f
}

type signOpts struct {
	gate, nonce, reqID string
	key                *app.GateKey
	ts                 time.Time
	noSig              bool
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fixture) request(t testing.TB, body string, o signOpts) *http.Request {
	t.Helper()
	if o.gate == "" {
		o.gate = f.gate
	}
	if o.nonce == "" {
		o.nonce = randHex(16)
	}
	if o.reqID == "" {
		o.reqID = "r-" + randHex(4)
	}
	if o.key == nil {
		o.key = &f.key
	}
	if o.ts.IsZero() {
		o.ts = f.clock.Now()
	}
	req, _ := http.NewRequest("POST", f.http.URL+"/v1/verify", strings.NewReader(body))
	ts := strconv.FormatInt(o.ts.UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(app.HeaderGateID, o.gate)
	req.Header.Set(app.HeaderTimestamp, ts)
	req.Header.Set(app.HeaderNonce, o.nonce)
	req.Header.Set(app.HeaderRequestID, o.reqID)
	if !o.noSig {
		req.Header.Set(app.HeaderSignature, hex.EncodeToString(app.GateRequestMAC(*o.key, "POST", "/v1/verify", o.gate, ts, o.nonce, o.reqID, []byte(body))))
	}
	return req
}

type result struct {
	status int
	body   string
	ans    map[string]any
	sigOK  bool
}

func (f *fixture) do(t testing.TB, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, body: string(b)}
	_ = json.Unmarshal(b, &r.ans)
	if sig, err := hex.DecodeString(resp.Header.Get(app.HeaderRespSig)); err == nil && len(sig) > 0 {
		r.sigOK = bytes.Equal(sig, app.GateResponseMAC(f.key, req.Header.Get(app.HeaderNonce), resp.StatusCode, b))
	}
	return r
}

func cardBody(n string) string { return `{"card":"` + n + `"}` }

// assertNoPII fails when a response contains a card number, a person key
// field, a health colour value or a test time.
func assertNoPII(t *testing.T, body string) {
	t.Helper()
	for _, r := range riders {
		if strings.Contains(body, r.card) || strings.Contains(body, r.card[8:]) {
			t.Fatalf("response contains a card number: %s", body)
		}
	}
	for _, bad := range []string{"person", "color", "colour", "test_at", "last_negative", "name", "id_number", `"green"`, `"red"`, `"yellow"`} {
		if strings.Contains(body, bad) {
			t.Fatalf("response contains %q: %s", bad, body)
		}
	}
}

func TestDecisionsPerRiderAndMode(t *testing.T) {
	type want struct{ decision, reason, wouldBe string }
	cases := []struct {
		name string
		card string
		mode app.GateMode
		want want
	}{
		{"EnforceAllow", riders[0].card, app.ModeEnforce, want{"allow", "ok", ""}},
		{"EnforceTestTooOld", riders[1].card, app.ModeEnforce, want{"deny", "test_too_old", ""}},
		{"EnforceYellow", riders[2].card, app.ModeEnforce, want{"deny", "code_yellow", ""}},
		{"EnforceRed", riders[3].card, app.ModeEnforce, want{"deny", "code_red", ""}},
		{"EnforceNoAccount", riders[4].card, app.ModeEnforce, want{"manual", "no_health_account", ""}},
		{"EnforceBlocked", riders[5].card, app.ModeEnforce, want{"deny", "card_blocked", ""}},
		{"EnforceNotBound", "1000751099999999", app.ModeEnforce, want{"manual", "not_bound", ""}},
		{"EnforceCardWithSpaces", "1000 7510 0000 0001", app.ModeEnforce, want{"allow", "ok", ""}},
		{"EnforceBadMedium", "12ab", app.ModeEnforce, want{"manual", "bad_medium", ""}},
		{"TestModeRedIsManualWouldBeDeny", riders[3].card, app.ModeTest, want{"manual", "code_red", "deny"}},
		{"TestModeAllowIsManualWouldBeAllow", riders[0].card, app.ModeTest, want{"manual", "ok", "allow"}},
		{"OffIsManual", riders[0].card, app.ModeOff, want{"manual", "service_off", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mode)
			r := f.do(t, f.request(t, cardBody(tc.card), signOpts{}))
			if r.status != 200 || !r.sigOK {
				t.Fatalf("status %d sigOK %v body %s", r.status, r.sigOK, r.body)
			}
			got := want{fmt.Sprint(r.ans["decision"]), fmt.Sprint(r.ans["reason"]), ""}
			if w, ok := r.ans["would_be"]; ok {
				got.wouldBe = fmt.Sprint(w)
			}
			if got != tc.want {
				t.Fatalf("got %+v want %+v", got, tc.want)
			}
			if r.ans["mode"] != string(tc.mode) {
				t.Fatalf("mode %v", r.ans["mode"])
			}
			assertNoPII(t, r.body)
			if f.events.n() != 1 {
				t.Fatalf("events %d", f.events.n())
			}
		})
	}
}

func TestAuthFailuresAllLookAlike(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	wrong := app.GateKey{1, 2, 3}
	revokedKeyHex, _ := f.keys.Add("gate-rev")
	revKey, _ := app.ParseGateKey(revokedKeyHex)
	if err := f.srv.RevokeGate("gate-rev", "sup1"); err != nil {
		t.Fatal(err)
	}
	replayed := f.request(t, cardBody(riders[0].card), signOpts{nonce: strings.Repeat("ab", 16)})
	if r := f.do(t, replayed); r.status != 200 {
		t.Fatalf("first use of nonce: %d", r.status)
	}
	body := cardBody(riders[0].card)
	cases := []struct {
		name string
		req  *http.Request
	}{
		{"Unsigned", f.request(t, body, signOpts{noSig: true})},
		{"WrongKey", f.request(t, body, signOpts{key: &wrong})},
		{"Expired", f.request(t, body, signOpts{ts: now0.Add(-31 * time.Second)})},
		{"ClockSkewAhead", f.request(t, body, signOpts{ts: now0.Add(31 * time.Second)})},
		{"Replayed", f.request(t, body, signOpts{nonce: strings.Repeat("ab", 16)})},
		{"UnknownGate", f.request(t, body, signOpts{gate: "gate-99"})},
		{"RevokedKey", f.request(t, body, signOpts{gate: "gate-rev", key: &revKey})},
		{"BodySwappedAfterSigning", func() *http.Request {
			r := f.request(t, body, signOpts{})
			r.Body = io.NopCloser(strings.NewReader(cardBody(riders[3].card)))
			r.ContentLength = int64(len(cardBody(riders[3].card)))
			return r
		}()},
	}
	before := f.events.n()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, tc.req)
			if r.status != 401 || r.body != `{"error":"unauthorized"}` {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if _, ok := r.ans["decision"]; ok {
				t.Fatal("401 carried a decision")
			}
		})
	}
	if f.events.n() != before {
		t.Fatal("a rejected request produced a gate event")
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.audit.count(app.ActGateReject) < len(cases) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval; the deadline decides
	}
	if n := f.audit.count(app.ActGateReject); n != len(cases) {
		t.Fatalf("audited %d rejects, want %d", n, len(cases))
	}
}

func TestBadBodies(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"Oversized", `{"card":"` + strings.Repeat("1", 8000) + `"}`, 413},
		{"MalformedJSON", `{"card":`, 400},
		{"UnknownField", `{"card":"1000751000000001","name":"x"}`, 400},
		{"BothMedia", `{"card":"1000751000000001","qr":"RQ1.a.b"}`, 400},
		{"NoMedium", `{}`, 400},
		{"TrailingData", `{"card":"1000751000000001"}{}`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, f.request(t, tc.body, signOpts{}))
			if r.status != tc.status {
				t.Fatalf("status %d want %d (%s)", r.status, tc.status, r.body)
			}
			if _, ok := r.ans["decision"]; ok {
				t.Fatal("bad body got a decision")
			}
		})
	}
	if f.events.n() != 0 {
		t.Fatal("bad bodies recorded events")
	}
}

func TestRetrySameRequestIDSameAnswerOneEvent(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	r1 := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "gate-01-000042"}))
	f.clock.Advance(2 * time.Second)
	r2 := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "gate-01-000042"}))
	if r1.status != 200 || r2.status != 200 || r1.body != r2.body || !r2.sigOK {
		t.Fatalf("retry differs: %s vs %s (sig %v)", r1.body, r2.body, r2.sigOK)
	}
	if f.events.n() != 1 {
		t.Fatalf("events %d, want 1", f.events.n())
	}
}

func TestOutboxBackpressureAnswers503(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	f.events.err = app.NewError(app.CodeUnavailable, "outbox_full", "", "")
	r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "rq-1"}))
	if r.status != 503 || !r.sigOK {
		t.Fatalf("status %d", r.status)
	}
	f.events.err = nil
	r = f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "rq-1"}))
	if r.status != 200 || r.ans["decision"] != "allow" || f.events.n() != 1 {
		t.Fatalf("retry after backpressure: %d %s events %d", r.status, r.body, f.events.n())
	}
}

func TestStalenessPolicy(t *testing.T) {
	cases := []struct {
		name     string
		after    time.Duration
		decision string
		reason   string
		health   string
	}{
		{"FreshAllows", time.Minute, "allow", "ok", "ok"},
		{"WarnStillAllows", 11 * time.Minute, "allow", "ok", "stale_warn"},
		{"CentralDownHoursIsManual", 6*time.Hour + time.Minute, "manual", "cache_stale", "stale_manual"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, app.ModeEnforce)
			f.clock.Advance(tc.after)
			// The rider's test is 5 h old at now0; keep it inside the window by
			// checking the decision the staleness policy gives.
			r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{}))
			if r.ans["decision"] != tc.decision || r.ans["reason"] != tc.reason {
				t.Fatalf("got %s", r.body)
			}
			resp, err := http.Get(f.http.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			var h map[string]any
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h["status"] != tc.health {
				t.Fatalf("healthz %v", h)
			}
		})
	}
}

func TestRideQR(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name, tok, decision, reason string
	}{
		{"ValidGreen", app.SignRideQR(f.qrPriv, 1, 1, now0.Add(-10*time.Second), time.Minute), "allow", "ok"},
		{"ValidRed", app.SignRideQR(f.qrPriv, 1, 4, now0.Add(-10*time.Second), time.Minute), "deny", "code_red"},
		{"UnknownPerson", app.SignRideQR(f.qrPriv, 1, 999, now0, time.Minute), "manual", "not_bound"},
		{"Expired", app.SignRideQR(f.qrPriv, 1, 1, now0.Add(-5*time.Minute), time.Minute), "deny", "qr_expired"},
		{"UnknownIssuer", app.SignRideQR(f.qrPriv, 9, 1, now0, time.Minute), "manual", "qr_unknown_issuer"},
		{"WrongSignature", app.SignRideQR(other, 1, 1, now0, time.Minute), "deny", "qr_invalid"},
		{"Garbage", "RQ1.not-base64!.x", "deny", "qr_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, f.request(t, `{"qr":"`+tc.tok+`"}`, signOpts{}))
			if r.status != 200 || r.ans["decision"] != tc.decision || r.ans["reason"] != tc.reason {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			assertNoPII(t, r.body)
		})
	}
}

func TestSlowlorisIsCut(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.srv.Serve(ctx, l)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Dribble a header one byte at a time, never finishing it.
	closed := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, err := c.Read(buf); err != nil {
				close(closed)
				return
			}
		}
	}()
	hdr := "POST /v1/verify HTTP/1.1\r\nHost: x\r\nX-Slow: "
	for i := 0; ; i++ {
		select {
		case <-closed:
			return // the server hung up on the slow client
		case <-time.After(300 * time.Millisecond):
		}
		if i > 60 {
			t.Fatal("slow header was not cut off")
		}
		c.Write([]byte{hdr[i%len(hdr)]})
	}
}

func TestMetricsAndGates(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	f.do(t, f.request(t, cardBody(riders[0].card), signOpts{}))
	f.do(t, f.request(t, cardBody(riders[3].card), signOpts{}))
	f.do(t, f.request(t, cardBody(riders[0].card), signOpts{noSig: true}))
	resp, err := http.Get(f.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`stationdesk_verify_requests_total{decision="allow",reason="ok",mode="enforce"} 1`,
		`stationdesk_verify_requests_total{decision="deny",reason="code_red",mode="enforce"} 1`,
		`stationdesk_verify_rejected_total{reason="malformed"} 1`,
		`stationdesk_verify_latency_seconds_count 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("metrics lack %q:\n%s", want, b)
		}
	}
	gs := f.srv.Gates()
	if len(gs) != 1 || gs[0].ID != "gate-01" || gs[0].LastSeen.IsZero() {
		t.Fatalf("gates %+v", gs)
	}
	if rec := f.srv.Recent(10); len(rec) != 2 || rec[0].Reason != app.ReasonCodeRed {
		t.Fatalf("recent %+v", rec)
	}
}

func TestRotateKeepsOldKeyUntilNextRotation(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	newHex, err := f.srv.RotateGate(f.gate, "sup1")
	if err != nil {
		t.Fatal(err)
	}
	nk, _ := app.ParseGateKey(newHex)
	if r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{})); r.status != 200 {
		t.Fatalf("old key after rotation: %d", r.status)
	}
	if r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{key: &nk})); r.status != 200 {
		t.Fatalf("new key: %d", r.status)
	}
	if _, err := f.srv.RotateGate(f.gate, "sup1"); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{})); r.status != 401 {
		t.Fatalf("first key after second rotation: %d", r.status)
	}
}

func FuzzParseGateAuth(f *testing.F) {
	f.Add("gate-01", "1654070400000", strings.Repeat("a", 32), "req-1", strings.Repeat("0", 64))
	f.Add("", "", "", "", "")
	f.Add("GATE", "-1", "zz", "\x00", "x")
	f.Fuzz(func(t *testing.T, g, ts, n, rid, sig string) {
		h := map[string]string{app.HeaderGateID: g, app.HeaderTimestamp: ts, app.HeaderNonce: n, app.HeaderRequestID: rid, app.HeaderSignature: sig}
		a, err := app.ParseGateAuth(func(k string) string { return h[k] })
		if err == nil && (!app.ValidGateID(a.Gate) || len(a.Signature) != 32) {
			t.Fatalf("accepted bad auth %+v", a)
		}
	})
}

func FuzzRideQR(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(app.SignRideQR(priv, 1, 42, now0, time.Minute))
	f.Add("RQ1.")
	f.Add("RQ1.AAAA.BBBB")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := app.ParseRideQR(s)
		if err == nil {
			_, _ = q.Verify(priv.Public().(ed25519.PublicKey), now0, time.Minute)
		}
	})
}
