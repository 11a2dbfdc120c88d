package app

import (
	"errors"
	"strings"
	"testing"
)

// TestNewAuditEntry: the anonymous operator is filled in, over-long
// subject and detail are cut to the limits (so the entry still validates),
// and OutcomeOf maps an error to a failure.
func TestNewAuditEntry(t *testing.T) {
	e := NewAuditEntry("", "system", ActConfigChange, strings.Repeat("s", AuditMaxSubject+9), OutcomeOf(errors.New("x")), strings.Repeat("d", AuditMaxDetail+1))
	if e.Operator != "system" || len(e.Subject) != AuditMaxSubject || len(e.Detail) != AuditMaxDetail || e.Outcome != OutcomeFailure {
		t.Errorf("entry %q %d %d %q", e.Operator, len(e.Subject), len(e.Detail), e.Outcome)
	}
	if err := ValidateAuditEntry(e); err != nil {
		t.Errorf("cut entry does not validate: %v", err)
	}
	e = NewAuditEntry("1001", "unknown", ActConfigChange, "card:****1234", OutcomeOf(nil), "ok")
	if e.Operator != "1001" || e.Subject != "card:****1234" || e.Detail != "ok" || e.Outcome != OutcomeSuccess {
		t.Errorf("entry %+v", e)
	}
}
