package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"stationdesk/app"
	"stationdesk/offline/store"
)

// VerifyFolder checks the audit hash chain of dataDir/ledger.db with the
// station keys in keysDir (dataDir when empty). It only reads: the ledger
// is opened with store.OpenReadOnly (never created, migrated or written,
// so a read-only copy can be checked and the file stays byte for byte as
// it was), the key file is never created. A missing ledger is
// CodeNotFound "ledger_missing", missing keys are "keys_missing", a
// damaged file is the store's "db_damaged". A broken chain is not an
// error: it is reported in the result (OK false, FirstBroken, Reason);
// a 0-byte ledger is the result "ledger_empty", a file without the
// ledger's tables "ledger_schema_missing".
func VerifyFolder(ctx context.Context, dataDir, keysDir string) (app.AuditVerifyResult, error) {
	if keysDir == "" {
		keysDir = dataDir
	}
	path := filepath.Join(dataDir, FileName)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			err = app.WrapError(err, app.CodeNotFound, "ledger_missing",
				fmt.Sprintf("找不到账本文件：%s。", path), fmt.Sprintf("Ledger file not found: %s.", path))
		}
		return app.AuditVerifyResult{}, err
	}
	keys, err := LoadKeys(keysDir)
	if err != nil {
		return app.AuditVerifyResult{}, err
	}
	res := app.AuditVerifyResult{OK: true}
	db, closeDB, err := store.OpenReadOnly(ctx, path)
	cp, cpErr := readCheckpoint(dataDir, keys)
	if app.ErrorReason(err) == store.ReasonEmpty {
		res.Broken(app.AuditProblem{Seq: 1, Reason: "ledger_empty"})
		res.Checkpoint, res.CheckpointSeq = "missing", cp.Seq
		if cpErr == nil {
			res.Checkpoint = "ahead"
		}
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer closeDB()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, store.Classify(err, path)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('audit_log', 'audit_head')").Scan(&n); err != nil {
		return res, store.Classify(err, path)
	}
	if n != 2 {
		res.Broken(app.AuditProblem{Seq: 1, Reason: "ledger_schema_missing"})
		return res, nil
	}
	return checkAgainst(ctx, tx, keys, path, cp, cpErr, true)
}

// FolderEntries returns the audit entries of dataDir/ledger.db with one of
// the actions, oldest first, reading only as VerifyFolder does (so `audit
// verify` can check other files against what the chain says, e.g. the
// pending upgrades). A ledger that is missing, empty or without the audit
// table gives no entries and no error: VerifyFolder reports that.
func FolderEntries(ctx context.Context, dataDir string, actions ...app.AuditAction) ([]app.AuditEntry, error) {
	path := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	db, closeDB, err := store.OpenReadOnly(ctx, path)
	if app.ErrorReason(err) == store.ReasonEmpty {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closeDB()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").Scan(&n); err != nil || n == 0 {
		return nil, store.Classify(err, path)
	}
	if len(actions) == 0 {
		return nil, nil
	}
	q := "SELECT seq, at_ms, operator, terminal, action, subject, outcome, detail FROM audit_log WHERE action IN (?" + strings.Repeat(", ?", len(actions)-1) + ") ORDER BY seq"
	args := make([]any, len(actions))
	for i, a := range actions {
		args[i] = string(a)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, store.Classify(err, path)
	}
	defer rows.Close()
	var out []app.AuditEntry
	for rows.Next() {
		var e app.AuditEntry
		var at int64
		var action, outcome string
		if err := rows.Scan(&e.Seq, &at, &e.Operator, &e.Terminal, &action, &e.Subject, &outcome, &e.Detail); err != nil {
			return nil, store.Classify(err, path)
		}
		e.Time, e.Action, e.Outcome = fromMS(at), app.AuditAction(action), app.AuditOutcome(outcome)
		out = append(out, e)
	}
	return out, store.Classify(rows.Err(), path)
}
