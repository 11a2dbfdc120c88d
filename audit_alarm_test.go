package main

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/upgrades"
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

// TestAuditAlarmOnTamperedPending: a queued upgrade edited with sqlite
// while the desk was stopped is found by the start check: the supervisor's
// banner names the item and the audit log records it.
func TestAuditAlarmOnTamperedPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	keys := l.Keys()
	path := filepath.Join(dir, upgrades.FileName)
	open := func() *upgrades.Outbox {
		ob, err := upgrades.OpenOutbox(ctx, path, upgrades.OutboxOptions{Sealer: keys, MACKey: keys.PendingKey()})
		if err != nil {
			t.Fatal(err)
		}
		return ob
	}
	ob := open()
	holder, err := app.ParseDoc(app.DocCNID, "11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	key := app.NewIdempotencyKey()
	if err := ob.SavePending(ctx, app.PendingUpgrade{Key: key, Kind: app.PendingBind, Operator: "2001", Subject: "card:1000********0001",
		Bind: app.BindRequest{CardNumber: "1000000000000001", Form: app.FormPhysical, Holder: holder, Operator: "2001"}}); err != nil {
		t.Fatal(err)
	}
	rt := &deskRuntime{ledger: l, log: slog.New(slog.DiscardHandler)}
	if err := rt.checkPending(ctx, ob); err != nil || rt.auditAlarm() != "" {
		t.Fatalf("an intact pending store: alarm %q, %v", rt.auditAlarm(), err)
	}
	ob.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE pending SET subject = 'card:1000********0099' WHERE key = ?", key); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	ob = open()
	defer ob.Close()
	if err := rt.checkPending(ctx, ob); err != nil {
		t.Fatal(err)
	}
	if alarm := rt.auditAlarm(); !strings.Contains(alarm, "record_changed") || !strings.Contains(alarm, "pending/"+key) {
		t.Fatalf("alarm %q, want record_changed naming pending/%s", alarm, key)
	}
	got, err := l.List(ctx, app.AuditFilter{Action: ledger.ActChainBroken})
	if err != nil || len(got) != 1 || got[0].Subject != "pending:"+key {
		t.Fatalf("audit entries %+v, %v", got, err)
	}
}
