package gatesim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"stationdesk/app"
)

// ConformanceOptions configure a conformance run against a verify server.
type ConformanceOptions struct {
	Target string // base URL: http://host:port or https://host:port
	Gate   string
	Key    app.GateKey
	// Card is the card number asked about (any number gives a signed
	// answer; default a syntactically valid unknown card).
	Card string
	// TLS is the client TLS config for https targets (a pinned one, see
	// verify.PinnedTLSClient).
	TLS     *tls.Config
	Timeout time.Duration // per request (default 5 s)
}

// ClauseResult is one contract clause's outcome.
type ClauseResult struct {
	Clause string // the contract clause (docs/gate-contract.md)
	Pass   bool
	Detail string // what was seen when it failed
}

// Conformance runs the gate contract's checks (docs/gate-contract.md,
// "Conformance and vectors") against any verify server and returns one result per
// clause, in order. It never prints a card number.
func Conformance(ctx context.Context, o ConformanceOptions) []ClauseResult {
	if o.Card == "" {
		o.Card = "1000751000000001"
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	c := &conformer{o: o, cl: &http.Client{Timeout: o.Timeout, Transport: &http.Transport{TLSClientConfig: o.TLS}}, ctx: ctx, run: "c" + randHex(4)}
	var out []ClauseResult
	for _, cl := range c.clauses() {
		err := cl.check()
		r := ClauseResult{Clause: cl.name, Pass: err == nil}
		if err != nil {
			r.Detail = err.Error()
		}
		out = append(out, r)
	}
	return out
}

type conformer struct {
	o      ConformanceOptions
	cl     *http.Client
	ctx    context.Context
	run    string
	n      int
	offset time.Duration // server clock minus ours (from Server-Time)
	first  *reply        // the first signed answer
	firstQ *sreq
}

// sreq is one request as a gate builds it.
type sreq struct {
	method, path, query, ctype string
	body                       []byte
	gate, ts, nonce, reqID     string
	sig                        string
	unsigned                   bool
}

type reply struct {
	status int
	body   []byte
	hdr    http.Header
	sigOK  bool
	signed bool
}

func (c *conformer) newReqID() string {
	c.n++
	return c.run + "-" + strconv.Itoa(c.n)
}

// signed builds a correctly signed POST /v1/verify for body.
func (c *conformer) signed(body string) *sreq {
	q := &sreq{method: "POST", path: "/v1/verify", ctype: "application/json", body: []byte(body), gate: c.o.Gate, reqID: c.newReqID()}
	c.sign(q, 0)
	return q
}

// sign sets timestamp (our clock + the server's offset + skew), a fresh
// nonce and the signature.
func (c *conformer) sign(q *sreq, skew time.Duration) {
	q.ts = strconv.FormatInt(time.Now().Add(c.offset+skew).UnixMilli(), 10)
	q.nonce = randHex(16)
	q.sig = hex.EncodeToString(app.GateRequestMAC(c.o.Key, q.method, q.path, q.gate, q.ts, q.nonce, q.reqID, q.body))
}

func (c *conformer) do(q *sreq) (*reply, error) {
	u := strings.TrimRight(c.o.Target, "/") + q.path
	if q.query != "" {
		u += "?" + q.query
	}
	req, err := http.NewRequestWithContext(c.ctx, q.method, u, bytes.NewReader(q.body))
	if err != nil {
		return nil, err
	}
	if q.ctype != "" {
		req.Header.Set("Content-Type", q.ctype)
	}
	if !q.unsigned {
		req.Header.Set(app.HeaderGateID, q.gate)
		req.Header.Set(app.HeaderTimestamp, q.ts)
		req.Header.Set(app.HeaderNonce, q.nonce)
		req.Header.Set(app.HeaderRequestID, q.reqID)
		req.Header.Set(app.HeaderSignature, q.sig)
	}
	resp, err := c.cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	r := &reply{status: resp.StatusCode, body: b, hdr: resp.Header}
	if s := resp.Header.Get(app.HeaderRespSig); s != "" {
		r.signed = true
		sig, _ := hex.DecodeString(s)
		r.sigOK = !q.unsigned && bytes.Equal(sig, app.GateResponseMAC(c.o.Key, q.nonce, resp.StatusCode, b))
	}
	if st := resp.Header.Get("Server-Time"); st != "" {
		if ms, err := strconv.ParseInt(st, 10, 64); err == nil {
			c.offset = time.Until(time.UnixMilli(ms))
		}
	}
	return r, nil
}

// expectError checks a JSON {"error":code} answer with the status, signed
// (and the signature valid) or not signed at all.
func expectError(r *reply, err error, status int, code string, signed bool) error {
	if err != nil {
		return err
	}
	var e struct {
		Error string `json:"error"`
	}
	switch {
	case r.status != status:
		return fmt.Errorf("status %d, want %d (body %.80s)", r.status, status, r.body)
	case !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json"):
		return fmt.Errorf("Content-Type %q, want application/json", r.hdr.Get("Content-Type"))
	case json.Unmarshal(r.body, &e) != nil || e.Error != code:
		return fmt.Errorf("body %.80s, want {\"error\":%q}", r.body, code)
	case signed && !r.sigOK:
		return fmt.Errorf("not signed or the Response-Signature does not verify (signed=%v)", r.signed)
	case !signed && r.signed:
		return errors.New("signed, but the contract says this answer is unsigned")
	}
	return nil
}

var answerKeys = []string{"request_id", "decision", "reason", "mode", "cache_version", "cache_age_s", "server_time_ms"}

func (c *conformer) checkAnswer(q *sreq, r *reply) error {
	if r.status != http.StatusOK {
		return fmt.Errorf("status %d (body %.80s)", r.status, r.body)
	}
	if !r.sigOK {
		return errors.New("Response-Signature missing or wrong")
	}
	var a map[string]any
	if err := json.Unmarshal(r.body, &a); err != nil {
		return fmt.Errorf("answer is not JSON: %v", err)
	}
	for _, k := range answerKeys {
		if _, ok := a[k]; !ok {
			return fmt.Errorf("answer lacks %q", k)
		}
	}
	if a["request_id"] != q.reqID {
		return fmt.Errorf("request_id %v, want %s", a["request_id"], q.reqID)
	}
	d, _ := a["decision"].(string)
	if !slices.Contains([]string{"allow", "deny", "manual"}, d) {
		return fmt.Errorf("decision %q", d)
	}
	reason, _ := a["reason"].(string)
	if !slices.Contains(app.Reasons, app.GateReason(reason)) {
		return fmt.Errorf("reason %q is not a contract reason code", reason)
	}
	if m, _ := a["mode"].(string); !app.GateMode(m).Valid() {
		return fmt.Errorf("mode %q", m)
	}
	if digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, c.o.Card); bytes.Contains(r.body, []byte(digits)) {
		return errors.New("the answer contains the card number")
	}
	return nil
}

type clause struct {
	name  string
	check func() error
}

func (c *conformer) cardBody() string { return `{"card":"` + c.o.Card + `"}` }

func (c *conformer) clauses() []clause {
	return []clause{
		{"healthz: GET /healthz is JSON with status and mode", func() error {
			r, err := c.do(&sreq{method: "GET", path: "/healthz", unsigned: true})
			if err != nil {
				return err
			}
			var h struct{ Status, Mode string }
			if r.status != 200 || json.Unmarshal(r.body, &h) != nil || h.Status == "" || !app.GateMode(h.Mode).Valid() {
				return fmt.Errorf("status %d body %.80s", r.status, r.body)
			}
			return nil
		}},
		{"clock: an unsigned request gets 401 with Server-Time (offset taken for the checks below)", func() error {
			r, err := c.do(&sreq{method: "POST", path: "/v1/verify", ctype: "application/json", body: []byte(c.cardBody()), unsigned: true})
			if err := expectError(r, err, 401, "unauthorized", false); err != nil {
				return err
			}
			if r.hdr.Get("Server-Time") == "" {
				return errors.New("no Server-Time header")
			}
			return nil
		}},
		{"signature: a signed request gets 200 with a valid Response-Signature and a full answer", func() error {
			q := c.signed(c.cardBody())
			r, err := c.do(q)
			if err != nil {
				return err
			}
			if err := c.checkAnswer(q, r); err != nil {
				return err
			}
			c.first, c.firstQ = r, q
			return nil
		}},
		{"idempotency: a retry (same Request-Id and body, new nonce) gets the same body", func() error {
			if c.first == nil {
				return errors.New("no first answer")
			}
			q := *c.firstQ
			c.sign(&q, 0)
			r, err := c.do(&q)
			if err != nil {
				return err
			}
			if err := c.checkAnswer(&q, r); err != nil {
				return err
			}
			if !bytes.Equal(r.body, c.first.body) {
				return fmt.Errorf("body differs: %.120s vs %.120s", r.body, c.first.body)
			}
			return nil
		}},
		{"409: the same Request-Id with another body gets signed 409 request_id_reused", func() error {
			if c.firstQ == nil {
				return errors.New("no first request")
			}
			q := *c.firstQ
			q.body = []byte(`{"card":"1000751099999999"}`)
			c.sign(&q, 0)
			r, err := c.do(&q)
			return expectError(r, err, 409, "request_id_reused", true)
		}},
		{"replay: the same nonce again gets 401 unauthorized, unsigned", func() error {
			q := c.signed(c.cardBody())
			if r, err := c.do(q); err != nil || r.status != 200 {
				return fmt.Errorf("first send: %v", err)
			}
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"skew: a timestamp 20 s off is accepted", func() error {
			q := c.signed(c.cardBody())
			c.sign(q, -20*time.Second)
			r, err := c.do(q)
			if err != nil {
				return err
			}
			return c.checkAnswer(q, r)
		}},
		{"skew: a timestamp 45 s behind gets 401", func() error {
			q := c.signed(c.cardBody())
			c.sign(q, -45*time.Second)
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"skew: a timestamp 45 s ahead gets 401", func() error {
			q := c.signed(c.cardBody())
			c.sign(q, 45*time.Second)
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"signature: a wrong signature gets 401", func() error {
			q := c.signed(c.cardBody())
			q.sig = flipHex(q.sig)
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"signature: a body changed after signing gets 401", func() error {
			q := c.signed(c.cardBody())
			q.body = []byte(`{"card":"1000751000000002"}`)
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"signature: an unknown gate gets 401", func() error {
			q := c.signed(c.cardBody())
			q.gate = "zz-no-such-gate-" + c.run
			c.sign(q, 0)
			r, err := c.do(q)
			return expectError(r, err, 401, "unauthorized", false)
		}},
		{"415: a signed request with Content-Type text/plain gets signed 415", func() error {
			q := c.signed(c.cardBody())
			q.ctype = "text/plain"
			r, err := c.do(q)
			return expectError(r, err, 415, "unsupported_media_type", true)
		}},
		{"query: a query string gets signed 400 query_not_allowed", func() error {
			q := c.signed(c.cardBody())
			q.query = "card=1"
			r, err := c.do(q)
			return expectError(r, err, 400, "query_not_allowed", true)
		}},
		{"json: duplicate keys get signed 400 bad_request", func() error {
			r, err := c.do(c.signed(`{"card":"` + c.o.Card + `","card":"1000751000000002"}`))
			return expectError(r, err, 400, "bad_request", true)
		}},
		{"json: an unknown field gets signed 400 bad_request", func() error {
			r, err := c.do(c.signed(`{"card":"` + c.o.Card + `","extra":1}`))
			return expectError(r, err, 400, "bad_request", true)
		}},
		{"json: both card and qr get signed 400 bad_request", func() error {
			r, err := c.do(c.signed(`{"card":"` + c.o.Card + `","qr":"RQ1.x.y"}`))
			return expectError(r, err, 400, "bad_request", true)
		}},
		{"404: a signed request for another path gets signed JSON 404", func() error {
			q := c.signed(c.cardBody())
			q.path = "/v1/verify2"
			c.sign(q, 0)
			r, err := c.do(q)
			return expectError(r, err, 404, "not_found", true)
		}},
		{"404: an unsigned request for another path gets unsigned JSON 404", func() error {
			r, err := c.do(&sreq{method: "GET", path: "/index.html", unsigned: true})
			return expectError(r, err, 404, "not_found", false)
		}},
		{"405: a signed GET /v1/verify gets signed JSON 405 with Allow: POST", func() error {
			q := &sreq{method: "GET", path: "/v1/verify", gate: c.o.Gate, reqID: c.newReqID()}
			c.sign(q, 0)
			r, err := c.do(q)
			if err := expectError(r, err, 405, "method_not_allowed", true); err != nil {
				return err
			}
			if r.hdr.Get("Allow") != "POST" {
				return fmt.Errorf("Allow %q", r.hdr.Get("Allow"))
			}
			return nil
		}},
		{"413: a body over 4 KiB gets JSON 413 too_large, unsigned", func() error {
			q := c.signed(`{"card":"` + strings.Repeat("1", 5000) + `"}`)
			r, err := c.do(q)
			return expectError(r, err, 413, "too_large", false)
		}},
		{"rules: an answer to the service still works after the refusals (a new signed request gets 200)", func() error {
			q := c.signed(c.cardBody())
			r, err := c.do(q)
			if err != nil {
				return err
			}
			return c.checkAnswer(q, r)
		}},
	}
}

func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

// ConformanceReport prints one line per clause and a summary; it returns
// false when any clause failed.
func ConformanceReport(w io.Writer, rs []ClauseResult) bool {
	fail := 0
	for _, r := range rs {
		if r.Pass {
			fmt.Fprintf(w, "PASS  %s\n", r.Clause)
		} else {
			fail++
			fmt.Fprintf(w, "FAIL  %s\n      %s\n", r.Clause, r.Detail)
		}
	}
	fmt.Fprintf(w, "%d clauses: %d passed, %d failed\n", len(rs), len(rs)-fail, fail)
	return fail == 0
}
