package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stationdesk/app"
	"stationdesk/offline/ledger"
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
