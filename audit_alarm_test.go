package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
)

// TestAuditAlarmOnBrokenChain: a desk opening a ledger whose audit log was
// wiped used to start without a word; now the supervisor's banner text
// names what the start check found.
func TestAuditAlarmOnBrokenChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Append(ctx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Outcome: app.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if alarm := (&deskRuntime{ledger: l}).auditAlarm(); alarm != "" {
		t.Fatalf("alarm on an intact ledger: %q", alarm)
	}
	l.Close()
	raw, err := sql.Open("sqlite", dir+"/"+ledger.FileName)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log", "DELETE FROM audit_head"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	l, err = ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if alarm := (&deskRuntime{ledger: l}).auditAlarm(); !strings.Contains(alarm, "ledger_rolled_back") {
		t.Fatalf("alarm %q, want ledger_rolled_back", alarm)
	}
}
