package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Audit actions of the ticket window (besides ActTicketSale,
// ActWelfareExchange, ActManualCheck, ActOverride, ActShiftOpen/Close).
const (
	ActBuyerCheck  AuditAction = "ticket.id_check" // ID read and health status looked at; subject: document token
	ActTicketIssue AuditAction = "ticket.issue"    // writing the token failed or was resolved
	ActTicketVoid  AuditAction = "ticket.void"     // an incomplete sale was voided
)

// TicketKind is what a window sale sells.
type TicketKind string

// Ticket kinds (the central contract's ticket_kind).
const (
	KindSingleJourney TicketKind = "single_journey" // 单程票
	KindWelfare       TicketKind = "welfare"        // 福利票 exchange
)

// Label returns the kind's name in l.
func (k TicketKind) Label(l Lang) string {
	if k == KindWelfare {
		return langPick(l, "福利票", "Welfare ticket")
	}
	return langPick(l, "单程票", "Single-journey ticket")
}

// Payment is how a ticket was paid.
type Payment string

// Payment methods. PayWelfare is the exchange of a welfare entitlement
// (no money changes hands).
const (
	PayCash    Payment = "cash"
	PayMobile  Payment = "mobile" // QR payment (WeChat Pay / Alipay)
	PayBank    Payment = "bank_card"
	PayWelfare Payment = "welfare"
)

// Payments lists the methods a clerk may choose for a single-journey
// ticket, in display order.
var Payments = []Payment{PayCash, PayMobile, PayBank}

// Label returns the method's name in l.
func (p Payment) Label(l Lang) string {
	switch p {
	case PayCash:
		return langPick(l, "现金", "Cash")
	case PayMobile:
		return langPick(l, "扫码支付", "Mobile payment")
	case PayBank:
		return langPick(l, "银行卡", "Bank card")
	case PayWelfare:
		return langPick(l, "福利兑换", "Welfare exchange")
	}
	return string(p)
}

func (p Payment) valid() bool { return p == PayCash || p == PayMobile || p == PayBank }

func langPick(l Lang, zh, en string) string {
	if l == LangEN {
		return en
	}
	return zh
}

// Explanation texts (Explanation, in upgrade_explain.go) are reused for
// buyer decisions: ZH/EN say what happened, NextZH/NextEN what to do.

// BuyerDecision is what the ID and health check allows.
type BuyerDecision string

// Buyer decisions. Manual means the status is not known well enough (no
// Beijing health-kit account, central unreachable and no fresh status at
// the station): only a manual check can admit the buyer — never a silent
// pass.
const (
	BuyerOK      BuyerDecision = "ok"
	BuyerManual  BuyerDecision = "manual_check"
	BuyerRefused BuyerDecision = "refused"
)

// Health sources: where the status a decision used came from.
const (
	HealthFromCentral = "central"
	HealthFromStation = "station" // the station's last status, within the staleness policy
	HealthFromManual  = "manual"  // a manual check at this window
)

// BuyerCheck is the result of reading a buyer's ID document and looking at
// their health status: the ticket window's "purchase". It is made only by
// Sales.CheckBuyer (or a passed manual check), so a sale without an ID
// read or entry cannot be expressed; it carries the purchase's idempotency
// key, made at the read, so one read sells at most one ticket.
//
// It holds the document number and health status (personal information)
// in unexported fields; fmt, slog and JSON show only the masked document,
// the decision and the reason.
type BuyerCheck struct {
	key        string
	doc        DocNumber
	token      string
	masked     string
	nameMasked string
	source     string
	at         time.Time
	health     HealthStatus
	healthFrom string
	decision   BuyerDecision
	reason     string
	manualOK   bool
	expl       Explanation
}

// IsZero reports whether c is the zero value (no ID read).
func (c BuyerCheck) IsZero() bool { return c.key == "" }

// Key returns the purchase's idempotency key.
func (c BuyerCheck) Key() string { return c.key }

// Doc returns the buyer's document (for a manual check or a welfare query).
func (c BuyerCheck) Doc() DocNumber { return c.doc }

// DocMasked returns the masked document number.
func (c BuyerCheck) DocMasked() string { return c.masked }

// NameMasked returns the masked name.
func (c BuyerCheck) NameMasked() string { return c.nameMasked }

// Token returns the keyed hash of the document.
func (c BuyerCheck) Token() string { return c.token }

// At returns when the ID was read.
func (c BuyerCheck) At() time.Time { return c.at }

// Decision returns what the check allows.
func (c BuyerCheck) Decision() BuyerDecision { return c.decision }

// Reason returns a stable machine word for the decision (e.g. "code_red",
// "nat_outside_window", "status_unavailable", "expired").
func (c BuyerCheck) Reason() string { return c.reason }

// ManualAllowed reports whether a manual check may admit the buyer (a
// visitor, a stale test, central unreachable) — never for a red or yellow
// code or an expired document.
func (c BuyerCheck) ManualAllowed() bool { return c.manualOK }

// HealthSource returns where the status came from (HealthFromCentral,
// HealthFromStation, HealthFromManual) or "".
func (c BuyerCheck) HealthSource() string { return c.healthFrom }

// Health returns the status the decision used (sensitive: show it on the
// clerk's screen only).
func (c BuyerCheck) Health() HealthStatus { return c.health }

// Explanation returns the bilingual message and next step.
func (c BuyerCheck) Explanation() Explanation { return c.expl }

// String is redacted.
func (c BuyerCheck) String() string {
	return fmt.Sprintf("BuyerCheck{%s %s %s}", c.masked, c.decision, c.reason)
}

// GoString is redacted.
func (c BuyerCheck) GoString() string { return "app." + c.String() }

// Format prints String for every verb.
func (c BuyerCheck) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String(), c.GoString()) }

// LogValue logs the masked document, decision and reason.
func (c BuyerCheck) LogValue() slog.Value {
	return slog.GroupValue(slog.String("doc", c.masked), slog.String("decision", string(c.decision)), slog.String("reason", c.reason))
}

// MarshalJSON encodes the redacted view.
func (c BuyerCheck) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"doc": c.masked, "decision": string(c.decision), "reason": c.reason})
}

// SaleState is where a sale record is.
type SaleState string

// Sale states. A sale is written as Issuing before the token is written
// (synchronous=FULL), then Issued with the token serial. IssueFailed is a
// sale whose token could not be written: not complete, retried with the
// same key. Void is an incomplete sale a clerk closed.
const (
	SaleIssuing     SaleState = "issuing"
	SaleIssued      SaleState = "issued"
	SaleIssueFailed SaleState = "issue_failed"
	SaleVoid        SaleState = "void"
)

// SaleRecord is a ticket sale (or welfare exchange) as the ledger keeps
// it. The buyer appears only as BuyerToken (keyed hash) and BuyerMasked.
type SaleRecord struct {
	Key         string
	Kind        TicketKind
	State       SaleState
	Operator    string
	Terminal    string
	ShiftID     int64
	BuyerToken  string
	BuyerMasked string
	DestCode    string
	DestName    string // Chinese name as sold
	FareFen     int64
	Payment     Payment
	Assisted    bool
	OverrideBy  string // supervisor who overrode welfare eligibility
	TokenSerial string // the ticket token's serial
	ValidUntil  time.Time
	Created     time.Time
	Issued      time.Time
	LastError   string // reason of the last failed issue
}

// ForwardItem is what the ledger keeps for the store-and-forward worker:
// Body is the non-personal JSON of the central contract record; Personal
// the fields sealed until central confirms (health details of a check).
type ForwardItem struct {
	Kind     string // ForwardSale or ForwardManualCheck
	Key      string
	Body     []byte
	Personal Sensitive
}

// Forward kinds (ledger outbox kinds of the ticket window).
const (
	ForwardSale        = "sale"
	ForwardManualCheck = "manual_check"
)

// SaleWire is the central contract's SaleRecord (openapi.yaml); the body
// of a ForwardSale item.
type SaleWire struct {
	ID             string    `json:"id"`
	StationID      string    `json:"station_id,omitempty"`
	Operator       string    `json:"operator,omitempty"`
	TicketKind     string    `json:"ticket_kind"`
	FareFen        int64     `json:"fare_fen"`
	Payment        string    `json:"payment,omitempty"`
	BuyerToken     string    `json:"buyer_token,omitempty"`
	BuyerDocMasked string    `json:"buyer_doc_masked,omitempty"`
	Assisted       bool      `json:"assisted"`
	SoldAt         time.Time `json:"sold_at"`
	Extra          SaleExtra `json:"extra,omitzero"`
}

// SaleExtra are the sale's fields beyond the contract's fixed ones (the
// contract's free-form "extra" object).
type SaleExtra struct {
	Dest        string `json:"dest,omitempty"`
	TokenSerial string `json:"token,omitempty"`
	OverrideBy  string `json:"override_by,omitempty"`
}

// MarshalJSON writes the non-empty fields with their keys in sorted order,
// as a JSON object of strings is written by encoding/json. Central compares
// a resent body with the first one byte for byte (idempotency), so a sale
// queued by an older build, whose extra object was re-encoded from a map,
// must still be sent with the same bytes.
func (e SaleExtra) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, 3)
	for k, v := range map[string]string{"dest": e.Dest, "token": e.TokenSerial, "override_by": e.OverrideBy} {
		if v != "" {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Wire returns the record as the central contract's SaleRecord.
func (s SaleRecord) Wire(station string) SaleWire {
	return SaleWire{ID: s.Key, StationID: station, Operator: s.Operator, TicketKind: string(s.Kind), FareFen: s.FareFen,
		Payment: string(s.Payment), BuyerToken: s.BuyerToken, BuyerDocMasked: s.BuyerMasked, Assisted: s.Assisted,
		SoldAt: s.Issued.UTC(), Extra: SaleExtra{Dest: s.DestCode, TokenSerial: s.TokenSerial, OverrideBy: s.OverrideBy}}
}

// TicketStore is the ticket window's durable record (the ledger,
// synchronous=FULL). Every write that takes an AuditEntry commits the
// entry in the same transaction as the change, or neither. Errors are
// *Error: CodeUnavailable "disk_full" (and other storage reasons) when
// nothing was written; CodeConflict for a state the change does not apply
// to. Implementations are safe for concurrent use.
type TicketStore interface {
	// SaveHealth keeps the last status central gave for the document
	// token (sealed at rest; purged after a day). CachedHealth returns it.
	SaveHealth(ctx context.Context, token string, h HealthStatus) error
	CachedHealth(ctx context.Context, token string) (HealthStatus, bool, error)

	// BeginSale writes s (state Issuing) unless a sale with s.Key exists,
	// in which case it returns that one and existing=true, and moves an
	// IssueFailed sale back to Issuing (a retry) with s.TokenSerial.
	BeginSale(ctx context.Context, s SaleRecord, a AuditEntry) (rec SaleRecord, existing bool, err error)
	// CompleteSale marks the sale Issued with the token serial and
	// enqueues fwd, in one transaction.
	CompleteSale(ctx context.Context, key, tokenSerial string, at time.Time, fwd ForwardItem, a AuditEntry) (SaleRecord, error)
	// FailSale marks an Issuing sale IssueFailed with reason.
	FailSale(ctx context.Context, key, reason string, a AuditEntry) error
	// VoidSale marks an Issuing or IssueFailed sale Void.
	VoidSale(ctx context.Context, key, reason string, a AuditEntry) error
	Sale(ctx context.Context, key string) (SaleRecord, bool, error)
	// IncompleteSales lists sales in Issuing or IssueFailed, oldest first.
	IncompleteSales(ctx context.Context) ([]SaleRecord, error)

	// SaveManualCheck writes the check and enqueues fwd; the same key twice
	// keeps the first (created=false).
	SaveManualCheck(ctx context.Context, m ManualCheckRecord, fwd ForwardItem, a AuditEntry) (created bool, err error)

	ShiftStore
}

// BacklogItem is one record waiting to be forwarded to central, as the
// backlog screen lists it (masked: no personal data).
type BacklogItem struct {
	Key       string
	Kind      string // ForwardSale or ForwardManualCheck
	Summary   string // e.g. "single_journey 4元 1**************36"
	State     string // pending, sent, failed
	Attempts  int
	LastError string // reason code
	Created   time.Time
	NextTry   time.Time
}

// BacklogStats summarises the backlog.
type BacklogStats struct {
	Waiting       int       // pending or being sent
	Failed        int       // refused by central: need a person
	Oldest        time.Time // creation time of the oldest waiting item
	LastRound     time.Time // when the forwarder last ran
	LastForwarded int       // items confirmed in the last round
	LastError     string    // why the last round stopped ("" when it finished)
}

// Backlog is the ticket window's store-and-forward queue as the backlog
// screen sees it. Kick asks the forwarder to run now (it never blocks).
type Backlog interface {
	Backlog(ctx context.Context, limit int) ([]BacklogItem, BacklogStats, error)
	Kick()
}
