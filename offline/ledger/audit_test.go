package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"stationdesk/app"
	"stationdesk/offline/store"
)

func appendN(t *testing.T, f *fixture, n int) {
	t.Helper()
	for i := range n {
		f.clock.Advance(time.Second)
		if err := f.l.Append(context.Background(), app.AuditEntry{Operator: "1001", Action: app.ActTicketSale,
			Subject: fmt.Sprintf("tok%029d", i), Outcome: app.OutcomeSuccess, Detail: fmt.Sprintf("fare %d", i%7+3)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditAppendAndVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.l.Verify(ctx)
	if err != nil || !res.OK || res.Entries != 0 {
		t.Fatalf("empty log: %+v %v", res, err)
	}
	appendN(t, f, 10)
	res, err = f.l.Verify(ctx)
	if err != nil || !res.OK || res.Entries != 10 || res.FirstBroken != 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	got, err := f.l.List(ctx, app.AuditFilter{Limit: 3})
	if err != nil || len(got) != 3 || got[0].Seq != 10 || got[2].Seq != 8 {
		t.Fatalf("List newest first = %+v, %v", got, err)
	}
	if !got[0].Time.Equal(t0.Add(10*time.Second)) || got[0].Terminal != "T01" {
		t.Errorf("entry time/terminal = %v %q", got[0].Time, got[0].Terminal)
	}
	page, _ := f.l.List(ctx, app.AuditFilter{BeforeSeq: 8, Limit: 100})
	if len(page) != 7 || page[0].Seq != 7 {
		t.Errorf("page before 8 = %d entries starting %d", len(page), page[0].Seq)
	}
	since, _ := f.l.List(ctx, app.AuditFilter{Since: t0.Add(9 * time.Second), Until: t0.Add(10 * time.Second)})
	if len(since) != 1 || since[0].Seq != 9 {
		t.Errorf("time window = %+v", since)
	}
	f.reopen(t)
	appendN(t, f, 2)
	if res, _ := f.l.Verify(ctx); !res.OK || res.Entries != 12 {
		t.Fatalf("after reopen and append: %+v", res)
	}
}

func TestAuditRefusesBadEntries(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		e      app.AuditEntry
		reason string
	}{
		{"ErrFullIDNumber", app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Subject: "11010519491231002X", Outcome: app.OutcomeSuccess}, "audit_pii"},
		{"ErrNoOperator", app.AuditEntry{Action: app.ActTicketSale, Outcome: app.OutcomeSuccess}, "audit_field"},
		{"ErrOutcome", app.AuditEntry{Operator: "1001", Action: app.ActTicketSale, Outcome: "ok"}, "audit_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := app.ErrorReason(f.l.Append(context.Background(), tc.e)); got != tc.reason {
				t.Fatalf("reason = %q, want %q", got, tc.reason)
			}
		})
	}
	if res, _ := f.l.Verify(context.Background()); res.Entries != 0 {
		t.Fatalf("refused entries were stored: %+v", res)
	}
}

func TestAuditTriggersRefuseRewrites(t *testing.T) {
	f := newFixture(t)
	appendN(t, f, 3)
	for _, q := range []string{
		"UPDATE audit_log SET detail = 'x' WHERE seq = 2",
		"DELETE FROM audit_log WHERE seq = 1",
		"DELETE FROM audit_log",
	} {
		err := f.l.WriteTx(context.Background(), func(tx *sql.Tx) error { _, err := tx.Exec(q); return err })
		if err == nil || !store.IsConstraint(err) {
			t.Errorf("%s: err = %v, want a trigger abort", q, err)
		}
	}
	if res, _ := f.l.Verify(context.Background()); !res.OK || res.Entries != 3 {
		t.Fatalf("after refused rewrites: %+v", res)
	}
}

// TestAuditTamperFound edits a closed ledger the way someone with the file
// and the sqlite3 tool (but not the key) could, and checks Verify points
// at the first broken entry.
func TestAuditTamperFound(t *testing.T) {
	const n = 8
	for _, tc := range []struct {
		name        string
		tamper      []string
		firstBroken int64
		reason      string
	}{
		{"EditedDetail", []string{"UPDATE audit_log SET detail = 'fare 0' WHERE seq = 5"}, 5, "hash_mismatch"},
		{"EditedOperator", []string{"UPDATE audit_log SET operator = '2001' WHERE seq = 3"}, 3, "hash_mismatch"},
		{"EditedTime", []string{"UPDATE audit_log SET at_ms = at_ms - 3600000 WHERE seq = 7"}, 7, "hash_mismatch"},
		{"RehashedWithoutKey", []string{"UPDATE audit_log SET detail = 'x', hash = sha256h WHERE seq = 4"}, 4, "hash_mismatch"},
		{"DeletedMiddle", []string{"DELETE FROM audit_log WHERE seq = 4"}, 5, "gap"},
		{"DeletedFirst", []string{"DELETE FROM audit_log WHERE seq = 1"}, 2, "gap"},
		{"PrevHashEdited", []string{"UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 6"}, 6, "prev_mismatch"},
		{"TailCut", []string{"DELETE FROM audit_log WHERE seq > 6"}, 7, "truncated"},
		{"TailCutHeadMoved", []string{"DELETE FROM audit_log WHERE seq > 6", "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_log WHERE seq = 6)"}, 6, "head_mismatch"},
		{"HeadDeleted", []string{"DELETE FROM audit_head"}, 8, "head_missing"},
		{"ForgedAnchor", []string{"INSERT INTO audit_anchor VALUES (1, 3, (SELECT hash FROM audit_log WHERE seq = 3), zeroblob(32))", "DELETE FROM audit_log WHERE seq <= 3"}, 4, "anchor_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			appendN(t, f, n)
			f.l.Close()
			f.l = nil
			raw := f.raw(t)
			mustExec(t, raw, "DROP TRIGGER audit_log_no_update")
			mustExec(t, raw, "DROP TRIGGER audit_log_no_delete")
			for _, q := range tc.tamper {
				if strings.Contains(q, "sha256h") {
					forged := sha256.Sum256([]byte("forged"))
					q = strings.ReplaceAll(q, "sha256h", "?")
					mustExec(t, raw, q, forged[:])
					continue
				}
				mustExec(t, raw, q)
			}
			raw.Close()
			// Checking the folder (`stationdesk audit verify`) finds it.
			res, err := VerifyFolder(context.Background(), f.dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.FirstBroken != tc.firstBroken || res.Reason != tc.reason {
				t.Fatalf("VerifyFolder = %+v, want first_broken %d reason %s", res, tc.firstBroken, tc.reason)
			}
			// So does the desk: at open (against the checkpoint: the break
			// is then recorded in the chain) or in its full check.
			f.reopen(t)
			got, err := f.l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			st := f.l.StartStatus()
			switch {
			case st.Broken && !got.OK:
			case !st.Broken && reflect.DeepEqual(got.Problems, res.Problems):
			default:
				t.Fatalf("after open: start %+v, Verify %+v; want the break found", st, got)
			}
		})
	}
}

// TestVerifyFolder: the check of a data folder finds the ledger and the
// keys itself, never creates either, and names what is missing.
func TestVerifyFolder(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	appendN(t, f, 4)
	f.l.Close()
	f.l = nil
	empty := t.TempDir()
	noKeys := t.TempDir()
	data, _ := os.ReadFile(f.path)
	os.WriteFile(filepath.Join(noKeys, FileName), data, 0o600)
	for _, tc := range []struct {
		name       string
		data, keys string
		ok         bool
		reason     string
	}{
		{"OK", f.dir, "", true, ""},
		{"ErrNoLedger", empty, "", false, "ledger_missing"},
		{"ErrNoKeys", noKeys, "", false, "keys_missing"},
		{"ErrWrongKeys", f.dir, wrongKeysDir(t), false, "hash_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := VerifyFolder(ctx, tc.data, tc.keys)
			reason := res.Reason
			if err != nil {
				reason = app.ErrorReason(err)
			}
			if res.OK != tc.ok || reason != tc.reason {
				t.Fatalf("VerifyFolder = %+v, %v; want ok %v reason %q", res, err, tc.ok, tc.reason)
			}
			if tc.ok && res.Entries != 4 {
				t.Errorf("entries %d, want 4", res.Entries)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, FileName)); err == nil {
		t.Error("VerifyFolder created a ledger in an empty folder")
	}
}

func wrongKeysDir(t *testing.T) string {
	dir := t.TempDir()
	if _, err := LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
