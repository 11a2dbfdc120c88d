package verify

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"stationdesk/app"
)

// TestReusedRequestIDWithAnotherBodyIs409 is finding 2 exactly: a gate
// whose counter restarted sends an unknown card with the request id of an
// earlier allowed card. It must get a signed 409, never the earlier allow.
func TestReusedRequestIDWithAnotherBodyIs409(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	r1 := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "gate-01-000001"}))
	if r1.status != 200 || r1.ans["decision"] != "allow" {
		t.Fatalf("first: %d %s", r1.status, r1.body)
	}
	r2 := f.do(t, f.request(t, cardBody("1000751099999999"), signOpts{reqID: "gate-01-000001"}))
	if r2.status != http.StatusConflict || r2.body != `{"error":"request_id_reused"}` || !r2.sigOK {
		t.Fatalf("reused id, other card: %d %s signed %v", r2.status, r2.body, r2.sigOK)
	}
	// The genuine retry still gets the original answer, and a new id the
	// unknown card's own answer.
	r3 := f.do(t, f.request(t, cardBody(riders[0].card), signOpts{reqID: "gate-01-000001"}))
	if r3.status != 200 || r3.body != r1.body {
		t.Fatalf("retry: %d %s", r3.status, r3.body)
	}
	r4 := f.do(t, f.request(t, cardBody("1000751099999999"), signOpts{reqID: "gate-01-000002"}))
	if r4.ans["decision"] != "manual" || r4.ans["reason"] != "not_bound" {
		t.Fatalf("new id: %s", r4.body)
	}
	if f.events.n() != 2 {
		t.Fatalf("events %d, want 2 (the 409 and the retry record none)", f.events.n())
	}
}

// TestContractEdges covers finding 4: every refusal is JSON, signed when
// the request was correctly signed, and the edges the contract names.
func TestContractEdges(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	body := cardBody(riders[0].card)
	withCT := func(ct string) *http.Request {
		r := f.request(t, body, signOpts{})
		r.Header.Set("Content-Type", ct)
		return r
	}
	signedFor := func(method, path, body string) *http.Request {
		r := f.request(t, body, signOpts{})
		// Re-sign for the method and path actually used.
		r2, _ := http.NewRequest(method, f.http.URL+path, strings.NewReader(body))
		r2.Header = r.Header.Clone()
		ts, n, id := r.Header.Get(app.HeaderTimestamp), r.Header.Get(app.HeaderNonce), r.Header.Get(app.HeaderRequestID)
		r2.Header.Set(app.HeaderSignature, hexMAC(app.GateRequestMAC(f.key, method, strings.SplitN(path, "?", 2)[0], f.gate, ts, n, id, []byte(body))))
		return r2
	}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		body   string
		signed bool
	}{
		{"WrongContentTypeIs415", withCT("text/plain"), 415, `{"error":"unsupported_media_type"}`, true},
		{"NoContentTypeIs415", func() *http.Request { r := withCT(""); r.Header.Del("Content-Type"); return r }(), 415, `{"error":"unsupported_media_type"}`, true},
		{"JSONWithCharsetAccepted", withCT("application/json; charset=utf-8"), 200, "", true},
		{"QueryStringRefused", signedFor("POST", "/v1/verify?card=1000751000000004", body), 400, `{"error":"query_not_allowed"}`, true},
		{"EmptyQueryRefused", signedFor("POST", "/v1/verify?", body), 400, `{"error":"query_not_allowed"}`, true},
		{"DuplicateKeyRefused", f.request(t, `{"card":"1000751000000001","card":"1000751000000004"}`, signOpts{}), 400, `{"error":"bad_request"}`, true},
		{"DuplicateKeyWithSpaceRefused", f.request(t, `{"card": "1000751000000004", "card": "1000751000000001"}`, signOpts{}), 400, `{"error":"bad_request"}`, true},
		{"SignedWrongPathIs404Signed", signedFor("POST", "/v1/verfiy", body), 404, `{"error":"not_found"}`, true},
		{"SignedWrongMethodIs405Signed", signedFor("PUT", "/v1/verify", body), 405, `{"error":"method_not_allowed"}`, true},
		{"UnsignedWrongPathIs404JSON", func() *http.Request { r, _ := http.NewRequest("GET", f.http.URL+"/admin", nil); return r }(), 404, `{"error":"not_found"}`, false},
		{"UnsignedGetVerifyIs405JSON", func() *http.Request { r, _ := http.NewRequest("GET", f.http.URL+"/v1/verify", nil); return r }(), 405, `{"error":"method_not_allowed"}`, false},
		{"OversizedIs413JSON", f.request(t, `{"card":"`+strings.Repeat("1", 8000)+`"}`, signOpts{}), 413, `{"error":"too_large"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, tc.req)
			if r.status != tc.status || tc.body != "" && r.body != tc.body {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.body)
			}
			if r.sigOK != tc.signed {
				t.Fatalf("signed %v, want %v", r.sigOK, tc.signed)
			}
			if tc.status != 200 && strings.Contains(r.body, "decision") {
				t.Fatal("a refusal carried a decision")
			}
		})
	}
}

func hexMAC(b []byte) string {
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hx[c>>4], hx[c&15])
	}
	return string(out)
}

// TestHeaderTooLargeIsJSON: net/http answers oversized headers itself; the
// guard turns its text/plain 431 into the JSON shape.
func TestHeaderTooLargeIsJSON(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	url := serveFixture(t, f)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write([]byte("POST /v1/verify HTTP/1.1\r\nHost: s\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" || b.String() != `{"error":"header_too_large"}` {
		t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
}

// TestRideQRIssuedInTheFuture: a code issued after now (beyond the skew)
// is qr_not_yet_valid and manual, not qr_expired.
func TestRideQRIssuedInTheFuture(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	tok := app.SignRideQR(f.qrPriv, 1, 1, now0.Add(5*time.Minute), time.Minute)
	r := f.do(t, f.request(t, `{"qr":"`+tok+`"}`, signOpts{}))
	if r.status != 200 || r.ans["decision"] != "manual" || r.ans["reason"] != "qr_not_yet_valid" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	tok = app.SignRideQR(f.qrPriv, 1, 1, now0.Add(20*time.Second), time.Minute) // inside the 30 s skew
	if r := f.do(t, f.request(t, `{"qr":"`+tok+`"}`, signOpts{})); r.ans["decision"] != "allow" {
		t.Fatalf("inside the skew: %s", r.body)
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestRejectsAreLoggedRateLimited is finding 5: each rejected request is
// logged with gate id, reason and source address (and counted), at most
// the configured rate, never with the card number.
func TestRejectsAreLoggedRateLimited(t *testing.T) {
	f := newFixture(t, app.ModeEnforce)
	var lb logBuf
	f.srv.log = slog.New(slog.NewTextHandler(&lb, nil))
	wrong := app.GateKey{9}
	for i := 0; i < 200; i++ {
		f.do(t, f.request(t, cardBody(riders[3].card), signOpts{key: &wrong}))
	}
	f.do(t, f.request(t, cardBody(riders[3].card), signOpts{gate: "gate-77"}))
	out := lb.String()
	lines := strings.Count(out, "gate request rejected")
	// The fake clock stands still: the burst (4 × 5/s) is all there is.
	if lines != 20 {
		t.Fatalf("%d log lines for 201 rejects, want the burst of 20:\n%s", lines, out)
	}
	first := strings.SplitN(out, "\n", 2)[0]
	for _, want := range []string{"gate=gate-01", "reason=bad_signature", "from=127.0.0.1"} {
		if !strings.Contains(first, want) {
			t.Fatalf("log line lacks %q: %s", want, first)
		}
	}
	if strings.Contains(out, riders[3].card) || strings.Contains(out, riders[3].card[8:]) {
		t.Fatal("a log line contains the card number")
	}
	f.clock.Advance(time.Second)
	f.do(t, f.request(t, cardBody(riders[3].card), signOpts{gate: "gate-77"}))
	if out := lb.String(); !strings.Contains(out, "reason=unknown_gate") || !strings.Contains(out, "suppressed=181") {
		t.Fatalf("after a second: %s", out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	}
	m := metricsText(t, f)
	if !strings.Contains(m, `stationdesk_verify_rejected_total{reason="bad_signature"} 200`) {
		t.Fatalf("metrics:\n%s", m)
	}
}

func metricsText(t testing.TB, f *fixture) string {
	t.Helper()
	resp, err := http.Get(f.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}
