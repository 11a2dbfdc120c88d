package app

import (
	"strings"
	"testing"
	"time"
)

func TestValidateAuditEntry(t *testing.T) {
	ok := AuditEntry{Operator: "1001", Terminal: "T01", Action: ActTicketSale, Subject: "3f9a0c1b2d4e5f60718293a4b5c6d7e8", Outcome: OutcomeSuccess, Detail: "fare 4 CNY, cash"}
	mod := func(f func(*AuditEntry)) AuditEntry { e := ok; f(&e); return e }
	for _, tc := range []struct {
		name   string
		e      AuditEntry
		reason string
	}{
		{"OK", ok, ""},
		{"OKMaskedID", mod(func(e *AuditEntry) { e.Subject = "1**************02X" }), ""},
		{"OKLongDigitRunWithoutCheck", mod(func(e *AuditEntry) { e.Detail = "order 110105194912310021 ref" }), ""},
		{"ErrFullIDInSubject", mod(func(e *AuditEntry) { e.Subject = "11010519491231002X" }), "audit_pii"},
		{"ErrFullIDLowerX", mod(func(e *AuditEntry) { e.Subject = "11010519491231002x" }), "audit_pii"},
		{"ErrFullIDInDetail", mod(func(e *AuditEntry) { e.Detail = "buyer 11010519491231002X paid" }), "audit_pii"},
		{"ErrFullIDInOperator", mod(func(e *AuditEntry) { e.Operator = "11010519491231002X" }), "audit_pii"},
		{"ErrNoOperator", mod(func(e *AuditEntry) { e.Operator = "" }), "audit_field"},
		{"ErrBadAction", mod(func(e *AuditEntry) { e.Action = "Sale!" }), "audit_field"},
		{"ErrEmptyAction", mod(func(e *AuditEntry) { e.Action = "" }), "audit_field"},
		{"ErrBadOutcome", mod(func(e *AuditEntry) { e.Outcome = "maybe" }), "audit_field"},
		{"ErrLongDetail", mod(func(e *AuditEntry) { e.Detail = strings.Repeat("x", AuditMaxDetail+1) }), "audit_field"},
		{"ErrNewlineInDetail", mod(func(e *AuditEntry) { e.Detail = "a\nb" }), "audit_field"},
		{"ErrInvalidUTF8", mod(func(e *AuditEntry) { e.Detail = "\xff" }), "audit_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateAuditEntry(tc.e)
			if got := ErrorReason(err); got != tc.reason {
				t.Fatalf("reason = %q, want %q (%v)", got, tc.reason, err)
			}
			if err != nil && strings.Contains(err.Error()+UserMessage(err, LangZH), "11010519491231002") {
				t.Error("error quotes the ID number")
			}
		})
	}
}

func FuzzContainsResidentID(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "x11010519491231002Xy", "110105194912310021", "1101051949123100211", "", "3f9a0c1b2d4e5f60718293a4b5c6d7e8"} {
		f.Add(s)
	}
	// The guard is deliberately broader than ParseDoc (no province list,
	// so permits and foreign PR numbers are caught too); the property
	// checked is that it never misses a number ParseDoc accepts.
	f.Fuzz(func(t *testing.T, s string) {
		got := ContainsResidentID(s)
		for i := 0; i+18 <= len(s); i++ {
			if (i > 0 && isASCIIDigit(s[i-1])) || (i+18 < len(s) && isASCIIDigit(s[i+18])) {
				continue
			}
			if _, err := ParseDocAt(DocCNID, s[i:i+18], time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil && !got {
				t.Fatalf("ContainsResidentID(%q) = false, but it holds a valid ID number", s)
			}
		}
	})
}

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }
