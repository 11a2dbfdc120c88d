package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
