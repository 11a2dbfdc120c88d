package app

import "context"

// Central is what the service desk needs from the city's central backend
// (docs/contracts.md; the contract is offline/central/openapi.yaml). offline/central
// implements it over HTTPS; tests may use the simulator or a fake.
//
// Every method returns *Error values only:
//   - CodeInvalid, CodeNotFound, CodeConflict: central refused; Reason is
//     the contract's machine code (a CentralCode such as "limit_reached").
//   - CodeUnavailable: no answer. Reason CentralOffline means nothing was
//     sent (link down, circuit open) and nothing happened; Reason
//     CentralOutcomeUnknown means the request may or may not have been
//     applied (timeout, reset, truncated or invalid answer): it must be
//     resent later with the same idempotency key, never reported as done or
//     refused. CentralRateLimited means central was busy after retries.
//   - CodeUnauthorized: the station token or certificate was refused.
//
// key is the Idempotency-Key of a state-changing call: create it when the
// form opens (NewIdempotencyKey) and reuse it for every retry and for the
// pending item, so a double click or a resend binds once. Implementations
// must be safe for concurrent use.
type Central interface {
	CardStatus(ctx context.Context, cardNumber string) (CardStatus, error)
	Bind(ctx context.Context, key string, req BindRequest) (BindResult, error)
	Unbind(ctx context.Context, key string, req UnbindRequest) (UnbindResult, error)
	SendProxyCode(ctx context.Context, key string, holder DocNumber) (ProxyCodeSent, error)
	VerifyProxyCode(ctx context.Context, holder DocNumber, code string) error
	PersonBindings(ctx context.Context, doc DocNumber) (PersonBindings, error)
}

// CentralHealth is the health-status query of the central contract (used by
// the ticket window). The answer is sensitive personal information.
type CentralHealth interface {
	HealthStatus(ctx context.Context, doc DocNumber) (HealthStatus, error)
}

// CentralPolicy fetches the thresholds central sets (NAT window, proxy
// limit, cache staleness).
type CentralPolicy interface {
	Policy(ctx context.Context) (Policy, error)
}

// CentralCode is a stable machine code of the central contract's errors
// (openapi.yaml ErrorCode). It is the Reason of the *Error a Central returns.
type CentralCode string

// The contract's error codes, plus the client-side reasons for no answer.
const (
	CentralBadRequest          CentralCode = "bad_request"
	CentralInvalidDocument     CentralCode = "invalid_document"
	CentralInvalidCardNumber   CentralCode = "invalid_card_number"
	CentralInvalidCode         CentralCode = "invalid_code"
	CentralUnauthorized        CentralCode = "unauthorized"
	CentralNotFound            CentralCode = "not_found"
	CentralLimitReached        CentralCode = "limit_reached"
	CentralNotUpgradeable      CentralCode = "card_not_upgradeable"
	CentralBoundToOther        CentralCode = "card_bound_to_other"
	CentralProxyLimitReached   CentralCode = "proxy_limit_reached"
	CentralSpecialCardAuto     CentralCode = "special_card_auto"
	CentralCodeUnavailable     CentralCode = "code_unavailable"
	CentralCodeMismatch        CentralCode = "code_mismatch"
	CentralIdempotencyConflict CentralCode = "idempotency_conflict"
	// CentralConflict is a 409 whose code this desk does not know (a newer
	// central's rule): the request contradicts what central holds.
	CentralConflict        CentralCode = "conflict"
	CentralMissingKey      CentralCode = "missing_idempotency_key"
	CentralTooLarge        CentralCode = "too_large"
	CentralRateLimited     CentralCode = "rate_limited"
	CentralInternal        CentralCode = "internal"
	CentralUnavailableCode CentralCode = "unavailable"

	// Client-side reasons (never sent by central).
	CentralOffline        CentralCode = "offline"         // nothing was sent
	CentralOutcomeUnknown CentralCode = "outcome_unknown" // sent, answer lost: resend with the same key
)

// IsOutcomeUnknown reports whether err says a request may or may not have
// been applied.
func IsOutcomeUnknown(err error) bool {
	return ErrorCode(err) == CodeUnavailable && ErrorReason(err) == string(CentralOutcomeUnknown)
}
