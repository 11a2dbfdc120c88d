package centralsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"

	"stationdesk/app"
)

// Body limits. Every request body is capped (an oversized body is refused before it is read); the
// gate-event batch is the only large one (≤ 5000 events).
const (
	maxBody      = 64 << 10
	maxBatchBody = 4 << 20
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// apiError is a refusal in the contract's error shape. Messages never hold
// personal data.
type apiError struct {
	status  int
	code    string
	zh, en  string
	details map[string]any
}

func (e *apiError) Error() string { return e.code }

func errInternal() *apiError {
	return &apiError{status: 500, code: "internal", zh: "中心系统内部错误。", en: "Central internal error."}
}

func errBadRequest(en string) *apiError {
	return &apiError{status: 400, code: "bad_request", zh: "请求格式错误。", en: en}
}

func errNotFound(zh, en string) *apiError {
	return &apiError{status: 404, code: "not_found", zh: zh, en: en}
}

type errorBody struct {
	Code      string         `json:"code"`
	MessageZH string         `json:"message_zh"`
	MessageEN string         `json:"message_en"`
	Details   map[string]any `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{Code: e.code, MessageZH: e.zh, MessageEN: e.en, Details: e.details})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = 500
		b = []byte(`{"code":"internal","message_zh":"中心系统内部错误。","message_en":"Central internal error."}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// routes builds the mux. /v1 routes pass auth → faults → handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	v1 := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.withFaults(w, r, func(w http.ResponseWriter, r *http.Request) {
				station, ok := s.station(r)
				if !ok {
					writeError(w, &apiError{status: 401, code: "unauthorized", zh: "未授权。", en: "Unauthorized."})
					return
				}
				h(w, r.WithContext(context.WithValue(r.Context(), stationKey{}, station)))
			})
		})
	}
	v1("GET /v1/policy", s.handlePolicy)
	v1("POST /v1/cards/status", s.query(s.cardStatus))
	v1("POST /v1/bindings", s.keyed("bind", maxBody, s.bind))
	v1("POST /v1/bindings/unbind", s.keyed("unbind", maxBody, s.unbind))
	v1("POST /v1/proxy-codes", s.keyed("proxy-code", maxBody, s.sendCode))
	v1("POST /v1/proxy-codes/verify", s.query(s.verifyCode))
	v1("POST /v1/persons/bindings", s.query(s.personBindings))
	v1("POST /v1/persons/health", s.query(s.personHealth))
	v1("POST /v1/welfare/eligibility", s.query(s.welfare))
	v1("POST /v1/records/sales", s.keyed("sale", maxBody, s.recordSale))
	v1("POST /v1/records/manual-checks", s.keyed("manual-check", maxBody, s.recordCheck))
	v1("POST /v1/records/checkpoint", s.keyed("checkpoint", maxBody, s.recordCheckpoint))
	v1("GET /v1/records/checkpoint", s.handleGetCheckpoint)
	v1("POST /v1/gate-events", s.keyed("gate-events", maxBatchBody, s.gateEvents))
	v1("/v1/sync/", s.serveMounts)

	admin := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if !bearerEqual(r, s.cfg.AdminToken) {
				writeError(w, &apiError{status: 401, code: "unauthorized", zh: "未授权。", en: "Unauthorized."})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			h(w, r)
		})
	}
	admin("GET /admin/faults", s.adminGetFaults)
	admin("PUT /admin/faults", s.adminSetFaults)
	admin("GET /admin/riders", s.adminRiders)
	admin("POST /admin/riders/{key}/health", s.adminSetHealth)
	admin("GET /admin/proxy-codes", s.adminCodes)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("没有此接口。", "No such endpoint."))
	})
	return mux
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) serveMounts(w http.ResponseWriter, r *http.Request) {
	s.smu.Lock()
	ms := s.mounts
	s.smu.Unlock()
	for _, m := range ms {
		if strings.HasPrefix(r.URL.Path, m.prefix) {
			m.h.ServeHTTP(w, r)
			return
		}
	}
	writeError(w, errNotFound("同步服务未启用。", "Sync is not enabled on this simulator."))
}

type stationKey struct{}

func stationOf(ctx context.Context) string {
	s, _ := ctx.Value(stationKey{}).(string)
	return s
}

// station returns the station id of the request's bearer token. The
// comparison is constant-time for each configured token.
func (s *Server) station(r *http.Request) (string, bool) {
	got, ok := bearer(r)
	if !ok {
		return "", false
	}
	found := ""
	for tok, id := range s.cfg.StationTokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
			found = id
		}
	}
	return found, found != ""
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return h[len(p):], true
}

func bearerEqual(r *http.Request, want string) bool {
	got, ok := bearer(r)
	return ok && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// readBody reads a capped body and checks it is one JSON value.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: 413, code: "too_large", zh: "请求过大。", en: "Request body too large."}
		}
		return nil, errBadRequest("Could not read the request body.")
	}
	return b, nil
}

// decodeStrict decodes b into v, refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("Malformed JSON body.")
	}
	if dec.More() {
		return errBadRequest("Trailing data after the JSON body.")
	}
	return nil
}

// queryFunc answers a query POST from its body.
type queryFunc func(ctx context.Context, body []byte) (int, any, *apiError)

// query wraps a read-only POST: the key is required (every POST carries
// one) but nothing is stored.
func (s *Server) query(fn queryFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !keyPattern.MatchString(r.Header.Get("Idempotency-Key")) {
			writeError(w, &apiError{status: 400, code: "missing_idempotency_key", zh: "缺少幂等键。", en: "Idempotency-Key header missing or malformed."})
			return
		}
		body, aerr := readBody(w, r, maxBody)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		status, v, aerr := fn(r.Context(), body)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		writeJSON(w, status, v)
	}
}

// keyedFunc applies a state-changing POST inside the write transaction.
type keyedFunc func(ctx context.Context, tx *sql.Tx, body []byte) (int, any, *apiError)

// refusal carries an apiError out of WriteTx so the transaction rolls back.
type refusal struct{ e *apiError }

func (r refusal) Error() string { return r.e.code }

// keyed wraps a state-changing POST with the idempotency rules: in one
// write transaction, a stored answer for (station, key) is replayed (or 422
// if the body differs), otherwise fn runs and a 2xx answer is stored with
// the effect, so the effect and its stored answer commit together or not at
// all. Refusals store nothing.
func (s *Server) keyed(route string, limit int64, fn keyedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if !keyPattern.MatchString(key) {
			writeError(w, &apiError{status: 400, code: "missing_idempotency_key", zh: "缺少幂等键。", en: "Idempotency-Key header missing or malformed."})
			return
		}
		body, aerr := readBody(w, r, limit)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil {
			writeError(w, errBadRequest("Malformed JSON body."))
			return
		}
		sum := sha256.Sum256(compact.Bytes())
		hash := hex.EncodeToString(sum[:])
		station := stationOf(r.Context())
		var (
			status   int
			out      []byte
			replayed bool
		)
		// wmu queues writers fairly (sync.Mutex hands off in FIFO order
		// under contention; database/sql's wait for the single writer
		// connection does not), which keeps the latency tail short.
		s.wmu.Lock()
		err := s.db.WriteTx(r.Context(), func(tx *sql.Tx) error {
			var gotRoute, gotHash string
			var gotStatus int
			var resp []byte
			err := tx.QueryRowContext(r.Context(), `SELECT route, body_hash, status, response FROM idempotency WHERE station = ? AND key = ?`, station, key).
				Scan(&gotRoute, &gotHash, &gotStatus, &resp)
			switch {
			case err == nil:
				if gotRoute != route || gotHash != hash {
					return refusal{&apiError{status: 422, code: "idempotency_conflict",
						zh: "同一幂等键对应了不同的请求内容。", en: "This Idempotency-Key was used with a different request."}}
				}
				status, out, replayed = gotStatus, resp, true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			st, v, aerr := fn(r.Context(), tx, body)
			if aerr != nil {
				return refusal{aerr}
			}
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(r.Context(), `INSERT INTO idempotency(station, key, route, body_hash, status, response, created_at) VALUES (?,?,?,?,?,?,?)`,
				station, key, route, hash, st, b, s.clock.Now().UnixMilli()); err != nil {
				return err
			}
			status, out = st, b
			return nil
		})
		s.wmu.Unlock()
		var ref refusal
		switch {
		case errors.As(err, &ref):
			writeError(w, ref.e)
			return
		case err != nil:
			s.log.Warn("central simulator write failed", "route", route, "err", err)
			writeError(w, errInternal())
			return
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeRaw(w, status, out)
	}
}

// parseDoc validates a wire document with the simulator's clock.
func (s *Server) parseDoc(t, n string) (app.DocNumber, *apiError) {
	typ, err := app.ParseDocType(t)
	if err == nil {
		var d app.DocNumber
		d, err = app.ParseDocAt(typ, n, s.clock.Now())
		if err == nil {
			return d, nil
		}
	}
	return app.DocNumber{}, &apiError{status: 400, code: "invalid_document", zh: "证件号码无效，请核对证件类型和号码。", en: "Invalid document; check the type and the number."}
}

func parseCard(n string) (string, *apiError) {
	c, err := app.ParseCardNumber(n)
	if err != nil {
		return "", &apiError{status: 400, code: "invalid_card_number", zh: "卡号无效。", en: "Invalid card number."}
	}
	return c, nil
}
