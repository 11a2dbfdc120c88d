package central

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"stationdesk/app"
)

// CardStatus implements app.Central: what central knows about a card.
// CodeInvalid "invalid_card_number" for a malformed number (checked before
// sending), CodeNotFound when central does not know the card.
func (c *Client) CardStatus(ctx context.Context, number string) (app.CardStatus, error) {
	num, err := app.ParseCardNumber(number)
	if err != nil {
		return app.CardStatus{}, err
	}
	var w WireCardStatus
	if _, err := c.call(ctx, http.MethodPost, "/v1/cards/status", "", WireCardRef{CardNumber: num}, &w); err != nil {
		return app.CardStatus{}, err
	}
	return app.CardStatus{
		Card:            app.Card{Number: w.CardNumber, Kind: app.CardKind(w.Kind), Form: app.CardForm(w.Form), City: w.City, Balance: -1},
		Upgradeable:     w.Upgradeable,
		Auto:            w.Auto,
		Bound:           w.Bound,
		HolderDocMasked: w.HolderDocMasked,
	}, nil
}

// Bind implements app.Central: POST /v1/bindings with Idempotency-Key key.
func (c *Client) Bind(ctx context.Context, key string, req app.BindRequest) (app.BindResult, error) {
	if key == "" {
		return app.BindResult{}, app.NewError(app.CodeInternal, "missing_key", "缺少幂等键（程序错误）。", "Missing idempotency key (a bug).")
	}
	body := WireBindRequest{CardNumber: req.CardNumber, Form: string(req.Form), Holder: DocToWire(req.Holder), Operator: req.Operator}
	if req.Proxy() {
		body.Proxy = &WireProxy{Helper: DocToWire(req.Helper), Code: req.Code}
	}
	var w WireBindResult
	if _, err := c.call(ctx, http.MethodPost, "/v1/bindings", key, body, &w); err != nil {
		return app.BindResult{}, err
	}
	return app.BindResult{Binding: BindingFromWire(w.Binding), Already: w.Already, HolderDocMasked: w.HolderDocMasked, ProxyUsed: w.ProxyUsed, ProxyLimit: w.ProxyLimit}, nil
}

// Unbind implements app.Central: POST /v1/bindings/unbind.
func (c *Client) Unbind(ctx context.Context, key string, req app.UnbindRequest) (app.UnbindResult, error) {
	if key == "" {
		return app.UnbindResult{}, app.NewError(app.CodeInternal, "missing_key", "缺少幂等键（程序错误）。", "Missing idempotency key (a bug).")
	}
	var w WireUnbindResult
	if _, err := c.call(ctx, http.MethodPost, "/v1/bindings/unbind", key, WireUnbindRequest{CardNumber: req.CardNumber, Holder: DocToWire(req.Holder), Operator: req.Operator}, &w); err != nil {
		return app.UnbindResult{}, err
	}
	return app.UnbindResult{CardMasked: w.CardMasked, UnboundAt: w.UnboundAt}, nil
}

// SendProxyCode implements app.Central: asks central to send a code to
// the holder's phone.
func (c *Client) SendProxyCode(ctx context.Context, key string, holder app.DocNumber) (app.ProxyCodeSent, error) {
	var w WireProxyCodeSent
	if _, err := c.call(ctx, http.MethodPost, "/v1/proxy-codes", key, WireProxyCodeRequest{Holder: DocToWire(holder)}, &w); err != nil {
		return app.ProxyCodeSent{}, err
	}
	return app.ProxyCodeSent{PhoneMasked: w.PhoneMasked, ExpiresAt: w.ExpiresAt}, nil
}

// VerifyProxyCode implements app.Central: nil when the code is right,
// CodeInvalid "code_mismatch" when not.
func (c *Client) VerifyProxyCode(ctx context.Context, holder app.DocNumber, code string) error {
	var w WireValid
	if _, err := c.call(ctx, http.MethodPost, "/v1/proxy-codes/verify", "", WireProxyCodeVerify{Holder: DocToWire(holder), Code: code}, &w); err != nil {
		return err
	}
	if !w.Valid {
		return refusal(http.StatusUnprocessableEntity, string(app.CentralCodeMismatch))
	}
	return nil
}

// PersonBindings implements app.Central.
func (c *Client) PersonBindings(ctx context.Context, doc app.DocNumber) (app.PersonBindings, error) {
	var w WirePersonBindings
	if _, err := c.call(ctx, http.MethodPost, "/v1/persons/bindings", "", DocToWire(doc), &w); err != nil {
		return app.PersonBindings{}, err
	}
	out := app.PersonBindings{ProxyUsed: w.ProxyUsed, ProxyLimit: w.ProxyLimit}
	for _, b := range w.Bindings {
		out.Bindings = append(out.Bindings, BindingFromWire(b))
	}
	return out, nil
}

// HealthStatus implements app.CentralHealth. The answer is sensitive.
func (c *Client) HealthStatus(ctx context.Context, doc app.DocNumber) (app.HealthStatus, error) {
	var w WireHealth
	if _, err := c.call(ctx, http.MethodPost, "/v1/persons/health", "", DocToWire(doc), &w); err != nil {
		return app.HealthStatus{}, err
	}
	h := app.HealthStatus{Color: app.HealthColor(w.Color), AsOf: w.AsOf}
	if w.LastNegative != nil {
		h.LastNegative = *w.LastNegative
	}
	switch h.Color {
	case app.ColorGreen, app.ColorYellow, app.ColorRed, app.ColorNone:
	default:
		return app.HealthStatus{}, errUnknownColor()
	}
	return h, nil
}

func errUnknownColor() error {
	return app.NewError(app.CodeUnavailable, string(app.CentralOutcomeUnknown), "中心系统返回了无法识别的健康状态。", "Central sent a health status we cannot read.")
}

// Welfare is central's welfare-ticket eligibility of a document holder.
type Welfare struct {
	Eligible         bool
	Category         string
	ReasonZH, Reason string
}

// WelfareEligibility asks whether doc's holder may exchange a welfare
// ticket.
func (c *Client) WelfareEligibility(ctx context.Context, doc app.DocNumber) (Welfare, error) {
	var w WireWelfare
	if _, err := c.call(ctx, http.MethodPost, "/v1/welfare/eligibility", "", DocToWire(doc), &w); err != nil {
		return Welfare{}, err
	}
	return Welfare{Eligible: w.Eligible, Category: w.Category, ReasonZH: w.ReasonZH, Reason: w.ReasonEN}, nil
}

// Policy implements app.CentralPolicy: GET /v1/policy. A policy with a
// zero NAT window or proxy limit is refused (the defaults stay in force).
func (c *Client) Policy(ctx context.Context) (app.Policy, error) {
	var w WirePolicy
	if _, err := c.call(ctx, http.MethodGet, "/v1/policy", "", nil, &w); err != nil {
		return app.Policy{}, err
	}
	p := w.Policy()
	if p.NATWindow <= 0 || p.ProxyLimit <= 0 || p.NATWindow > 30*24*time.Hour {
		return app.Policy{}, app.NewError(app.CodeUnavailable, "bad_policy", "中心系统下发的参数无效，继续使用原参数。", "Central sent an invalid policy; the previous one stays in force.")
	}
	return p, nil
}

// RecordSale forwards a sale (store-and-forward). created is
// false when central already had the record (a replay).
func (c *Client) RecordSale(ctx context.Context, key string, s WireSale) (ack WireRecordAck, created bool, err error) {
	st, err := c.call(ctx, http.MethodPost, "/v1/records/sales", key, s, &ack)
	return ack, st == http.StatusCreated, err
}

// RecordManualCheck forwards a manual health check (store-and-forward).
func (c *Client) RecordManualCheck(ctx context.Context, key string, m WireManualCheck) (ack WireRecordAck, created bool, err error) {
	st, err := c.call(ctx, http.MethodPost, "/v1/records/manual-checks", key, m, &ack)
	return ack, st == http.StatusCreated, err
}

// SendCheckpoint sends the station's signed ledger checkpoint (its audit
// chain head) so central holds the anchors too. The key is derived from
// the checkpoint (key set and seq), so a resend is a replay. Central
// refuses a checkpoint behind the one it holds (CodeConflict
// "checkpoint_behind"), one with another key ("checkpoint_key_changed")
// or another hash at the same seq ("checkpoint_forked").
func (c *Client) SendCheckpoint(ctx context.Context, cp app.LedgerCheckpoint) (WireCheckpointAck, error) {
	var ack WireCheckpointAck
	key := "checkpoint:" + cp.KeyID + ":" + strconv.FormatInt(cp.Seq, 10)
	_, err := c.call(ctx, http.MethodPost, "/v1/records/checkpoint", key, cp, &ack)
	return ack, err
}

// HeldCheckpoint asks central for the checkpoint it holds for this
// station (CodeNotFound when none).
func (c *Client) HeldCheckpoint(ctx context.Context) (app.LedgerCheckpoint, error) {
	var cp app.LedgerCheckpoint
	_, err := c.call(ctx, http.MethodGet, "/v1/records/checkpoint", "", nil, &cp)
	return cp, err
}

// UploadGateEvents uploads a batch of gate events; key should be
// "station:first-last".
func (c *Client) UploadGateEvents(ctx context.Context, key string, b WireGateEventBatch) (WireGateEventAck, error) {
	var ack WireGateEventAck
	_, err := c.call(ctx, http.MethodPost, "/v1/gate-events", key, b, &ack)
	return ack, err
}
