// Package verify is the station's gate verify service (docs/contracts.md): POST
// /v1/verify on the station LAN, answered from the offline gate cache.
//
// Every request is signed by its gate (HMAC-SHA256 with the gate's 256-bit
// key over method, path, gate id, timestamp, nonce, request id and body
// hash; ±30 s; nonce replay cache); every failure of that check gets the
// same 401 body, is counted and audited, and never an answer. Every answer
// is signed back over the request nonce, so a rogue LAN device can neither
// ask nor answer in a gate's name. The same request id from the same gate
// gets the same answer (a retry never consumes a second ride or records a
// second event).
//
// Answers carry a decision (allow / deny / manual), a reason code, the
// mode and the cache version and age — never a name, an ID number, a card
// number or a health detail. GET /healthz and GET /metrics (Prometheus
// text) sit beside it; openapi.yaml documents the API.
package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stationdesk/app"
	"stationdesk/offline/syncwire"
)

// Lookup is what the server needs from the cache (*cache.Cache).
type Lookup interface {
	Lookup(ctx context.Context, h syncwire.CardHash) (app.GateStatus, error)
	LookupPerson(ctx context.Context, person uint64) (app.GateStatus, error)
	Freshness() app.CacheFreshness
}

// Trust is the verified material from the sync manifest.
type Trust struct {
	CardKey []byte
	// Hasher, when set, hashes card numbers with CardKey without a key
	// schedule per request (TrustFromSync sets it).
	Hasher  *syncwire.CardHasher
	Issuers map[uint16]ed25519.PublicKey
	Policy  app.Policy
	QRSkew  time.Duration
}

// EventSink records answered requests (the gate-event outbox). Record may
// block for backpressure; an error makes the server answer 503 so the gate
// retries with the same request id.
type EventSink interface {
	Record(ctx context.Context, e app.GateEvent) error
}

// Config configures a Server.
type Config struct {
	Lookup Lookup
	Trust  func() *Trust // nil result: never synced
	Keys   *KeyStore
	Events EventSink    // optional
	Audit  app.AuditLog // optional; rejects and admin actions
	Clock  app.Clock
	Logger *slog.Logger
	Gauges Gauges
	// OutboxStats feeds the GUI's backlog figures (optional).
	OutboxStats func() app.OutboxStats
	// Limits (zero = defaults).
	BodyLimit  int64         // default 4 KiB
	MaxConns   int           // default 512 (sets Conn.Max when that is zero)
	Conn       ConnLimits    // connection guard (see conns.go)
	NonceCache int           // default 1,000,000 entries
	Window     time.Duration // default 30 s
	// TLS, when set, serves the gate listener over TLS with this config
	// (the station certificate gates pin; see LoadOrCreateTLS).
	TLS *tls.Config
	// StatusSeparate moves /healthz and /metrics off the gate listener
	// (404 there); serve them with ServeStatus on a listener of their own.
	StatusSeparate bool
	// RejectLogPerSec bounds the log lines about rejected requests
	// (default 5 a second, bursts of 20; the rest are counted in the next
	// line's "suppressed").
	RejectLogPerSec float64
	// Terminal is the station terminal id for audit entries.
	Terminal string
}

// Server is the verify service. It implements app.GateService for the GUI.
type Server struct {
	cfg          Config
	now          func() time.Time
	log          *slog.Logger
	mode         atomic.Pointer[app.GateMode]
	nonces       *nonceCache
	answers      *answerCache
	met          *metrics
	audit        chan app.AuditEntry
	gates        sync.Map // gate id -> *gateStats
	recent       recentRing
	started      time.Time
	auditDropped atomic.Int64
	conns        connMetrics
	statusLimit  *tokenBucket
	rejLog       *rejectLog
}

type gateStats struct {
	lastSeen atomic.Int64 // unix ms
	minute   atomic.Int64 // unix minute of count
	count    atomic.Int64
	prev     atomic.Int64
}

// New returns a Server; Start or Serve runs it.
func New(cfg Config) (*Server, error) {
	if cfg.Lookup == nil || cfg.Keys == nil || cfg.Trust == nil {
		return nil, errors.New("verify: Lookup, Trust and Keys are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = app.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 4 << 10
	}
	if cfg.Conn.Max == 0 {
		cfg.Conn.Max = cfg.MaxConns
	}
	if cfg.RejectLogPerSec == 0 {
		cfg.RejectLogPerSec = 5
	}
	if cfg.NonceCache == 0 {
		cfg.NonceCache = 1_000_000
	}
	if cfg.Window == 0 {
		cfg.Window = app.GateClockWindow
	}
	if cfg.Terminal == "" {
		cfg.Terminal = "station"
	}
	s := &Server{cfg: cfg, now: cfg.Clock.Now, log: cfg.Logger, nonces: newNonceCache(cfg.NonceCache, 2*cfg.Window+time.Second),
		answers: newAnswerCache(65536, 10*time.Minute), met: newMetrics(), audit: make(chan app.AuditEntry, 1024), started: cfg.Clock.Now()}
	m := cfg.Keys.Mode()
	s.mode.Store(&m)
	s.recent.buf = make([]app.GateEvent, 256)
	s.statusLimit = newTokenBucket(20, 40)
	s.rejLog = &rejectLog{bucket: newTokenBucket(cfg.RejectLogPerSec, 4*cfg.RejectLogPerSec)}
	go s.auditLoop()
	return s, nil
}

// Handler returns the gate listener's HTTP handler (for tests and custom
// servers). It routes by exact path — no redirects, no path cleaning, so
// the path a gate signs is the path that is answered:
//
//	POST /v1/verify   the signed verify call
//	GET  /healthz     service state (unless StatusSeparate)
//	GET  /metrics     Prometheus text (unless StatusSeparate)
//
// Everything else is a JSON 404 or 405, signed when the request carried a
// valid gate signature.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathVerify:
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				s.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed")
				return
			}
			s.handleVerify(w, r)
		case "/healthz", "/metrics":
			if s.cfg.StatusSeparate {
				s.refuse(w, r, http.StatusNotFound, "not_found")
				return
			}
			// On the gate listener the status endpoints are rate-limited
			// apart and never keep a connection open, so polling them (or
			// abusing them) cannot take a gate's slot.
			w.Header().Set("Connection", "close")
			if !s.statusLimit.allow(time.Now()) {
				s.rejected("", "status_rate", r.RemoteAddr)
				writeJSONError(w, http.StatusTooManyRequests, "too_many_requests")
				return
			}
			s.statusHandler(w, r)
		default:
			s.refuse(w, r, http.StatusNotFound, "not_found")
		}
	})
}

// StatusHandler serves GET /healthz and GET /metrics for a listener of
// their own (ServeConfig.status_listen).
func (s *Server) StatusHandler() http.Handler { return http.HandlerFunc(s.statusHandler) }

func (s *Server) statusHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	switch r.URL.Path {
	case "/healthz":
		s.handleHealth(w, r)
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.met.write(w, s.cfg.Gauges)
		s.conns.write(w)
	default:
		writeJSONError(w, http.StatusNotFound, "not_found")
	}
}

// PathVerify is the verify call's path.
const PathVerify = "/v1/verify"

// HTTPServer returns a hardened http.Server for the handler: a short
// deadline for each complete request (header and body), write and idle
// timeouts, a small header limit (gosec G112), and the hooks the
// connection guard needs.
func (s *Server) HTTPServer() *http.Server {
	lim := s.cfg.Conn.withDefaults()
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: lim.FirstRequest,
		ReadTimeout:       lim.FirstRequest,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext:       connContext,
	}
}

// Serve accepts gates on l under the connection guard (and TLS when
// configured) until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := s.HTTPServer()
	gl := newGuardListener(l, s.cfg.Conn, s.cfg.TLS, &s.conns)
	hs.ConnState = gl.connStateHook
	return serveUntil(ctx, hs, gl)
}

// ServeStatus serves /healthz and /metrics on a listener of their own
// (monitoring VLAN or loopback) until ctx ends.
func (s *Server) ServeStatus(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.StatusHandler(), ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	return serveUntil(ctx, hs, netutilLimit(l, 16))
}

func serveUntil(ctx context.Context, hs *http.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		return nil
	case err := <-errc:
		return err
	}
}

// ---- verify ----

type verifyRequest struct {
	Card string `json:"card,omitempty"`
	QR   string `json:"qr,omitempty"`
}

var unauthorizedBody = []byte(`{"error":"unauthorized"}`)

// reject answers 401 with the same shape for every auth failure (plus the
// server time, so an honest gate with a wrong clock can tell), counts,
// logs (rate-limited) and audits it asynchronously, and closes the
// connection.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, gate, reason string) {
	s.rejected(gate, reason, r.RemoteAddr)
	s.auditReject(gate, reason, r.RemoteAddr)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Server-Time", strconv.FormatInt(s.now().UnixMilli(), 10))
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(unauthorizedBody)
}

// rejected counts and logs a request refused before an answer. The log
// line names the gate id as sent (or "?" when it is not a valid id), the
// reason code and the source address; never a header value, body byte or
// card number.
func (s *Server) rejected(gate, reason, remote string) {
	s.met.reject(reason)
	s.rejLog.log(s.log, s.now(), safeGate(gate), reason, remote)
}

// writeJSONError writes {"error":code} unsigned and closes the connection.
func writeJSONError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
}

// authResult is the outcome of checking a request's gate signature.
type authResult struct {
	auth app.GateRequestAuth
	key  *gateKey
	bh   [sha256.Size]byte
}

// authenticate checks the five auth headers, the clock window, the MAC
// (against each active key of the gate) and the nonce. reason is "" on
// success, else the reject reason for counting.
func (s *Server) authenticate(r *http.Request, body []byte, now time.Time) (authResult, string) {
	var res authResult
	a, err := app.ParseGateAuth(r.Header.Get)
	res.auth = a
	if err != nil {
		return res, "malformed"
	}
	if d := now.Sub(a.Timestamp); d > s.cfg.Window || d < -s.cfg.Window {
		return res, "clock_window"
	}
	res.bh = sha256.Sum256(body)
	keys := s.cfg.Keys.activeKeys(a.Gate)
	for _, k := range keys {
		mac := k.requestMAC(r.Method, r.URL.Path, a.Gate, a.TSRaw, a.Nonce, a.RequestID, &res.bh)
		if hmac.Equal(mac[:], a.Signature) {
			res.key = k
		}
	}
	if res.key == nil {
		if keys == nil {
			return res, "unknown_gate"
		}
		return res, "bad_signature"
	}
	var nonce [16]byte
	if _, err := hex.Decode(nonce[:], []byte(a.Nonce)); err != nil { // checked by ParseGateAuth
		return res, "malformed"
	}
	if !s.nonces.add(a.Gate, nonce, now) {
		return res, "replay"
	}
	return res, ""
}

// refuse answers a request for a wrong path or method: signed when it
// carried a valid gate signature (a gate may act on it: its firmware is
// calling the wrong URL), else plain JSON; the connection is closed.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, code string) {
	s.rejected(r.Header.Get(app.HeaderGateID), code, r.RemoteAddr)
	w.Header().Set("Connection", "close")
	if r.Header.Get(app.HeaderSignature) != "" {
		bp := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(bp)
		if body, err := readBody(w, r.Body, (*bp)[:0], s.cfg.BodyLimit); err == nil {
			if res, reason := s.authenticate(r, body, s.now()); reason == "" {
				s.writeSigned(w, res.key, res.auth.Nonce, status, errorBody(code))
				return
			}
		}
	}
	writeJSONError(w, status, code)
}

func errorBody(code string) []byte { return []byte(`{"error":"` + code + `"}`) }

// jsonMediaType reports whether a Content-Type is application/json, with
// at most a charset=utf-8 parameter (case-insensitive).
func jsonMediaType(ct string) bool {
	mt, rest, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return true
	}
	k, v, ok := strings.Cut(rest, "=")
	return ok && strings.EqualFold(strings.TrimSpace(k), "charset") && strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "utf-8")
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := readBody(w, r.Body, (*bp)[:0], s.cfg.BodyLimit)
	if cap(body) <= 64<<10 {
		*bp = body[:0]
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.rejected(r.Header.Get(app.HeaderGateID), "too_large", r.RemoteAddr)
			writeJSONError(w, http.StatusRequestEntityTooLarge, "too_large")
			return
		}
		s.rejected(r.Header.Get(app.HeaderGateID), "read", r.RemoteAddr)
		writeJSONError(w, http.StatusBadRequest, "bad_request")
		return
	}
	now := s.now()
	res, reason := s.authenticate(r, body, now)
	if reason != "" {
		s.reject(w, r, res.auth.Gate, reason)
		return
	}
	a, key := res.auth, res.key
	// Authenticated: the connection may be kept alive, and every answer
	// from here on is signed.
	markAuthenticated(r)
	s.seen(a.Gate, now)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		// The signature covers the path only: a query string would be
		// unsigned input, so none is accepted.
		s.rejected(a.Gate, "query_not_allowed", r.RemoteAddr)
		s.writeSigned(w, key, a.Nonce, http.StatusBadRequest, queryBody)
		return
	}
	if !jsonMediaType(r.Header.Get("Content-Type")) {
		s.rejected(a.Gate, "unsupported_media_type", r.RemoteAddr)
		s.writeSigned(w, key, a.Nonce, http.StatusUnsupportedMediaType, mediaTypeBody)
		return
	}
	idem := answerKey{a.Gate, a.RequestID}
	if prev, hit := s.answers.get(idem, now); hit {
		if prev.bh != res.bh {
			// Same request id, different body: a gate whose counter
			// restarted, or a bug. Never the old answer (it was for
			// another card); the gate must use a new request id.
			s.rejected(a.Gate, "request_id_reused", r.RemoteAddr)
			s.writeSigned(w, key, a.Nonce, http.StatusConflict, reusedBody)
			return
		}
		s.writeSigned(w, key, a.Nonce, http.StatusOK, prev.body)
		return
	}
	req, err := parseVerifyBody(body)
	if err != nil {
		s.rejected(a.Gate, "malformed_body", r.RemoteAddr)
		s.writeSigned(w, key, a.Nonce, http.StatusBadRequest, badRequestBody)
		return
	}
	fresh := s.cfg.Lookup.Freshness()
	ans, ev, err := s.decide(r.Context(), req, fresh, now)
	if err != nil {
		s.writeSigned(w, key, a.Nonce, http.StatusServiceUnavailable, unavailableBody)
		return
	}
	out := appendAnswer(make([]byte, 0, 192), a.RequestID, ans, fresh, now)
	ev.Gate, ev.RequestID, ev.At, ev.CacheVersion = a.Gate, a.RequestID, now, fresh.Version
	ev.LatencyMicro = time.Since(start).Microseconds()
	if s.cfg.Events != nil {
		if err := s.cfg.Events.Record(r.Context(), ev); err != nil {
			// Backpressure: the outbox cannot take the event, so there is
			// no answer either; the gate retries with the same request id.
			s.rejected(a.Gate, "outbox_full", r.RemoteAddr)
			s.writeSigned(w, key, a.Nonce, http.StatusServiceUnavailable, unavailableBody)
			return
		}
	}
	s.answers.put(idem, out, res.bh, now)
	s.recent.add(ev)
	s.met.decision(ans)
	s.writeSigned(w, key, a.Nonce, http.StatusOK, out)
	s.met.latency(time.Since(start))
}

var (
	badRequestBody  = []byte(`{"error":"bad_request"}`)
	queryBody       = []byte(`{"error":"query_not_allowed"}`)
	mediaTypeBody   = []byte(`{"error":"unsupported_media_type"}`)
	reusedBody      = []byte(`{"error":"request_id_reused"}`)
	unavailableBody = []byte(`{"error":"unavailable"}`)
	jsonContentType = []string{"application/json"}
)

func safeGate(g string) string {
	if app.ValidGateID(g) {
		return g
	}
	return "?"
}

func (s *Server) writeSigned(w http.ResponseWriter, key *gateKey, nonce string, status int, body []byte) {
	h := w.Header()
	mac := key.responseMAC(nonce, status, body)
	// Canonical keys set directly: Header.Set would canonicalise and
	// allocate on every answer. The shared content-type slice is never
	// modified.
	h["Content-Type"] = jsonContentType
	h[app.HeaderRespSig] = []string{hex.EncodeToString(mac[:])}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendAnswer writes the answer JSON without reflection (hot path). All
// values are from closed sets or digits, so no escaping is needed; the
// request id was validated to [A-Za-z0-9._-].
func appendAnswer(b []byte, reqID string, a app.GateAnswer, f app.CacheFreshness, now time.Time) []byte {
	b = append(b, `{"request_id":"`...)
	b = append(b, reqID...)
	b = append(b, `","decision":"`...)
	b = append(b, a.Decision...)
	b = append(b, `","reason":"`...)
	b = append(b, a.Reason...)
	b = append(b, `","mode":"`...)
	b = append(b, a.Mode...)
	b = append(b, '"')
	if a.WouldBe != "" {
		b = append(b, `,"would_be":"`...)
		b = append(b, a.WouldBe...)
		b = append(b, '"')
	}
	b = append(b, `,"cache_version":`...)
	b = strconv.AppendUint(b, f.Version, 10)
	b = append(b, `,"cache_age_s":`...)
	b = strconv.AppendInt(b, int64(f.Age(now)/time.Second), 10)
	b = append(b, `,"server_time_ms":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	return append(b, '}')
}

func normaliseCard(s string) (string, bool) {
	var buf [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			buf[n] = c
			n++
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	if n < 8 || n > 20 {
		return "", false
	}
	return string(buf[:n]), true
}

// decide looks the medium up and applies rules and mode. Errors mean the
// cache could not be read (503).
func (s *Server) decide(ctx context.Context, req verifyRequest, fresh app.CacheFreshness, now time.Time) (app.GateAnswer, app.GateEvent, error) {
	mode := *s.mode.Load()
	ev := app.GateEvent{Mode: mode}
	t := s.cfg.Trust()
	pol := policyOf(t)
	var d app.GateDecision
	var r app.GateReason
	switch {
	case req.Card != "":
		ev.Medium = "card"
		num, ok := normaliseCard(req.Card)
		switch {
		case !ok:
			d, r = app.DecisionManual, app.ReasonBadMedium
		case t == nil:
			d, r = app.DecisionManual, app.ReasonCacheEmpty
		default:
			st, h, err := s.lookupCard(ctx, t, num)
			ev.CardToken = hex.EncodeToString(h[:])
			if err != nil {
				return app.GateAnswer{}, ev, err
			}
			d, r = app.DecideGate(st, fresh, now, pol)
		}
	default:
		ev.Medium = "qr"
		d, r = s.decideQR(ctx, req.QR, t, fresh, now, pol)
		if d == "" {
			return app.GateAnswer{}, ev, errors.New("cache read")
		}
	}
	ans := app.ApplyMode(mode, d, r)
	ev.Decision, ev.Reason = ans.Decision, ans.Reason
	return ans, ev, nil
}

// lookupCard looks a normalised card number up in the cache under the
// trust state's card key.
func (s *Server) lookupCard(ctx context.Context, t *Trust, num string) (app.GateStatus, syncwire.CardHash, error) {
	var h syncwire.CardHash
	if t.Hasher != nil {
		h = t.Hasher.Hash(num)
	} else {
		h = syncwire.HashCard(t.CardKey, num)
	}
	st, err := s.cfg.Lookup.Lookup(ctx, h)
	return st, h, err
}

// CardOutlook is what a gate is told for the card right now: the same
// look-up, rules and mode as a verify request with this card, with the
// cached facts behind the answer for the desk (app.GateOutlook). Nothing is
// recorded: it is no gate event and counts for no gate.
func (s *Server) CardOutlook(ctx context.Context, cardNumber string) (app.GateOutlook, error) {
	num, ok := normaliseCard(cardNumber)
	if !ok {
		return app.GateOutlook{}, app.NewError(app.CodeInvalid, "invalid_card_number", "卡号格式不正确。", "Not a card number.")
	}
	now := s.now()
	fresh := s.cfg.Lookup.Freshness()
	t := s.cfg.Trust()
	pol := policyOf(t)
	out := app.GateOutlook{TestAge: -1, NATWindow: pol.NATWindow, CacheAge: fresh.Age(now)}
	d, r := app.DecisionManual, app.ReasonCacheEmpty
	if t != nil {
		st, _, err := s.lookupCard(ctx, t, num)
		if err != nil {
			return app.GateOutlook{}, app.WrapError(err, app.CodeUnavailable, "cache_read", "闸机缓存暂时无法读取。", "The gate cache cannot be read just now.")
		}
		if st.Found {
			out.Bound, out.Color = true, st.Color
			if !st.LastNegative.IsZero() {
				out.TestAge = max(now.Sub(st.LastNegative), 0)
			}
		}
		d, r = app.DecideGate(st, fresh, now, pol)
	}
	out.Answer = app.ApplyMode(*s.mode.Load(), d, r)
	return out, nil
}

func (s *Server) decideQR(ctx context.Context, tok string, t *Trust, fresh app.CacheFreshness, now time.Time, pol app.Policy) (app.GateDecision, app.GateReason) {
	q, err := app.ParseRideQR(tok)
	if err != nil {
		return app.DecisionDeny, app.ReasonQRInvalid
	}
	if t == nil {
		return app.DecisionManual, app.ReasonCacheEmpty
	}
	pub, ok := t.Issuers[q.Issuer]
	if !ok {
		return app.DecisionManual, app.ReasonQRUnknownIssuer
	}
	if reason, err := q.Verify(pub, now, t.QRSkew); err != nil {
		if reason == app.ReasonQRNotYetValid {
			// Issued in the station's future: most likely the station's
			// clock is behind (the skew warning on the gates screen says
			// so). Staff check the rider rather than turning them away.
			return app.DecisionManual, reason
		}
		return app.DecisionDeny, reason
	}
	st, err := s.cfg.Lookup.LookupPerson(ctx, q.Person)
	if err != nil {
		return "", ""
	}
	return app.DecideGate(st, fresh, now, pol)
}

func (s *Server) seen(gate string, now time.Time) {
	v, ok := s.gates.Load(gate)
	if !ok {
		v, _ = s.gates.LoadOrStore(gate, &gateStats{})
	}
	g := v.(*gateStats)
	g.lastSeen.Store(now.UnixMilli())
	min := now.Unix() / 60
	if old := g.minute.Load(); old != min && g.minute.CompareAndSwap(old, min) {
		if old == min-1 {
			g.prev.Store(g.count.Swap(0))
		} else {
			g.prev.Store(0)
			g.count.Store(0)
		}
	}
	g.count.Add(1)
}

// policyOf is the policy of a trust state (the default without one).
func policyOf(t *Trust) app.Policy {
	if t == nil {
		return app.DefaultPolicy()
	}
	return t.Policy
}

func (s *Server) policy() app.Policy { return policyOf(s.cfg.Trust()) }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	f := s.cfg.Lookup.Freshness()
	now := s.now()
	pol := s.policy()
	state := "ok"
	switch {
	case f.FreshAsOf.IsZero():
		state = "never_synced"
	case f.Age(now) > pol.CacheManualAfter:
		state = "stale_manual"
	case f.Age(now) > pol.CacheWarnAfter:
		state = "stale_warn"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": state, "mode": *s.mode.Load(), "cache_version": f.Version,
		"cache_age_s": int64(f.Age(now) / time.Second)})
}

// ---- audit ----

func (s *Server) auditReject(gate, reason, remote string) {
	if s.cfg.Audit == nil {
		return
	}
	host, _, _ := net.SplitHostPort(remote)
	e := app.AuditEntry{Operator: "system", Terminal: s.cfg.Terminal, Action: app.ActGateReject, Subject: "gate:" + gate,
		Outcome: app.OutcomeDenied, Detail: "reason=" + reason + " from=" + host}
	select {
	case s.audit <- e:
	default:
		// A flood of forged requests must not block answering real gates:
		// count what could not be queued and say so in the next entry.
		s.auditDropped.Add(1)
	}
}

func (s *Server) auditLoop() {
	for e := range s.audit {
		if n := s.auditDropped.Swap(0); n > 0 {
			e.Detail += " (+" + strconv.FormatInt(n, 10) + " more rejects not itemised)"
		}
		if err := s.cfg.Audit.Append(context.Background(), e); err != nil {
			s.log.Warn("audit gate reject", "err", err)
		}
	}
}

func (s *Server) auditAdmin(act app.AuditAction, operator, subject, detail string, err error) {
	if s.cfg.Audit == nil {
		return
	}
	e := app.NewAuditEntry(operator, "system", act, subject, app.OutcomeOf(err), detail)
	e.Terminal = s.cfg.Terminal
	_ = s.cfg.Audit.Append(context.Background(), e)
}

// ---- recent decisions ----

type recentRing struct {
	mu  sync.Mutex
	buf []app.GateEvent
	n   int
}

func (r *recentRing) add(e app.GateEvent) {
	r.mu.Lock()
	r.buf[r.n%len(r.buf)] = e
	r.n++
	r.mu.Unlock()
}

func (r *recentRing) last(n int) []app.GateEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > len(r.buf) {
		n = len(r.buf)
	}
	if n > r.n {
		n = r.n
	}
	out := make([]app.GateEvent, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, r.buf[(r.n-1-i)%len(r.buf)])
	}
	return out
}
