package gatesim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"stationdesk/app"
)

// QRFunc issues a ride code for a demo rider at a moment (the central
// simulator's RideQRFunc in demo mode).
type QRFunc func(riderKey string, at time.Time) (string, error)

// DemoGateOptions are optional settings of NewDemoGate.
type DemoGateOptions struct {
	// GateID is the simulated gate's id [demo-gate-1].
	GateID string
	// Clock stamps the signed requests [app.SystemClock]; it must be the
	// verify service's clock, or requests fall outside its ±30 s window.
	Clock app.Clock
	// Client sends the requests [a client with a 5 s timeout].
	Client *http.Client
	// ExpiredAge is how long ago an "expired" ride code was issued [10 min]
	// — well past its 60 s validity plus the 30 s clock allowance.
	ExpiredAge time.Duration
}

// DemoGate is a simulated gate of demo mode: it commissions itself on the
// station's verify service (AddGate; when a gate of that id exists from an
// earlier run, RevokeGate then AddGate, since that run's key is lost), then sends real HMAC-signed POST
// /v1/verify requests over loopback and checks every answer's signature,
// exactly like a gate vendor's device. It implements app.DemoGate and is
// safe for concurrent use.
//
// Its key lives only in memory: it is never logged or shown. When a
// supervisor revokes the gate on the gates screen, its requests get 401
// and every tap returns a CodeUnauthorized error ("gate_rejected") — the
// demonstration of a revoked key.
type DemoGate struct {
	target string
	id     string
	qr     QRFunc
	clock  app.Clock
	client *http.Client
	expAge time.Duration

	mu  sync.Mutex
	key app.GateKey
}

var _ app.DemoGate = (*DemoGate)(nil)

// NewDemoGate commissions the simulated gate on svc and returns it. target
// is the verify service's base URL (http://127.0.0.1:PORT). The gate is
// added under the operator "system" (the service audits it); ctx bounds
// only the set-up.
func NewDemoGate(ctx context.Context, target string, svc app.GateService, qr QRFunc, o DemoGateOptions) (*DemoGate, error) {
	if svc == nil || qr == nil || target == "" {
		return nil, errors.New("gatesim: demo gate needs a target, a gate service and a QR issuer")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.GateID == "" {
		o.GateID = "demo-gate-1"
	}
	if o.Clock == nil {
		o.Clock = app.SystemClock{}
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if o.ExpiredAge <= 0 {
		o.ExpiredAge = 10 * time.Minute
	}
	keyHex, err := svc.AddGate(o.GateID, "system")
	if app.ErrorCode(err) == app.CodeConflict {
		// Commissioned by an earlier run whose key lived only in that
		// process: revoke the lost key (rotating would leave it valid) and
		// commission the gate again.
		if err = svc.RevokeGate(o.GateID, "system"); err == nil {
			keyHex, err = svc.AddGate(o.GateID, "system")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gatesim: commission demo gate: %w", err)
	}
	key, err := app.ParseGateKey(keyHex)
	if err != nil {
		return nil, err
	}
	return &DemoGate{target: strings.TrimRight(target, "/"), id: o.GateID, qr: qr, clock: o.Clock, client: o.Client, expAge: o.ExpiredAge, key: key}, nil
}

// GateID returns the simulated gate's id.
func (g *DemoGate) GateID() string { return g.id }

// TapCard presents a transit card number at the gate.
func (g *DemoGate) TapCard(ctx context.Context, cardNumber string) (app.DemoGateResult, error) {
	body, err := json.Marshal(map[string]string{"card": cardNumber})
	if err != nil {
		return app.DemoGateResult{}, err
	}
	return g.verify(ctx, body)
}

// ScanRideQR presents a ride code of demo rider riderKey: issued now, or
// (expired) ExpiredAge ago.
func (g *DemoGate) ScanRideQR(ctx context.Context, riderKey string, expired bool) (app.DemoGateResult, error) {
	at := g.clock.Now()
	if expired {
		at = at.Add(-g.expAge)
	}
	tok, err := g.qr(riderKey, at)
	if err != nil {
		return app.DemoGateResult{}, err
	}
	body, err := json.Marshal(map[string]string{"qr": tok})
	if err != nil {
		return app.DemoGateResult{}, err
	}
	return g.verify(ctx, body)
}

var (
	errGateRejected = app.NewError(app.CodeUnauthorized, "gate_rejected",
		"车站拒绝了模拟闸机的请求（密钥已吊销或未知）。", "The station rejected the simulated gate (key revoked or unknown).")
	errBadAnswer = app.NewError(app.CodeInternal, "bad_answer",
		"闸机收到的应答签名错误或格式错误。", "The gate got an answer with a bad signature or shape.")
	errNoService = app.NewError(app.CodeUnavailable, "gate_service",
		"闸机验证服务暂不可用。", "The gate verify service is unavailable.")
)

// answerJSON is the verify service's answer (offline/verify openapi.yaml).
type answerJSON struct {
	RequestID    string `json:"request_id"`
	Decision     string `json:"decision"`
	Reason       string `json:"reason"`
	Mode         string `json:"mode"`
	WouldBe      string `json:"would_be"`
	CacheVersion uint64 `json:"cache_version"`
	CacheAgeS    int64  `json:"cache_age_s"`
}

// verify sends one signed request and checks the signed answer.
func (g *DemoGate) verify(ctx context.Context, body []byte) (app.DemoGateResult, error) {
	g.mu.Lock()
	key := g.key
	g.mu.Unlock()
	reqID := "demo-" + randHex(8)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.target+"/v1/verify", bytes.NewReader(body))
	if err != nil {
		return app.DemoGateResult{}, err
	}
	nonce := SignRequest(req, key, g.id, reqID, body, g.clock.Now())
	start := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		return app.DemoGateResult{}, app.WrapError(err, app.CodeUnavailable, "gate_service", "闸机验证服务暂不可用。", "The gate verify service is unavailable.")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	lat := time.Since(start)
	if err != nil {
		return app.DemoGateResult{}, errNoService
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return app.DemoGateResult{}, errGateRejected
	case http.StatusServiceUnavailable:
		return app.DemoGateResult{}, errNoService
	default:
		return app.DemoGateResult{}, app.NewError(app.CodeInvalid, "gate_request",
			"验证服务拒绝了请求（"+strconv.Itoa(resp.StatusCode)+"）。", "The verify service refused the request ("+strconv.Itoa(resp.StatusCode)+").")
	}
	if !VerifyAnswer(resp, key, nonce, b) {
		return app.DemoGateResult{}, errBadAnswer
	}
	var a answerJSON
	if err := json.Unmarshal(b, &a); err != nil || a.RequestID != reqID {
		return app.DemoGateResult{}, errBadAnswer
	}
	ans := app.GateAnswer{Decision: app.GateDecision(a.Decision), Reason: app.GateReason(a.Reason), Mode: app.GateMode(a.Mode),
		WouldBe: app.GateDecision(a.WouldBe)}
	if ans.WouldBe != "" {
		// In test mode the reason is the would-be decision's reason.
		ans.WouldBeReason = ans.Reason
	}
	return app.DemoGateResult{Answer: ans, CacheAge: time.Duration(a.CacheAgeS) * time.Second, Latency: lat}, nil
}

// SignRequest sets the five gate authentication headers on req for a POST
// of body by gate with key (docs/contracts.md "Gate verify") and returns the nonce, which
// the answer's signature covers.
func SignRequest(req *http.Request, key app.GateKey, gate, requestID string, body []byte, now time.Time) (nonce string) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	nonce = randHex(16)
	mac := app.GateRequestMAC(key, req.Method, req.URL.Path, gate, ts, nonce, requestID, body)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set(app.HeaderGateID, gate)
	h.Set(app.HeaderTimestamp, ts)
	h.Set(app.HeaderNonce, nonce)
	h.Set(app.HeaderRequestID, requestID)
	h.Set(app.HeaderSignature, hex.EncodeToString(mac))
	return nonce
}

// VerifyAnswer checks the Response-Signature of an answer with body b to a
// request signed with nonce.
func VerifyAnswer(resp *http.Response, key app.GateKey, nonce string, b []byte) bool {
	sig, err := hex.DecodeString(resp.Header.Get(app.HeaderRespSig))
	return err == nil && hmac.Equal(sig, app.GateResponseMAC(key, nonce, resp.StatusCode, b))
}
