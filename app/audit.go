package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode"
	"unicode/utf8"
)

// AuditAction names what happened, as "area.verb". The set is open (other
// use cases add their own); ValidateAuditEntry checks the shape.
type AuditAction string

// Actions recorded by the operator and storage code. GB/T 22239 8.1.4.3
// (docs/storage-privacy.md "Audit log") asks for every login, failure and
// lock-out, account and
// key change, every read of unmasked personal data, every sale, binding,
// refund, health check and rejected gate request.
const (
	ActLogin           AuditAction = "operator.login"   // outcome success / failure (wrong PIN) / denied (locked, disabled)
	ActLogout          AuditAction = "operator.logout"  //
	ActSessionLock     AuditAction = "session.lock"     // idle or manual lock
	ActSessionUnlock   AuditAction = "session.unlock"   //
	ActOperatorCreate  AuditAction = "operator.create"  // subject: the new operator ID
	ActOperatorSetPIN  AuditAction = "operator.set_pin" // subject: operator ID (never the PIN)
	ActOperatorDisable AuditAction = "operator.disable" //
	ActOperatorEnable  AuditAction = "operator.enable"  //
	ActOperatorUnlock  AuditAction = "operator.unlock"  // supervisor lifted a lock-out
	ActShiftOpen       AuditAction = "shift.open"       //
	ActShiftClose      AuditAction = "shift.close"      //
	ActTicketSale      AuditAction = "ticket.sale"      // subject: document token
	ActWelfareExchange AuditAction = "ticket.welfare"   //
	ActManualCheck     AuditAction = "health.manual_check"
	ActCardBind        AuditAction = "card.bind"
	ActCardUnbind      AuditAction = "card.unbind"
	ActRevealPI        AuditAction = "pi.reveal" // someone looked at an unmasked number
	ActOverride        AuditAction = "supervisor.override"
	ActGateReject      AuditAction = "gate.reject"
	ActConfigChange    AuditAction = "config.change"
	ActRetentionPurge  AuditAction = "retention.purge"
)

// AuditOutcome is how an audited action ended.
type AuditOutcome string

// Outcomes. Failure is an attempt that went wrong (wrong PIN, device
// error); Denied is a refusal by policy (locked account, missing right).
const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
	OutcomeDenied  AuditOutcome = "denied"
)

// AuditEntry is one record of the append-only audit log (GB/T 22239
// 8.1.4.3: date/time, user, event type, success or failure, other
// relevant information).
//
// No field may hold personal data in clear: Subject is an opaque token
// (Tokenizer), a masked value or an operator/terminal/record ID; Detail is
// short, safe text (reason codes, counts, fare names) — never a full ID
// number, name, photo or health detail. ValidateAuditEntry rejects entries
// that contain something shaped like a resident ID number, as a backstop.
type AuditEntry struct {
	Seq      int64     // position in the chain, assigned by the log
	Time     time.Time // assigned by the log (its clock) when zero
	Operator string    // operator ID; "system" for unattended actions
	Terminal string    // terminal ID; the log fills in its own when empty
	Action   AuditAction
	Subject  string
	Outcome  AuditOutcome
	Detail   string
}

// NewAuditEntry is the entry of one action: an empty operator becomes
// anonymous ("unknown" for a desk action without a session, "system" for
// an unattended one), and subject and detail are cut to their limits so an
// over-long reason never costs the record. The log fills in time, sequence
// and, when empty, the terminal.
func NewAuditEntry(operator, anonymous string, act AuditAction, subject string, outcome AuditOutcome, detail string) AuditEntry {
	if operator == "" {
		operator = anonymous
	}
	if len(subject) > AuditMaxSubject {
		subject = subject[:AuditMaxSubject]
	}
	if len(detail) > AuditMaxDetail {
		detail = detail[:AuditMaxDetail]
	}
	return AuditEntry{Operator: operator, Action: act, Subject: subject, Outcome: outcome, Detail: detail}
}

// OutcomeOf is the outcome of an action that ended with err.
func OutcomeOf(err error) AuditOutcome {
	if err != nil {
		return OutcomeFailure
	}
	return OutcomeSuccess
}

// appendAudit appends e for a use case and returns a failure classified
// CodeUnavailable "audit_failed" with the given messages: the desk's
// record fails closed, and the caller reports it.
func appendAudit(ctx context.Context, log AuditLog, lg *slog.Logger, e AuditEntry, zh, en string) error {
	if err := log.Append(ctx, e); err != nil {
		lg.Error("audit append failed", "action", e.Action, "err", err)
		return WrapError(err, CodeUnavailable, "audit_failed", zh, en)
	}
	return nil
}

// Limits on audit fields, in bytes.
const (
	AuditMaxOperator = 32
	AuditMaxTerminal = 32
	AuditMaxAction   = 64
	AuditMaxSubject  = 128
	AuditMaxDetail   = 512
)

// ValidateAuditEntry checks an entry before it is appended. Errors are
// CodeInvalid with reason "audit_field" (bad shape or length) or
// "audit_pii" (a value looks like a resident ID number). The offending
// value is never quoted in the error.
func ValidateAuditEntry(e AuditEntry) error {
	bad := func(field string) error {
		return NewError(CodeInvalid, "audit_field",
			fmt.Sprintf("审计记录字段无效：%s。", field),
			fmt.Sprintf("Invalid audit entry field: %s.", field))
	}
	if !validAction(string(e.Action)) {
		return bad("action")
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return bad("outcome")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"operator", e.Operator, AuditMaxOperator},
		{"terminal", e.Terminal, AuditMaxTerminal},
		{"subject", e.Subject, AuditMaxSubject},
		{"detail", e.Detail, AuditMaxDetail},
	} {
		if len(f.v) > f.max || !utf8.ValidString(f.v) {
			return bad(f.name)
		}
		for _, r := range f.v {
			if unicode.IsControl(r) {
				return bad(f.name)
			}
		}
		if ContainsResidentID(f.v) {
			return NewError(CodeInvalid, "audit_pii",
				fmt.Sprintf("审计记录的 %s 字段含有疑似身份证号，已拒绝写入。", f.name),
				fmt.Sprintf("The audit entry's %s field looks like it holds an ID number; refused.", f.name))
		}
	}
	if e.Operator == "" {
		return bad("operator")
	}
	return nil
}

func validAction(a string) bool {
	if len(a) == 0 || len(a) > AuditMaxAction || a[0] < 'a' || a[0] > 'z' {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ContainsResidentID reports whether s contains 17 digits and a check
// character (digit or X) that pass the GB 11643 MOD 11-2 check, carry a
// plausible birth date (years 1900–2099) and are not part of a longer
// digit run. Random hex tokens almost never match (about 1 in 10^7),
// real ID numbers always do.
func ContainsResidentID(s string) bool {
	isDigit := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	for i := 0; i+18 <= len(s); i++ {
		if isDigit(i - 1) {
			continue
		}
		ok := true
		for j := i; j < i+17; j++ {
			if !isDigit(j) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		c := s[i+17]
		if c == 'x' {
			c = 'X'
		}
		if !(c == 'X' || isDigit(i+17)) || isDigit(i+18) {
			continue
		}
		if mod112Check(s[i:i+17]) != c {
			continue
		}
		if _, err := time.Parse("20060102", s[i+6:i+14]); err != nil {
			continue
		}
		if y := s[i+6 : i+8]; y != "19" && y != "20" {
			continue
		}
		return true
	}
	return false
}

// AuditLog is where use cases record what they did. Append assigns Seq
// and (if zero) Time, fills Terminal, chains the entry to the previous one
// and makes it durable before returning. Errors: CodeInvalid (see
// ValidateAuditEntry), CodeUnavailable "disk_full" and other storage
// errors — a use case whose action must be audited stops when Append
// fails. Safe for concurrent use.
type AuditLog interface {
	Append(ctx context.Context, e AuditEntry) error
}

// AuditFilter selects entries for the supervisor's audit browser. Zero
// fields do not filter. Entries come newest first; BeforeSeq pages
// backwards (entries with Seq < BeforeSeq). Limit defaults to 100, at most
// 1000.
type AuditFilter struct {
	Since, Until time.Time // Since inclusive, Until exclusive
	Operator     string
	Action       AuditAction
	Outcome      AuditOutcome
	BeforeSeq    int64
	Limit        int
}

// AuditVerifyResult is the outcome of checking the hash chain. Entries is
// the number of entries checked; FirstBroken is the sequence number of
// the first entry whose chain does not hold (0 when the chain is intact);
// Reason says why ("hash_mismatch", "prev_mismatch", "gap", "head_mismatch",
// "record_changed", "record_deleted", "ledger_rolled_back", …). Table and
// Record name the record (a ledger table and its key, never personal data)
// when the first problem is about one. Problems lists every problem found,
// at most AuditMaxProblems. Checkpoint is the state of the signed chain
// head kept outside the ledger ("ok", "behind", "missing", "invalid",
// "ahead", "not_checked") and CheckpointSeq the seq it names.
type AuditVerifyResult struct {
	Entries       int            `json:"entries"`
	OK            bool           `json:"ok"`
	FirstBroken   int64          `json:"first_broken"`
	Reason        string         `json:"reason"`
	Table         string         `json:"table,omitempty"`
	Record        string         `json:"record,omitempty"`
	Head          int64          `json:"head"`
	Records       int            `json:"records"`
	Checkpoint    string         `json:"checkpoint,omitempty"`
	CheckpointSeq int64          `json:"checkpoint_seq,omitempty"`
	Problems      []AuditProblem `json:"problems,omitempty"`
}

// AuditMaxProblems caps AuditVerifyResult.Problems.
const AuditMaxProblems = 50

// AuditProblem is one thing that does not hold: the entry seq (0 when no
// entry covers it), the reason and, for a record, its table and key.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
	Table  string `json:"table,omitempty"`
	Record string `json:"record,omitempty"`
}

// Broken records a problem and keeps FirstBroken/Reason/Table/Record on
// the earliest one (the lowest seq; seq 0 sorts after every real entry).
func (r *AuditVerifyResult) Broken(p AuditProblem) {
	if len(r.Problems) < AuditMaxProblems {
		r.Problems = append(r.Problems, p)
	}
	first := r.Reason == ""
	if !first && p.Seq != 0 && (r.FirstBroken == 0 || p.Seq < r.FirstBroken) {
		first = true
	}
	if first {
		r.FirstBroken, r.Reason, r.Table, r.Record = p.Seq, p.Reason, p.Table, p.Record
	}
	r.OK = false
}

// AuditBrowser is what the supervisor's audit screen needs. Both methods
// read only. Verify returns an error only when it could not check (I/O,
// missing key); a broken chain is a result, not an error.
type AuditBrowser interface {
	List(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	Verify(ctx context.Context) (AuditVerifyResult, error)
}
