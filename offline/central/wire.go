package central

import (
	"time"

	"stationdesk/app"
)

// The JSON bodies of the central contract (openapi.yaml). The simulator
// uses the same types, so client and simulator cannot drift apart. Fields
// named doc_number carry personal information: these structs are encoded
// straight into request bodies and never logged.

// WireDoc is a document reference (DocRef). For passports DocNumber is
// "NAT:NUMBER" (app.ParseDoc's passport form), so nationality travels too.
type WireDoc struct {
	DocType   string `json:"doc_type"`
	DocNumber string `json:"doc_number"`
}

// WireError is the body of every non-2xx answer.
type WireError struct {
	Code      string         `json:"code"`
	MessageZH string         `json:"message_zh"`
	MessageEN string         `json:"message_en"`
	Details   map[string]any `json:"details,omitempty"`
}

// WireCardRef names a card.
type WireCardRef struct {
	CardNumber string `json:"card_number"`
}

// WireCardStatus answers /v1/cards/status.
type WireCardStatus struct {
	CardNumber      string `json:"card_number"`
	Kind            string `json:"kind"`
	Form            string `json:"form"`
	City            string `json:"city,omitempty"`
	Upgradeable     bool   `json:"upgradeable"`
	Auto            bool   `json:"auto"`
	Bound           bool   `json:"bound"`
	HolderDocMasked string `json:"holder_doc_masked,omitempty"`
}

// WireProxy is the proxy part of a bind request.
type WireProxy struct {
	Helper WireDoc `json:"helper"`
	Code   string  `json:"code"`
}

// WireBindRequest is the body of POST /v1/bindings.
type WireBindRequest struct {
	CardNumber string     `json:"card_number"`
	Form       string     `json:"form,omitempty"`
	Holder     WireDoc    `json:"holder"`
	Proxy      *WireProxy `json:"proxy,omitempty"`
	Operator   string     `json:"operator,omitempty"`
}

// WireBinding is one binding, masked.
type WireBinding struct {
	CardMasked string    `json:"card_masked"`
	Kind       string    `json:"kind"`
	Form       string    `json:"form"`
	Auto       bool      `json:"auto"`
	ViaProxy   bool      `json:"via_proxy"`
	BoundAt    time.Time `json:"bound_at"`
}

// WireBindResult answers a bind.
type WireBindResult struct {
	Binding         WireBinding `json:"binding"`
	Already         bool        `json:"already"`
	HolderDocMasked string      `json:"holder_doc_masked,omitempty"`
	ProxyUsed       int         `json:"proxy_used,omitempty"`
	ProxyLimit      int         `json:"proxy_limit,omitempty"`
}

// WireUnbindRequest is the body of POST /v1/bindings/unbind.
type WireUnbindRequest struct {
	CardNumber string  `json:"card_number"`
	Holder     WireDoc `json:"holder"`
	Operator   string  `json:"operator,omitempty"`
}

// WireUnbindResult answers an unbind.
type WireUnbindResult struct {
	CardMasked string    `json:"card_masked"`
	UnboundAt  time.Time `json:"unbound_at"`
}

// WireProxyCodeRequest is the body of POST /v1/proxy-codes.
type WireProxyCodeRequest struct {
	Holder WireDoc `json:"holder"`
}

// WireProxyCodeSent answers POST /v1/proxy-codes.
type WireProxyCodeSent struct {
	PhoneMasked string    `json:"phone_masked"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// WireProxyCodeVerify is the body of POST /v1/proxy-codes/verify.
type WireProxyCodeVerify struct {
	Holder WireDoc `json:"holder"`
	Code   string  `json:"code"`
}

// WireValid answers POST /v1/proxy-codes/verify.
type WireValid struct {
	Valid bool `json:"valid"`
}

// WirePersonBindings answers POST /v1/persons/bindings.
type WirePersonBindings struct {
	Bindings   []WireBinding `json:"bindings"`
	ProxyUsed  int           `json:"proxy_used"`
	ProxyLimit int           `json:"proxy_limit"`
}

// WireHealth answers POST /v1/persons/health (sensitive).
type WireHealth struct {
	Color        string     `json:"color"`
	LastNegative *time.Time `json:"last_negative"`
	AsOf         time.Time  `json:"as_of"`
}

// WireWelfare answers POST /v1/welfare/eligibility.
type WireWelfare struct {
	Eligible bool   `json:"eligible"`
	Category string `json:"category"`
	ReasonZH string `json:"reason_zh,omitempty"`
	ReasonEN string `json:"reason_en,omitempty"`
}

// WireSale is the body of POST /v1/records/sales: the app's SaleWire, the
// same record the ledger's outbox holds. The buyer appears only as a keyed
// hash and a masked document.
type WireSale = app.SaleWire

// WireManualCheck is the body of POST /v1/records/manual-checks.
type WireManualCheck struct {
	ID               string     `json:"id"`
	StationID        string     `json:"station_id,omitempty"`
	Operator         string     `json:"operator,omitempty"`
	SubjectToken     string     `json:"subject_token,omitempty"`
	SubjectDocMasked string     `json:"subject_doc_masked,omitempty"`
	ShownColor       string     `json:"shown_color,omitempty"`
	NATTime          *time.Time `json:"nat_time,omitempty"`
	NATIssuer        string     `json:"nat_issuer,omitempty"`
	Decision         string     `json:"decision"`
	Reason           string     `json:"reason,omitempty"`
	CheckedAt        time.Time  `json:"checked_at"`
}

// WireRecordAck answers a record upload.
type WireRecordAck struct {
	ID         string    `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
}

// WireCheckpointAck answers POST /v1/records/checkpoint (the body is an
// app.LedgerCheckpoint).
type WireCheckpointAck struct {
	Seq        int64     `json:"seq"`
	ReceivedAt time.Time `json:"received_at"`
}

// WireGateEvent is one gate verify event.
type WireGateEvent struct {
	ID           int64     `json:"id"`
	GateID       string    `json:"gate_id"`
	GateSeq      int64     `json:"gate_seq,omitempty"`
	TS           time.Time `json:"ts"`
	CardHash     string    `json:"card_hash,omitempty"`
	Decision     string    `json:"decision"`
	Reason       string    `json:"reason,omitempty"`
	Mode         string    `json:"mode,omitempty"`
	CacheVersion int64     `json:"cache_version,omitempty"`
}

// WireGateEventBatch is the body of POST /v1/gate-events.
type WireGateEventBatch struct {
	StationID string          `json:"station_id"`
	Events    []WireGateEvent `json:"events"`
}

// WireGateEventAck answers a gate-event upload.
type WireGateEventAck struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// WirePolicy answers GET /v1/policy.
type WirePolicy struct {
	NATWindowS        int64     `json:"nat_window_s"`
	StatusStaleAfterS int64     `json:"status_stale_after_s"`
	CacheWarnAfterS   int64     `json:"cache_warn_after_s"`
	CacheManualAfterS int64     `json:"cache_manual_after_s"`
	ProxyLimit        int       `json:"proxy_limit"`
	ServerTime        time.Time `json:"server_time"`
}

// PolicyToWire converts an app.Policy.
func PolicyToWire(p app.Policy, now time.Time) WirePolicy {
	return WirePolicy{
		NATWindowS:        int64(p.NATWindow / time.Second),
		StatusStaleAfterS: int64(p.StatusStaleAfter / time.Second),
		CacheWarnAfterS:   int64(p.CacheWarnAfter / time.Second),
		CacheManualAfterS: int64(p.CacheManualAfter / time.Second),
		ProxyLimit:        p.ProxyLimit,
		ServerTime:        now.UTC(),
	}
}

// Policy converts the wire policy to app.Policy.
func (w WirePolicy) Policy() app.Policy {
	return app.Policy{
		NATWindow:        time.Duration(w.NATWindowS) * time.Second,
		StatusStaleAfter: time.Duration(w.StatusStaleAfterS) * time.Second,
		CacheWarnAfter:   time.Duration(w.CacheWarnAfterS) * time.Second,
		CacheManualAfter: time.Duration(w.CacheManualAfterS) * time.Second,
		ProxyLimit:       w.ProxyLimit,
	}
}

// DocToWire encodes a validated document for a request body.
func DocToWire(d app.DocNumber) WireDoc {
	n := d.Reveal()
	if d.Type() == app.DocPassport {
		n = d.Nationality() + ":" + n
	}
	return WireDoc{DocType: string(d.Type()), DocNumber: n}
}

// DocFromWire validates a wire document as app.ParseDocAt does. Errors are
// app errors with CodeInvalid and reason "invalid_document".
func DocFromWire(w WireDoc, now time.Time) (app.DocNumber, error) {
	t, err := app.ParseDocType(w.DocType)
	if err != nil {
		return app.DocNumber{}, app.WrapError(err, app.CodeInvalid, string(app.CentralInvalidDocument), "证件类型无效。", "Invalid document type.")
	}
	d, err := app.ParseDocAt(t, w.DocNumber, now)
	if err != nil {
		return app.DocNumber{}, app.WrapError(err, app.CodeInvalid, string(app.CentralInvalidDocument), "证件号码无效。", "Invalid document number.")
	}
	return d, nil
}

// BindingFromWire converts a wire binding.
func BindingFromWire(w WireBinding) app.Binding {
	return app.Binding{CardMasked: w.CardMasked, Kind: app.CardKind(w.Kind), Form: app.CardForm(w.Form), Auto: w.Auto, ViaProxy: w.ViaProxy, BoundAt: w.BoundAt}
}

// BindingToWire converts an app binding.
func BindingToWire(b app.Binding) WireBinding {
	return WireBinding{CardMasked: b.CardMasked, Kind: string(b.Kind), Form: string(b.Form), Auto: b.Auto, ViaProxy: b.ViaProxy, BoundAt: b.BoundAt.UTC()}
}
