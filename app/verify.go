package app

import (
	"context"
	"time"
)

// GateDecision is what the verify service tells a gate.
type GateDecision string

// Gate decisions. Manual means "open only after a staff check"; it is the
// safe answer whenever the station does not know enough to allow or deny.
const (
	DecisionAllow  GateDecision = "allow"
	DecisionDeny   GateDecision = "deny"
	DecisionManual GateDecision = "manual"
)

// GateReason is the stable machine word that explains a GateDecision. It is
// the only detail a gate ever learns: it never carries a name, an ID number
// or a health value beyond the coarse class the gate must display.
type GateReason string

// Reason codes, closed set (documented in offline/verify/openapi.yaml).
const (
	ReasonOK              GateReason = "ok"                // green code, test inside the window
	ReasonNotBound        GateReason = "not_bound"         // card not upgraded (not in the cache)
	ReasonCodeRed         GateReason = "code_red"          // red health code
	ReasonCodeYellow      GateReason = "code_yellow"       // yellow health code
	ReasonNoHealthAccount GateReason = "no_health_account" // visitor without a Beijing health-kit account
	ReasonTestTooOld      GateReason = "test_too_old"      // last negative test outside the NAT window
	ReasonCardBlocked     GateReason = "card_blocked"      // card reported lost or blocked
	ReasonCacheStale      GateReason = "cache_stale"       // no sync for longer than the policy allows
	ReasonCacheEmpty      GateReason = "cache_empty"       // the cache has never been synced
	ReasonQRUnknownIssuer GateReason = "qr_unknown_issuer" // ride code from an issuer the manifest does not list
	ReasonQRExpired       GateReason = "qr_expired"        // ride code past its expiry
	ReasonQRNotYetValid   GateReason = "qr_not_yet_valid"  // ride code issued after the station's now (a clock behind, or forged)
	ReasonQRInvalid       GateReason = "qr_invalid"        // ride code malformed or wrongly signed
	ReasonServiceOff      GateReason = "service_off"       // mode off: staff check everyone
	ReasonBadMedium       GateReason = "bad_medium"        // neither a card number nor a ride code
	ReasonUnavailable     GateReason = "unavailable"       // the cache could not be read
)

// Reasons lists every reason code (for metrics labels and the GUI legend).
var Reasons = []GateReason{ReasonOK, ReasonNotBound, ReasonCodeRed, ReasonCodeYellow, ReasonNoHealthAccount,
	ReasonTestTooOld, ReasonCardBlocked, ReasonCacheStale, ReasonCacheEmpty, ReasonQRUnknownIssuer,
	ReasonQRExpired, ReasonQRInvalid, ReasonServiceOff, ReasonBadMedium, ReasonUnavailable, ReasonQRNotYetValid}

// GateMode is the roll-out mode of the gate service (docs/rules.md).
type GateMode string

// Gate modes. In test mode the gate gets "manual" and the would-be decision,
// so staff still decide (the May 2022 function-test period); in off mode
// every answer is "manual" with reason service_off.
const (
	ModeOff     GateMode = "off"
	ModeTest    GateMode = "test"
	ModeEnforce GateMode = "enforce"
)

// Valid reports whether m is one of the three modes.
func (m GateMode) Valid() bool { return m == ModeOff || m == ModeTest || m == ModeEnforce }

// GateStatus is what the cache knows about one card or ride code. Color,
// LastNegative and Person are sensitive personal information: they are used
// to decide and never leave the station (not in responses, logs or events).
type GateStatus struct {
	Found        bool // the card is bound (or the ride code's person is known)
	Person       uint64
	Blocked      bool
	Color        HealthColor
	LastNegative time.Time
}

// CacheFreshness tells how current the cache is: FreshAsOf is the issue time
// of the newest manifest whose sequence is fully applied (zero: never synced).
type CacheFreshness struct {
	Version   uint64
	FreshAsOf time.Time
}

// Age returns how old the cache is at now (0 when never synced).
func (f CacheFreshness) Age(now time.Time) time.Duration {
	if f.FreshAsOf.IsZero() {
		return 0
	}
	d := now.Sub(f.FreshAsOf)
	if d < 0 {
		return 0
	}
	return d
}

// DecideGate applies the offline decision rules (docs/rules.md "Health status") to one
// looked-up status. It never looks at the mode; ApplyMode does.
//
// Staleness (G9): after p.CacheManualAfter without a sync the answer is
// manual for everyone rather than trusting old data either way; a cache that
// was never synced is manual too. Unbound or unknown cards are manual, not
// deny: un-upgraded cards still work with a staff check (docs/rules.md).
func DecideGate(st GateStatus, fresh CacheFreshness, now time.Time, p Policy) (GateDecision, GateReason) {
	if fresh.FreshAsOf.IsZero() {
		return DecisionManual, ReasonCacheEmpty
	}
	if p.CacheManualAfter > 0 && fresh.Age(now) > p.CacheManualAfter {
		return DecisionManual, ReasonCacheStale
	}
	if !st.Found {
		return DecisionManual, ReasonNotBound
	}
	if st.Blocked {
		return DecisionDeny, ReasonCardBlocked
	}
	switch st.Color {
	case ColorRed:
		return DecisionDeny, ReasonCodeRed
	case ColorYellow:
		return DecisionDeny, ReasonCodeYellow
	case ColorGreen:
	default:
		return DecisionManual, ReasonNoHealthAccount
	}
	if !NATWithin(st.LastNegative, p.NATWindow, now) {
		return DecisionDeny, ReasonTestTooOld
	}
	return DecisionAllow, ReasonOK
}

// GateAnswer is a decision after the mode has been applied. WouldBe and
// WouldBeReason are set in test mode only.
type GateAnswer struct {
	Decision      GateDecision
	Reason        GateReason
	Mode          GateMode
	WouldBe       GateDecision
	WouldBeReason GateReason
}

// ApplyMode turns a raw decision into what the gate is told in mode m.
func ApplyMode(m GateMode, d GateDecision, r GateReason) GateAnswer {
	switch m {
	case ModeEnforce:
		return GateAnswer{Decision: d, Reason: r, Mode: m}
	case ModeTest:
		return GateAnswer{Decision: DecisionManual, Reason: r, Mode: m, WouldBe: d, WouldBeReason: r}
	default:
		return GateAnswer{Decision: DecisionManual, Reason: ReasonServiceOff, Mode: ModeOff}
	}
}

// GateOutlook is what the station's gates do with one card right now, for
// the desk to tell the rider: the answer a gate would be given (the same
// cache look-up, DecideGate and ApplyMode as a verify request) and the facts
// behind it. TestAge and Color are sensitive personal information: they
// are shown to the clerk at the desk and never leave the station.
type GateOutlook struct {
	Answer    GateAnswer
	Bound     bool          // the gate cache has the card bound
	Color     HealthColor   // the cached health code ("" when not bound)
	TestAge   time.Duration // age of the cached last negative test; -1 when none is known
	NATWindow time.Duration // the test window in force
	CacheAge  time.Duration // age of the gate cache (0 when never synced)
}

// GateOutlooker answers what the gates will do with a card right now. The
// verify service implements it; reading it records no gate event. Errors:
// CodeInvalid for a malformed card number, CodeUnavailable when the cache
// cannot be read.
type GateOutlooker interface {
	CardOutlook(ctx context.Context, cardNumber string) (GateOutlook, error)
}

// GateEvent is one answered verify request as recorded in the gate-event
// outbox and shown in the GUI's recent list. CardToken is the keyed card
// hash in hex (never the card number); there is no name, ID or health field.
type GateEvent struct {
	ID           int64
	Gate         string
	RequestID    string
	At           time.Time
	Medium       string // "card" or "qr"
	CardToken    string
	Decision     GateDecision
	Reason       GateReason
	Mode         GateMode
	CacheVersion uint64
	LatencyMicro int64
}

// SyncPhase names what the gate-cache sync is doing.
type SyncPhase string

// Sync phases.
const (
	SyncIdle     SyncPhase = "idle"
	SyncManifest SyncPhase = "manifest"
	SyncSnapshot SyncPhase = "snapshot" // cold build of a new cache file
	SyncDeltas   SyncPhase = "deltas"
	SyncRepair   SyncPhase = "repair"
	SyncError    SyncPhase = "error"
)

// SyncProgress is reported by the sync client to the GUI progress bar and
// the command line. Rows/Total count rows of the current phase; ETA is zero
// when unknown. Detail is user-safe (no personal data): a short English
// phrase ("repairing buckets") the GUI translates. Err is the classified
// cause of SyncError; the GUI shows its user message (UserMessage) in the
// clerk's language, the command line its English one.
type SyncProgress struct {
	Phase      SyncPhase
	Rows       int64
	Total      int64
	Bytes      int64
	ETA        time.Duration
	AppliedSeq uint64
	FreshAsOf  time.Time
	Detail     string
	Err        error
	// ClockSkew is central's clock minus the station's, measured at the
	// last manifest; SkewKnown is false before the first. Beyond
	// GateClockWindow the gates' signed requests and ride codes, checked
	// against the station's clock, start to be refused.
	ClockSkew time.Duration
	SkewKnown bool
}

// SkewTooLarge reports whether the station clock is off central's by more
// than the gate window.
func (p SyncProgress) SkewTooLarge() bool {
	return p.SkewKnown && (p.ClockSkew > GateClockWindow || p.ClockSkew < -GateClockWindow)
}

// GateSync is the sync use case the GUI consumes.
type GateSync interface {
	Progress() SyncProgress
	SyncNow()
}

// GateInfo is one gate as shown on the gates screen.
type GateInfo struct {
	ID       string
	KeyIDs   []int // active key ids (two during a rotation)
	Revoked  bool
	LastSeen time.Time
	PerMin   float64 // requests in the last minute
}

// OutboxStats is the gate-event backlog the GUI shows.
type OutboxStats struct {
	Pending      int64
	OldestUnsent time.Time // zero when nothing is pending
	Uploaded     int64
	LastUpload   time.Time
	LastError    string
}

// GateService is what the gates screen drives. Mode changes and key changes
// are for supervisors; implementations audit them with the operator id.
// AddGate and RotateGate return the new 256-bit key in hex exactly once; it
// is never retrievable afterwards.
type GateService interface {
	Mode() GateMode
	SetMode(m GateMode, operator string) error
	Gates() []GateInfo
	AddGate(id, operator string) (keyHex string, err error)
	RotateGate(id, operator string) (keyHex string, err error)
	RevokeGate(id, operator string) error
	Recent(n int) []GateEvent
	Freshness() CacheFreshness
	// Policy is the rules in force: central's, from the last verified
	// manifest, or DefaultPolicy before the first sync.
	Policy() Policy
	Outbox() OutboxStats
}
