package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"stationdesk/app"
)

// The gate contract's test vectors (docs/gate-contract.md): a real key,
// real requests, the exact strings signed and the server's exact answers.
// TestVectors checks them against app's signing functions, the server's
// pooled ones, and the real server answering each request in order on a
// fake clock. UPDATE_VECTORS=1 rewrites the file from the real server.

type vector struct {
	Name     string            `json:"name"`
	Note     string            `json:"note"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Query    string            `json:"query,omitempty"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	BodyHash string            `json:"body_sha256"`
	// Signed is the exact byte string the request MAC covers.
	Signed   string         `json:"string_to_sign"`
	Response vectorResponse `json:"response"`
}

type vectorResponse struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	// Signed is the string the response MAC covers ("" when unsigned).
	Signed    string `json:"string_to_sign,omitempty"`
	Signature string `json:"response_signature,omitempty"`
}

type vectorFile struct {
	About  string   `json:"about"`
	Key    string   `json:"key"`
	GateID string   `json:"gate_id"`
	Server string   `json:"server_time_ms"`
	Cases  []vector `json:"cases"`
}

const vectorKey = "8f2a61c4d9e03b7a5c1e48f6a2d09b3e7c4f1a6d8b2e05c93a7f4d1e6b8c2a90"

func vectorCases() []vector {
	ts := strconv.FormatInt(now0.UnixMilli(), 10)
	mk := func(name, note, method, path, query, ctype, nonce, reqID, body string) vector {
		h := map[string]string{app.HeaderGateID: "gate-01", app.HeaderTimestamp: ts, app.HeaderNonce: nonce, app.HeaderRequestID: reqID}
		if ctype != "" {
			h["Content-Type"] = ctype
		}
		return vector{Name: name, Note: note, Method: method, Path: path, Query: query, Headers: h, Body: body}
	}
	return []vector{
		mk("allow", "enforce mode, a bound card of a green rider with a recent test", "POST", "/v1/verify", "", "application/json",
			"00112233445566778899aabbccddeeff", "gate-01-boot7-000001", `{"card":"1000751000000001"}`),
		mk("retry", "the same Request-Id and body with a new nonce: the same answer body, signed over the new nonce", "POST", "/v1/verify", "", "application/json",
			"0102030405060708090a0b0c0d0e0f10", "gate-01-boot7-000001", `{"card":"1000751000000001"}`),
		mk("reused_request_id", "the same Request-Id with another card: signed 409, never the earlier answer", "POST", "/v1/verify", "", "application/json",
			"1112131415161718191a1b1c1d1e1f20", "gate-01-boot7-000001", `{"card":"1000751099999999"}`),
		mk("not_bound", "an unknown card: manual/not_bound", "POST", "/v1/verify", "", "application/json; charset=utf-8",
			"2122232425262728292a2b2c2d2e2f30", "gate-01-boot7-000002", `{"card":"1000751099999999"}`),
		mk("unsupported_media_type", "signed, but Content-Type text/plain: signed 415", "POST", "/v1/verify", "", "text/plain",
			"3132333435363738393a3b3c3d3e3f40", "gate-01-boot7-000003", `{"card":"1000751000000001"}`),
		mk("query_not_allowed", "signed over the path; a query string is refused: signed 400", "POST", "/v1/verify", "x=1", "application/json",
			"4142434445464748494a4b4c4d4e4f50", "gate-01-boot7-000004", `{"card":"1000751000000001"}`),
		mk("not_found", "signed for a wrong path: signed 404", "POST", "/v1/verfy", "", "application/json",
			"5152535455565758595a5b5c5d5e5f60", "gate-01-boot7-000005", `{"card":"1000751000000001"}`),
		mk("duplicate_key", "a duplicate JSON key: signed 400", "POST", "/v1/verify", "", "application/json",
			"6162636465666768696a6b6c6d6e6f70", "gate-01-boot7-000006", `{"card":"1000751000000001","card":"1000751000000004"}`),
		mk("replay", "the allow request's nonce again: 401, unsigned", "POST", "/v1/verify", "", "application/json",
			"00112233445566778899aabbccddeeff", "gate-01-boot7-000007", `{"card":"1000751000000001"}`),
	}
}

func requestString(v vector) string {
	bh := sha256.Sum256([]byte(v.Body))
	return strings.Join([]string{v.Method, v.Path, v.Headers[app.HeaderGateID], v.Headers[app.HeaderTimestamp], v.Headers[app.HeaderNonce],
		v.Headers[app.HeaderRequestID], hex.EncodeToString(bh[:])}, "\n")
}

func responseString(nonce string, status int, body string) string {
	bh := sha256.Sum256([]byte(body))
	return "resp\n" + nonce + "\n" + strconv.Itoa(status) + "\n" + hex.EncodeToString(bh[:])
}

// sendVector sends v to the fixture's server exactly as written.
func sendVector(t *testing.T, f *fixture, v vector) (int, string, string) {
	t.Helper()
	u := f.http.URL + v.Path
	if v.Query != "" {
		u += "?" + v.Query
	}
	req, _ := http.NewRequest(v.Method, u, strings.NewReader(v.Body))
	for k, h := range v.Headers {
		req.Header.Set(k, h)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get(app.HeaderRespSig)
}

func vectorFixture(t *testing.T) *fixture {
	f := newFixture(t, app.ModeEnforce)
	if err := f.keys.ImportKey("gate-01", vectorKey); err != nil {
		t.Fatal(err)
	}
	f.key, _ = app.ParseGateKey(vectorKey)
	return f
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	key, _ := app.ParseGateKey(vectorKey)
	if os.Getenv("UPDATE_VECTORS") == "1" {
		f := vectorFixture(t)
		vf := vectorFile{About: "StationDesk gate verify contract test vectors (docs/gate-contract.md). Requests are sent in this order to a server whose clock reads server_time_ms; each response is the server's exact answer.",
			Key: vectorKey, GateID: "gate-01", Server: strconv.FormatInt(now0.UnixMilli(), 10)}
		for _, v := range vectorCases() {
			bh := sha256.Sum256([]byte(v.Body))
			v.BodyHash, v.Signed = hex.EncodeToString(bh[:]), requestString(v)
			v.Headers[app.HeaderSignature] = hex.EncodeToString(app.GateRequestMAC(key, v.Method, v.Path, v.Headers[app.HeaderGateID],
				v.Headers[app.HeaderTimestamp], v.Headers[app.HeaderNonce], v.Headers[app.HeaderRequestID], []byte(v.Body)))
			st, body, sig := sendVector(t, f, v)
			v.Response = vectorResponse{Status: st, Body: body, Signature: sig}
			if sig != "" {
				v.Response.Signed = responseString(v.Headers[app.HeaderNonce], st, body)
			}
			vf.Cases = append(vf.Cases, v)
		}
		b, _ := json.MarshalIndent(vf, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vf); err != nil {
		t.Fatal(err)
	}
	if vf.Key != vectorKey || len(vf.Cases) != len(vectorCases()) {
		t.Fatal("vectors.json is not the vector set of this test (rerun with UPDATE_VECTORS=1 and review the diff)")
	}
	gk := newGateKey(key)
	f := vectorFixture(t)
	for _, v := range vf.Cases {
		t.Run(v.Name, func(t *testing.T) {
			h := v.Headers
			bh := sha256.Sum256([]byte(v.Body))
			if v.BodyHash != hex.EncodeToString(bh[:]) || v.Signed != requestString(v) {
				t.Fatal("body hash or string to sign differs")
			}
			want := hex.EncodeToString(app.GateRequestMAC(key, v.Method, v.Path, h[app.HeaderGateID], h[app.HeaderTimestamp], h[app.HeaderNonce], h[app.HeaderRequestID], []byte(v.Body)))
			pooled := gk.requestMAC(v.Method, v.Path, h[app.HeaderGateID], h[app.HeaderTimestamp], h[app.HeaderNonce], h[app.HeaderRequestID], &bh)
			if h[app.HeaderSignature] != want || hex.EncodeToString(pooled[:]) != want {
				t.Fatalf("request signature: vector %s, app %s, server %x", h[app.HeaderSignature], want, pooled)
			}
			if v.Response.Signature != "" {
				rs := hex.EncodeToString(app.GateResponseMAC(key, h[app.HeaderNonce], v.Response.Status, []byte(v.Response.Body)))
				rp := gk.responseMAC(h[app.HeaderNonce], v.Response.Status, []byte(v.Response.Body))
				if v.Response.Signature != rs || hex.EncodeToString(rp[:]) != rs || v.Response.Signed != responseString(h[app.HeaderNonce], v.Response.Status, v.Response.Body) {
					t.Fatal("response signature differs from app's or the server's")
				}
			}
			st, body, sig := sendVector(t, f, v)
			if st != v.Response.Status || body != v.Response.Body || sig != v.Response.Signature {
				t.Fatalf("server answered %d %s sig %q; vector %d %s sig %q", st, body, sig, v.Response.Status, v.Response.Body, v.Response.Signature)
			}
		})
	}
}

// TestContractDecisionTable: the decision table of docs/gate-contract.md
// names every reason code, and its test and off columns are what ApplyMode
// makes of the enforce column.
func TestContractDecisionTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "gate-contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, "## 5. Decision table"), strings.Index(doc, "## 6. Clocks")
	if start < 0 || end < start {
		t.Fatal("decision table section not found")
	}
	seen := map[app.GateReason]bool{}
	for _, line := range strings.Split(doc[start:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || strings.HasPrefix(strings.TrimSpace(cells[1]), "-") || strings.TrimSpace(cells[1]) == "reason" {
			continue
		}
		r := app.GateReason(strings.TrimSpace(cells[1]))
		enforce, test, off := strings.TrimSpace(cells[3]), strings.TrimSpace(cells[4]), strings.TrimSpace(cells[5])
		seen[r] = true
		switch r {
		case app.ReasonServiceOff, app.ReasonUnavailable:
			continue
		}
		d := app.GateDecision(enforce)
		if a := app.ApplyMode(app.ModeEnforce, d, r); a.Decision != d || a.Reason != r {
			t.Errorf("%s enforce: %+v", r, a)
		}
		if a := app.ApplyMode(app.ModeTest, d, r); test != "manual ("+string(a.WouldBe)+")" || a.Decision != app.DecisionManual || a.Reason != r {
			t.Errorf("%s test: table %q, ApplyMode %+v", r, test, a)
		}
		if a := app.ApplyMode(app.ModeOff, d, r); off != string(a.Decision)+"/"+string(a.Reason) {
			t.Errorf("%s off: table %q, ApplyMode %+v", r, off, a)
		}
	}
	for _, r := range app.Reasons {
		if !seen[r] {
			t.Errorf("reason %s missing from the decision table", r)
		}
	}
}
