package ledger

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// sampleRecords writes what a shift at the window writes: a shift, a sale
// recorded then issued with its outbox item, a welfare exchange, a manual
// check with its outbox item, and the supervisor account.
func sampleRecords(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	f.supervisor(t)
	sh, err := f.l.OpenShift(ctx, "1001", f.clock.Now(), app.AuditEntry{Operator: "1001", Action: app.ActShiftOpen, Outcome: app.OutcomeSuccess})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []app.SaleRecord{
		{Key: "sale-1", Kind: app.KindSingleJourney, Operator: "1001", ShiftID: sh.ID, BuyerToken: "tok-a", BuyerMasked: "1101**********123X", FareFen: 400, Payment: app.PayCash, TokenSerial: "T1"},
		{Key: "welfare-1", Kind: app.KindWelfare, Operator: "1001", ShiftID: sh.ID, BuyerToken: "tok-b", BuyerMasked: "1101**********4567", FareFen: 300, Payment: app.PayWelfare, TokenSerial: "T2"},
	} {
		if _, _, err := f.l.BeginSale(ctx, s, app.AuditEntry{Operator: "1001", Action: app.ActTicketIssue, Subject: "doc:" + s.BuyerToken, Outcome: app.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		if _, err := f.l.CompleteSale(ctx, s.Key, s.TokenSerial, f.clock.Now(), app.ForwardItem{Kind: app.ForwardSale, Key: "fwd-" + s.Key, Body: []byte(`{"fare":1}`)},
			app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: "doc:" + s.BuyerToken, Outcome: app.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.l.SaveManualCheck(ctx, app.ManualCheckRecord{Key: "chk-1", Operator: "1001", ShiftID: sh.ID, SubjectToken: "tok-c", SubjectMasked: "1101**********0000",
		Decision: app.ManualPass, Reason: "paper_report", Window: app.NATInside, Shown: "{}", Checked: f.clock.Now()},
		app.ForwardItem{Kind: app.ForwardManualCheck, Key: "fwd-chk-1", Body: []byte(`{}`), Personal: "p"},
		app.AuditEntry{Operator: "1001", Action: app.ActManualCheck, Subject: "doc:tok-c", Outcome: app.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
}

// seqOf is the seq of the newest entry naming the record.
func seqOf(t *testing.T, db *sql.DB, table, key string) int64 {
	t.Helper()
	var seq int64
	if err := db.QueryRow("SELECT max(seq) FROM audit_records WHERE tbl = ? AND rec_key = ?", table, key).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestRecordsInChain: editing or deleting a record that matters — with
// the sqlite3 tool, triggers and all, as someone with the file could —
// breaks Verify, which names the table, the record and the entry's seq;
// so does adding a record no entry names. The desk writing more after
// the edit does not make it pass.
func TestRecordsInChain(t *testing.T) {
	for _, tc := range []struct {
		name, table, key, reason string
		tamper                   string
	}{
		{"SaleFare", "sales", "sale-1", "record_changed", "UPDATE sales SET fare_fen = 200 WHERE idem_key = 'sale-1'"},
		{"SalePayment", "sales", "sale-1", "record_changed", "UPDATE sales SET payment = 'mobile' WHERE idem_key = 'sale-1'"},
		{"SaleDeleted", "sales", "sale-1", "record_deleted", "DELETE FROM sales WHERE idem_key = 'sale-1'"},
		{"WelfareDeleted", "sales", "welfare-1", "record_deleted", "DELETE FROM sales WHERE idem_key = 'welfare-1'"},
		{"CheckDecision", "manual_checks", "chk-1", "record_changed", "UPDATE manual_checks SET decision = 'refuse' WHERE idem_key = 'chk-1'"},
		{"CheckDeleted", "manual_checks", "chk-1", "record_deleted", "DELETE FROM manual_checks WHERE idem_key = 'chk-1'"},
		{"OutboxDeleted", "outbox", "fwd-sale-1", "record_deleted", "DELETE FROM outbox WHERE idem_key = 'fwd-sale-1'"},
		{"OutboxBody", "outbox", "fwd-chk-1", "record_changed", `UPDATE outbox SET body = CAST('{"x":1}' AS BLOB) WHERE idem_key = 'fwd-chk-1'`},
		{"OperatorRole", "operators", "9001", "record_changed", "UPDATE operators SET pin_hash = zeroblob(32) WHERE id = '9001'"},
		{"ShiftClosed", "shifts", "1", "record_changed", "UPDATE shifts SET closed_ms = 1 WHERE id = 1"},
		{"SaleForged", "sales", "sale-x", "record_unaudited", `INSERT INTO sales(idem_key, kind, state, operator, terminal, shift_id, buyer_token, buyer_masked, fare_fen, payment, created_ms, updated_ms)
			VALUES ('sale-x', 'single_journey', 'issued', '1001', 'T01', 1, 't', 'm', 100, 'cash', 1, 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			sampleRecords(t, f)
			if res, err := f.l.Verify(ctx); err != nil || !res.OK || res.Records != 8 {
				t.Fatalf("before the edit: %+v %v (want ok, 8 records)", res, err)
			}
			f.l.Close()
			f.l = nil
			raw := f.raw(t)
			want := int64(0)
			if tc.reason != "record_unaudited" {
				want = seqOf(t, raw, tc.table, tc.key)
			}
			mustExec(t, raw, tc.tamper)
			raw.Close()
			for _, stage := range []string{"closed", "after more writes"} {
				got, err := VerifyFolder(ctx, f.dir, "")
				if err != nil {
					t.Fatal(err)
				}
				if got.OK || got.Reason != tc.reason || got.Table != tc.table || got.Record != tc.key || got.FirstBroken != want {
					t.Fatalf("%s: %+v; want %s %s/%s at seq %d", stage, got, tc.reason, tc.table, tc.key, want)
				}
				f.reopen(t)
				appendN(t, f, 2)
				if _, err := f.l.OpenShift(ctx, "1002", f.clock.Now(), app.AuditEntry{Operator: "1002", Action: app.ActShiftOpen, Outcome: app.OutcomeSuccess}); err == nil {
					t.Log("second shift opened")
				}
				f.l.Close()
				f.l = nil
			}
		})
	}
}

// TestRecordsEntryEditedWithRecords: removing a record's line from
// audit_records (to hide a deletion) breaks the entry's chain hash.
func TestRecordsEntryEditedWithRecords(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sampleRecords(t, f)
	f.l.Close()
	f.l = nil
	raw := f.raw(t)
	seq := seqOf(t, raw, "sales", "sale-1")
	mustExec(t, raw, "DROP TRIGGER audit_records_no_delete")
	mustExec(t, raw, "DELETE FROM sales WHERE idem_key = 'sale-1'")
	mustExec(t, raw, "DELETE FROM audit_records WHERE tbl = 'sales' AND rec_key = 'sale-1'")
	raw.Close()
	got, err := VerifyFolder(ctx, f.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	// The first entry that named sale-1 (BeginSale) no longer hashes.
	if got.OK || got.Reason != "hash_mismatch" || got.FirstBroken >= seq {
		t.Fatalf("%+v; want hash_mismatch before seq %d", got, seq)
	}
}

// TestRecordsPurgeKeepsChain: retention deletes old sales, checks and
// forwarded items and the audit prefix; the chain still verifies, and the
// records still covered only by purged entries keep their hash.
func TestRecordsPurgeKeepsChain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sampleRecords(t, f)
	if err := f.l.MarkConfirmedKeys(ctx, []string{"fwd-sale-1", "fwd-welfare-1", "fwd-chk-1"}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t0.AddDate(0, 2, 0), t0.AddDate(1, 1, 0), t0.AddDate(3, 1, 0)} {
		f.clock.Set(at)
		if _, err := f.l.Purge(ctx, at); err != nil {
			t.Fatal(err)
		}
		res, err := f.l.Verify(ctx)
		if err != nil || !res.OK {
			t.Fatalf("after purge at %s: %+v %v", at, res, err)
		}
	}
	// The supervisor's account outlived every entry that named it.
	f.l.Close()
	f.l = nil
	raw := f.raw(t)
	mustExec(t, raw, "UPDATE operators SET role = 'clerk' WHERE id = '9001'")
	raw.Close()
	got, err := VerifyFolder(ctx, f.dir, "")
	if err != nil || got.Reason != "record_changed" || got.Record != "9001" {
		t.Fatalf("%+v %v; want record_changed operators/9001", got, err)
	}
}

// onlyMigrations is the embedded migrations up to and including n.
type onlyMigrations struct {
	fs.FS
	n int
}

func (o onlyMigrations) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := fs.ReadDir(o.FS, name)
	var out []fs.DirEntry
	for _, e := range all {
		if v, err := store.ParseMigrationName(e.Name()); err == nil && v <= o.n {
			out = append(out, e)
		}
	}
	return out, err
}

// TestRecordsMigrateExisting: a ledger written by schema 3 (records, no
// coverage) is taken into the chain when it is opened: one ledger.adopt
// entry covers the existing records, and an edit afterwards is found.
func TestRecordsMigrateExisting(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.l.Close()
	f.l = nil
	dir := t.TempDir()
	f.path = filepath.Join(dir, FileName)
	f.dir = dir
	if _, err := LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	f.keys, _ = LoadKeys(dir)
	old, err := store.Open(ctx, f.path, store.Options{Migrations: onlyMigrations{Migrations(), 3}})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	// Write the records as the old program would have: no audit_records.
	raw := f.raw(t)
	mustExec(t, raw, "INSERT INTO shifts(terminal, operator, opened_ms) VALUES ('T01', '1001', 1)")
	mustExec(t, raw, `INSERT INTO sales(idem_key, kind, state, operator, terminal, shift_id, buyer_token, buyer_masked, fare_fen, payment, created_ms, updated_ms)
		VALUES ('old-sale', 'single_journey', 'issued', '1001', 'T01', 1, 't', 'm', 500, 'cash', 1, 1)`)
	raw.Close()
	f.reopen(t)
	ent, err := f.l.List(ctx, app.AuditFilter{Action: ActLedgerAdopt})
	if err != nil || len(ent) != 1 || !strings.Contains(ent[0].Detail, "2 existing records") {
		t.Fatalf("adopt entries %+v %v", ent, err)
	}
	if res, err := f.l.Verify(ctx); err != nil || !res.OK || res.Records != 2 {
		t.Fatalf("after migration: %+v %v", res, err)
	}
	f.l.Close()
	f.l = nil
	raw = f.raw(t)
	mustExec(t, raw, "UPDATE sales SET fare_fen = 100 WHERE idem_key = 'old-sale'")
	raw.Close()
	if got, err := VerifyFolder(ctx, f.dir, ""); err != nil || got.Reason != "record_changed" || got.Record != "old-sale" {
		t.Fatalf("%+v %v; want record_changed old-sale", got, err)
	}
}
