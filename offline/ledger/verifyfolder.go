package ledger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"stationdesk/app"
)

// VerifyFolder checks the audit hash chain of dataDir/ledger.db with the
// station keys in keysDir (dataDir when empty). It never creates a file:
// a missing ledger is CodeNotFound "ledger_missing", missing keys are
// "keys_missing", a damaged file is the store's "db_damaged". A broken
// chain is not an error: it is reported in the result (OK false,
// FirstBroken, Reason).
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
	l, err := Open(ctx, path, keys, Options{})
	if err != nil {
		return app.AuditVerifyResult{}, err
	}
	defer l.Close()
	return l.Verify(ctx)
}
