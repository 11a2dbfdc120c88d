package centralsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/app/demo"
	"stationdesk/offline/central"
	"stationdesk/offline/sim/centralsim"
	"stationdesk/offline/sim/syncpub"
)

func startDemo(t *testing.T, dir string) *centralsim.Server {
	t.Helper()
	s, err := centralsim.New(centralsim.Config{DataDir: dir, AdminToken: "admin-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// demoSecrets are the demo riders' full document numbers and names.
func demoSecrets() []string {
	var out []string
	for _, r := range demo.Riders() {
		out = append(out, r.Identity.Doc.Reveal())
		if n := r.Identity.Name.Reveal(); n != "" {
			out = append(out, n)
		}
		if n := r.Identity.OtherName.Reveal(); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func client(t *testing.T, s *centralsim.Server) *central.Client {
	c, err := central.New(central.Config{BaseURL: s.URL(), StationToken: centralsim.DefaultStationToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDemoSeed: every demo case is in the simulator as docs/rules.md and the README's demo list say.
func TestDemoSeed(t *testing.T) {
	dir := t.TempDir()
	s := startDemo(t, dir)
	ctx := context.Background()
	c := client(t, s)
	riders, err := s.Riders(ctx)
	if err != nil || len(riders) != len(demo.Riders()) {
		t.Fatalf("%d riders (%v), want %d", len(riders), err, len(demo.Riders()))
	}
	for _, r := range demo.Riders() {
		t.Run(r.Key, func(t *testing.T) {
			pb, err := c.PersonBindings(ctx, r.Identity.Doc)
			if err != nil {
				t.Fatal(err)
			}
			want := len(r.Bound)
			for _, card := range r.Cards {
				if card.Kind.Special() && !contains(r.Bound, card.Number) {
					want++
				}
			}
			if len(pb.Bindings) != want || pb.ProxyUsed != r.ProxyUsed {
				t.Errorf("bindings %d proxy %d, want %d %d", len(pb.Bindings), pb.ProxyUsed, want, r.ProxyUsed)
			}
			h, err := c.HealthStatus(ctx, r.Identity.Doc)
			if err != nil || h.Color != r.Color {
				t.Errorf("health %q %v, want %q", h.Color, err, r.Color)
			}
			if r.Phone != "" {
				if code, err := s.ProxyCode(ctx, r.Key); err != nil || c.VerifyProxyCode(ctx, r.Identity.Doc, code) != nil {
					t.Errorf("verification code: %v", err)
				}
			}
		})
	}
	for _, tc := range []struct {
		name, number string
		upgradeable  bool
	}{{"UnionPayNotUpgradeable", demo.UnionPayNumber, false}, {"ShanghaiUnionUpgradeable", demo.ShanghaiNumber, true},
		{"WornCardKnown", demo.WornCardNumber, true}, {"CivilAffairsAuto", demo.CivilAffairsNo, true}} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.CardStatus(ctx, tc.number)
			if err != nil || st.Upgradeable != tc.upgradeable || st.Card.Number != tc.number {
				t.Fatalf("%+v %v", st, err)
			}
		})
	}
	// A restart on the same folder keeps the data and does not seed again.
	s.Close()
	s2, err := centralsim.New(centralsim.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r2, _ := s2.Riders(ctx)
	if len(r2) != len(riders) {
		t.Fatalf("after restart %d riders", len(r2))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHTTPScenarios drives the contract with raw requests: status, content
// that must appear and content that must not (no ID number, no name).
func TestHTTPScenarios(t *testing.T) {
	s := startDemo(t, t.TempDir())
	green, _ := demo.RiderByKey("green-72h")
	doc := central.DocToWire(green.Identity.Doc)
	bindBody := func(card string) string {
		b, _ := json.Marshal(central.WireBindRequest{CardNumber: card, Holder: doc})
		return string(b)
	}
	badDoc := `{"card_number":"1000200002","holder":{"doc_type":"cn-id","doc_number":"110105194912310021"}}`
	type scenario struct {
		name, method, path, token, key, body string
		status                               int
		contains                             []string
		header                               [2]string
	}
	station, admin := centralsim.DefaultStationToken, "admin-secret"
	key := app.NewIdempotencyKey()
	scenarios := []scenario{
		{name: "PolicyNoToken", method: "GET", path: "/v1/policy", status: 401, contains: []string{`"unauthorized"`}},
		{name: "PolicyWrongToken", method: "GET", path: "/v1/policy", token: "nope", status: 401},
		{name: "PolicyOK", method: "GET", path: "/v1/policy", token: station, status: 200, contains: []string{`"nat_window_s":172800`, `"proxy_limit":5`}},
		{name: "BindNoKey", method: "POST", path: "/v1/bindings", token: station, body: bindBody("1000200002"), status: 400, contains: []string{"missing_idempotency_key"}},
		{name: "BindBadKey", method: "POST", path: "/v1/bindings", token: station, key: "bad key!", body: bindBody("1000200002"), status: 400},
		{name: "BindMalformed", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: `{"card_number":`, status: 400, contains: []string{"bad_request"}},
		{name: "BindUnknownField", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: `{"card_number":"1000200002","x":1}`, status: 400},
		{name: "BindInvalidDocument", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: badDoc, status: 400, contains: []string{"invalid_document"}},
		{name: "BindInvalidCard", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: bindBody("12"), status: 400, contains: []string{"invalid_card_number"}},
		{name: "BindTooLarge", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: `{"card_number":"` + strings.Repeat("1", 100<<10) + `"}`, status: 413},
		{name: "BindUnionPay", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: bindBody(demo.UnionPayNumber), status: 409, contains: []string{"card_not_upgradeable"}},
		{name: "BindCivilAffairs", method: "POST", path: "/v1/bindings", token: station, key: app.NewIdempotencyKey(), body: bindBody(demo.CivilAffairsNo), status: 409, contains: []string{"special_card_auto"}},
		{name: "BindOK", method: "POST", path: "/v1/bindings", token: station, key: key, body: bindBody("1000200002"), status: 201, contains: []string{`"card_masked":"******0002"`}},
		{name: "BindReplay", method: "POST", path: "/v1/bindings", token: station, key: key, body: bindBody("1000200002"), status: 201, header: [2]string{"Idempotent-Replayed", "true"}},
		{name: "BindReplayOtherBody", method: "POST", path: "/v1/bindings", token: station, key: key, body: bindBody(demo.WornCardNumber), status: 422, contains: []string{"idempotency_conflict"}},
		{name: "HealthInBody", method: "POST", path: "/v1/persons/health", token: station, key: app.NewIdempotencyKey(), body: mustJSON(doc), status: 200, contains: []string{`"color":"green"`}},
		{name: "AdminNoToken", method: "GET", path: "/admin/faults", status: 401},
		{name: "AdminStationTokenRefused", method: "GET", path: "/admin/faults", token: station, status: 401},
		{name: "AdminFaults", method: "PUT", path: "/admin/faults", token: admin, body: `{"latency_ms":1}`, status: 200, contains: []string{`"latency_ms":1`}},
		{name: "AdminFaultsOff", method: "PUT", path: "/admin/faults", token: admin, body: `{}`, status: 200},
		{name: "AdminRidersMasked", method: "GET", path: "/admin/riders", token: admin, status: 200, contains: []string{`"key":"green-fresh"`, `"doc_masked":"`}},
		{name: "AdminCodes", method: "GET", path: "/admin/proxy-codes", token: admin, status: 200, contains: []string{`"rider_key":"elder-special"`, `"code":"`}},
		{name: "AdminHealth", method: "POST", path: "/admin/riders/red/health", token: admin, body: `{"color":"green"}`, status: 200},
		{name: "AdminHealthUnknownRider", method: "POST", path: "/admin/riders/nobody/health", token: admin, body: `{"color":"green"}`, status: 404},
		{name: "AdminHealthBadColour", method: "POST", path: "/admin/riders/red/health", token: admin, body: `{"color":"blue"}`, status: 400},
		{name: "UnknownPath", method: "GET", path: "/v2/whatever", token: station, status: 404},
		{name: "SyncNotMounted", method: "GET", path: "/v1/sync/manifest", token: station, status: 404},
	}
	secrets := demoSecrets()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			req, _ := http.NewRequest(sc.method, s.URL()+sc.path, strings.NewReader(sc.body))
			if sc.token != "" {
				req.Header.Set("Authorization", "Bearer "+sc.token)
			}
			if sc.key != "" {
				req.Header.Set("Idempotency-Key", sc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != sc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, sc.status, body)
			}
			for _, c := range sc.contains {
				if !bytes.Contains(body, []byte(c)) {
					t.Errorf("body lacks %s: %s", c, body)
				}
			}
			if sc.header[0] != "" && resp.Header.Get(sc.header[0]) != sc.header[1] {
				t.Errorf("header %s = %q", sc.header[0], resp.Header.Get(sc.header[0]))
			}
			if sc.status >= 400 {
				var e central.WireError
				if json.Unmarshal(body, &e) != nil || e.Code == "" || e.MessageZH == "" || e.MessageEN == "" {
					t.Errorf("error body not {code, message_zh, message_en}: %s", body)
				}
			}
			for _, sec := range append(secrets, "110105194912310021") {
				if bytes.Contains(body, []byte(sec)) {
					t.Error("answer contains a document number or a name")
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAdminHealthChangeVisible: changing a rider's health shows in the
// health query and appends a change for the gate-cache sync.
func TestAdminHealthChangeVisible(t *testing.T) {
	s := startDemo(t, t.TempDir())
	ctx := context.Background()
	c := client(t, s)
	red, _ := demo.RiderByKey("red")
	var before int
	s.DB().Read().QueryRowContext(ctx, `SELECT count(*) FROM changes`).Scan(&before)
	neg := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	if err := s.SetHealth(ctx, "red", app.HealthStatus{Color: app.ColorGreen, LastNegative: neg}); err != nil {
		t.Fatal(err)
	}
	h, err := c.HealthStatus(ctx, red.Identity.Doc)
	if err != nil || h.Color != app.ColorGreen || !h.LastNegative.Equal(neg) {
		t.Fatalf("%+v %v", h, err)
	}
	var after int
	s.DB().Read().QueryRowContext(ctx, `SELECT count(*) FROM changes`).Scan(&after)
	if after != before+1 {
		t.Fatalf("changes %d → %d", before, after)
	}
}

// TestSyncMounted: the gate-cache sync objects are served from the
// simulator's riders under /v1/sync/, behind the station token, and carry
// no card number, ID number or name.
func TestSyncMounted(t *testing.T) {
	s, err := centralsim.New(centralsim.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.EnableSync(ctx, syncpub.DemoKeys()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	get := func(token string) (int, []byte) {
		req, _ := http.NewRequest("GET", s.URL()+"/v1/sync/manifest", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := get(""); st != 401 {
		t.Fatalf("without token: %d", st)
	}
	st, body := get(centralsim.DefaultStationToken)
	if st != 200 || len(body) == 0 {
		t.Fatalf("manifest: %d %s", st, body)
	}
	for _, sec := range append(demoSecrets(), demo.WornCardNumber, "1000200001") {
		if bytes.Contains(body, []byte(sec)) {
			t.Fatal("manifest carries personal data or a card number")
		}
	}
	var n int
	head, err := s.SyncSource().Changes(ctx, 0, func(syncpub.Change) error { n++; return nil })
	if err != nil || n == 0 || head == 0 {
		t.Fatalf("changes %d head %d %v", n, head, err)
	}
	var cards, persons int
	seq, err := s.SyncSource().Snapshot(ctx, func(syncpub.CardBinding) error { cards++; return nil }, func(syncpub.PersonHealth) error { persons++; return nil })
	if err != nil || seq != head || cards == 0 || persons != len(demo.Riders()) {
		t.Fatalf("snapshot seq %d cards %d persons %d %v", seq, cards, persons, err)
	}
}
