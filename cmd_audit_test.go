package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
	"stationdesk/offline/outbox/upgrades"
)

// TestAuditCLI: `stationdesk audit verify` prints the check as JSON and
// exits 0 intact, 1 broken, 2 when it cannot run or is misused.
func TestAuditCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Append(ctx, app.AuditEntry{Operator: "1001", Action: app.ActTicketSale,
			Subject: "tok" + strings.Repeat("0", 28) + string(rune('0'+i)), Outcome: app.OutcomeSuccess, Detail: "fare 3"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	otherKeys := t.TempDir()
	if _, err := ledger.LoadOrCreateKeys(otherKeys); err != nil {
		t.Fatal(err)
	}
	noKeys := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(dir, ledger.FileName))
	os.WriteFile(filepath.Join(noKeys, ledger.FileName), data, 0o600)
	// A ledger truncated to 0 bytes: broken, and left at 0 bytes.
	empty := t.TempDir()
	if _, err := ledger.LoadOrCreateKeys(empty); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(empty, ledger.FileName), nil, 0o600)
	t.Cleanup(func() {
		if st, err := os.Stat(filepath.Join(empty, ledger.FileName)); err != nil || st.Size() != 0 {
			t.Errorf("audit verify changed the 0-byte ledger: %v", err)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"OK", []string{"audit", "verify", "--data", dir}, 0, `{"entries":3,"ok":true,"first_broken":0,"reason":"","head":3,`},
		{"ErrWrongKeys", []string{"audit", "verify", "--data", dir, "--keys", otherKeys}, 1, `"reason":"hash_mismatch"`},
		{"ErrNoLedger", []string{"audit", "verify", "--data", t.TempDir()}, 2, `"reason":"ledger_missing"`},
		{"ErrNoKeys", []string{"audit", "verify", "--data", noKeys}, 2, `"reason":"keys_missing"`},
		{"ErrEmptyLedger", []string{"audit", "verify", "--data", empty}, 1, `"reason":"ledger_empty"`},
		{"ErrUsage", []string{"audit", "verify"}, 2, ""},
		{"ErrUnknownCommand", []string{"audit", "rewrite"}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, stdout %s stderr %s; want exit %d and %s", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}

// TestAuditCLIPending: `audit verify` also checks pending.db against the
// ledger: a queued upgrade edited with sqlite makes it exit 1 naming the
// item (table "pending", its key).
func TestAuditCLIPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.OpenDir(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := l.Keys()
	ob, err := upgrades.OpenOutbox(ctx, filepath.Join(dir, upgrades.FileName), upgrades.OutboxOptions{Sealer: keys, MACKey: keys.PendingKey()})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := app.ParseDoc(app.DocCNID, "11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	key := app.NewIdempotencyKey()
	if err := ob.SavePending(ctx, app.PendingUpgrade{Key: key, Kind: app.PendingBind, Operator: "2001", Subject: "card:1000********0001",
		Bind: app.BindRequest{CardNumber: "1000000000000001", Form: app.FormPhysical, Holder: holder, Operator: "2001"}}); err != nil {
		t.Fatal(err)
	}
	// As app.Upgrades audits a queued bind.
	if err := l.Append(ctx, app.AuditEntry{Operator: "2001", Action: app.ActCardBindQueued, Subject: "card:1000********0001",
		Outcome: app.OutcomeSuccess, Detail: "central_offline key=" + key}); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	l.Close()
	if code, out, errOut := runCLI("audit", "verify", "--data", dir); code != 0 || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("untouched: exit %d %s %s", code, out, errOut)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, upgrades.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE pending SET operator = '9999' WHERE key = ?", key); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errOut := runCLI("audit", "verify", "--data", dir)
	if code != 1 || !strings.Contains(out, `"reason":"record_changed","table":"pending","record":"`+key+`"`) {
		t.Fatalf("edited queued upgrade: exit %d %s %s", code, out, errOut)
	}
}
